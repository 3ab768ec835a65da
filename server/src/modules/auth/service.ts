import { randomUUID } from 'node:crypto';
import type { Session as SessionDto } from '@parley/protocol';
import { Op, UniqueConstraintError, type Transaction, type WhereOptions } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { User } from '../../db/models.js';
import { inTx, type After } from '../../db/unit-of-work.js';
import { AppError } from '../../errors.js';
import {
  addClaim,
  claimsOn,
  displayNameClaim,
  displayNameTaken,
  dropClaims,
  usernameClaim,
} from '../names/claims.js';
import { usernameSkeleton } from '../names/skeleton.js';
import { joinGeneral } from '../rooms/membership.js';
import { presentMe } from '../users/presenter.js';
import { makeRefreshToken, parseRefreshToken, signAccessToken } from './tokens.js';
import { usernameKey } from './usernames.js';

/** A guest keeps its name this long after its last sign of life, so a reload does not lose it. */
export const GUEST_NAME_HOLD_MS = 60_000;

const taken = () =>
  new AppError('USERNAME_TAKEN', 'That username is taken (or looks too much like one that is)');
// The same words whether the password was wrong or the account refused to check it (see `login`).
const invalidCredentials = () =>
  new AppError(
    'INVALID_CREDENTIALS',
    'Wrong username or password (after too many failed sign-ins an account refuses every password for a while)',
  );
const sessionEnded = () => new AppError('UNAUTHORIZED', 'This session has ended; sign in again');

export interface ClientMeta {
  userAgent?: string;
}

/** A new refresh-token family for `user`, with its first access and refresh tokens. */
async function startSession(
  ctx: AppContext,
  t: Transaction,
  user: User,
  meta: ClientMeta,
): Promise<SessionDto> {
  const session = await ctx.models.Session.create(
    {
      id: randomUUID(),
      userId: user.id,
      generation: 0,
      expiresAt: new Date(Date.now() + ctx.config.refreshTokenTtlSec * 1000),
      revokedAt: null,
      revokedReason: null,
      userAgent: meta.userAgent?.slice(0, 256) ?? null,
    },
    { transaction: t },
  );
  return issueTokens(ctx, user, session.id, 0);
}

function issueTokens(ctx: AppContext, user: User, sessionId: string, generation: number): SessionDto {
  return {
    user: presentMe(user),
    accessToken: signAccessToken(ctx.config, { userId: String(user.id), sessionId }),
    refreshToken: makeRefreshToken(ctx.config.jwtSecret, sessionId, generation),
    expiresIn: ctx.config.accessTokenTtlSec,
  };
}

/** A name to take, with the refusal when someone else holds it. */
export interface WantedName {
  key: string;
  conflict: () => AppError;
}

/**
 * Makes sure nobody but `selfId` holds any of the `wanted` name keys (usernames' and display names' skeletons share
 * name_claims), nor, for a username, its exact key. A guest that has gone quiet gives its name up: it is moved aside
 * and its sessions end. Anyone else holding one answers that name's conflict.
 */
export async function clearNames(
  ctx: AppContext,
  t: Transaction,
  after: After,
  wanted: WantedName[],
  opts: { usernameKey?: string; selfId?: number } = {},
): Promise<void> {
  const claims = await claimsOn(
    ctx,
    t,
    wanted.map((w) => w.key),
  );
  const ids = claims.map((c) => c.userId).filter((id) => id !== opts.selfId);
  const or: WhereOptions<User>[] = [{ id: ids }];
  if (opts.usernameKey !== undefined) or.push({ usernameKey: opts.usernameKey });
  const holders = await ctx.models.User.findAll({ where: { [Op.or]: or }, transaction: t });
  for (const holder of holders) {
    if (holder.id === opts.selfId) continue;
    if (!holder.isGuest || (await guestHoldsName(ctx, holder))) {
      const hit = wanted.find((w) => claims.some((c) => c.key === w.key && c.userId === holder.id));
      throw (hit ?? wanted[0]!).conflict();
    }
    await releaseGuest(ctx, t, after, holder);
  }
}

async function guestHoldsName(ctx: AppContext, guest: User): Promise<boolean> {
  if (await ctx.presence.isOnline(String(guest.id))) return true;
  return guest.lastSeenAt !== null && Date.now() - guest.lastSeenAt.getTime() < GUEST_NAME_HOLD_MS;
}

async function releaseGuest(ctx: AppContext, t: Transaction, after: After, guest: User): Promise<void> {
  guest.usernameKey = guest.usernameSkeleton = `~${guest.id}`;
  // A released guest holds nothing: an email it set (PATCH /users/me) must not block a later registration.
  guest.email = null;
  guest.releasedAt = new Date();
  await guest.save({ transaction: t });
  await dropClaims(ctx, t, guest.id);
  const ids = await revokeSessions(ctx, t, { userId: guest.id }, 'released');
  after(() => ctx.revocations.releaseUser(guest.id, ids));
}

/** Revokes the live sessions matching `where`; returns their ids so their sockets can be told. */
export async function revokeSessions(
  ctx: AppContext,
  t: Transaction,
  where: { userId: number; id?: string | { [Op.ne]: string } },
  reason: string,
): Promise<string[]> {
  const live = await ctx.models.Session.findAll({
    where: { ...where, revokedAt: null },
    attributes: ['id'],
    transaction: t,
  });
  if (!live.length) return [];
  const ids = live.map((s) => s.id);
  await ctx.models.Session.update(
    { revokedAt: new Date(), revokedReason: reason },
    { where: { id: ids }, transaction: t },
  );
  return ids;
}

function mapUnique(err: unknown): never {
  if (err instanceof UniqueConstraintError) {
    const fields = Object.keys(err.fields ?? {}).join(',');
    if (fields.includes('email'))
      throw new AppError('EMAIL_TAKEN', 'That email address is already registered');
    throw taken();
  }
  throw err;
}

async function createUser(
  ctx: AppContext,
  meta: ClientMeta,
  fields: {
    username: string;
    displayName?: string;
    email: string | null;
    passwordHash: string | null;
    isGuest: boolean;
  },
): Promise<SessionDto> {
  try {
    return await inTx(ctx, async (t, after) => {
      const displayName = fields.displayName ?? fields.username;
      const wanted: WantedName[] = [{ key: usernameClaim(fields.username), conflict: taken }];
      const displayKey = displayNameClaim(displayName, fields.username);
      if (displayKey) wanted.push({ key: displayKey, conflict: displayNameTaken });
      await clearNames(ctx, t, after, wanted, { usernameKey: usernameKey(fields.username) });
      if (fields.email && (await ctx.models.User.count({ where: { email: fields.email }, transaction: t }))) {
        throw new AppError('EMAIL_TAKEN', 'That email address is already registered');
      }
      const user = await ctx.models.User.create(
        {
          username: fields.username,
          usernameKey: usernameKey(fields.username),
          usernameSkeleton: usernameSkeleton(fields.username),
          displayName,
          email: fields.email,
          passwordHash: fields.passwordHash,
          isGuest: fields.isGuest,
          avatarAttachmentId: null,
          lastSeenAt: new Date(),
          releasedAt: null,
        },
        { transaction: t },
      );
      // The unique key decides between two look-alikes registered at the same moment.
      for (const [i, w] of wanted.entries())
        await addClaim(ctx, t, { key: w.key, userId: user.id, kind: i ? 'display' : 'username' }, w.conflict);
      await joinGeneral(ctx, t, after, user);
      return startSession(ctx, t, user, meta);
    });
  } catch (err) {
    mapUnique(err);
  }
}

/** POST /api/auth/register */
export async function register(
  ctx: AppContext,
  body: { username: string; email: string; password: string; displayName?: string },
  meta: ClientMeta,
): Promise<SessionDto> {
  const passwordHash = await ctx.passwords.hash(body.password);
  return createUser(ctx, meta, { ...body, passwordHash, isGuest: false });
}

/** POST /api/auth/guest */
export async function guest(
  ctx: AppContext,
  body: { username: string },
  meta: ClientMeta,
): Promise<SessionDto> {
  if (!ctx.config.allowGuests) throw new AppError('FORBIDDEN', 'Guest access is disabled on this server');
  return createUser(ctx, meta, { username: body.username, email: null, passwordHash: null, isGuest: true });
}

/**
 * POST /api/auth/login. Unknown user and wrong password answer alike and take alike long. Every attempt is
 * counted before any hash is computed (so parallel guesses cannot all be evaluated; a success clears the counts),
 * twice (docs/DECISIONS.md D21):
 * - per typed identifier (normalised): over LOGIN_MAX_FAILURES it answers 429. That count is only what the caller
 *   typed, so a 429 says nothing about which account, if any, the identifier belongs to;
 * - per account, whatever identifier reached it: over the limit the password is not checked and the answer is the
 *   wrong-password one, body and time alike (a dummy hash is computed). A 429 here would tell that this email
 *   belongs to that locked username.
 */
export async function login(
  ctx: AppContext,
  body: { username?: string; email?: string; password: string },
  meta: ClientMeta,
): Promise<SessionDto> {
  const ident = (body.username ?? body.email ?? '').normalize('NFKC').trim().toLowerCase();
  await ctx.limits.take('loginIdentifier', ident);
  const found = await ctx.models.User.findOne({
    where: ident.includes('@') ? { email: ident } : { usernameKey: ident },
  });
  const user = found?.passwordHash && !found.releasedAt ? found : null;
  const admitted = user ? (await ctx.limits.consume('loginAccount', user.id)).ok : false;
  const ok = user && admitted ? await ctx.passwords.verify(user.passwordHash!, body.password) : false;
  if (!user || !admitted) await ctx.passwords.burn(body.password);
  if (!ok || !user) throw invalidCredentials();
  await Promise.all([ctx.limits.reset('loginIdentifier', ident), ctx.limits.reset('loginAccount', user.id)]);
  return inTx(ctx, async (t) => {
    user.lastSeenAt = new Date();
    await user.save({ transaction: t });
    return startSession(ctx, t, user, meta);
  });
}

/**
 * POST /api/auth/refresh. Each refresh token works once: the generation moves on atomically, and an authentic
 * token of an older generation means it was stolen or replayed, so the whole family is revoked.
 */
export async function refresh(ctx: AppContext, token: string | undefined): Promise<SessionDto> {
  const parsed = token ? parseRefreshToken(ctx.config.jwtSecret, token) : null;
  if (!parsed) throw new AppError('UNAUTHORIZED', 'The refresh token is not valid');
  return inTx(ctx, async (t, after) => {
    const session = await ctx.models.Session.findByPk(parsed.sessionId, { transaction: t });
    if (!session || session.revokedAt || session.expiresAt.getTime() <= Date.now()) throw sessionEnded();
    const [moved] = await ctx.models.Session.update(
      {
        generation: parsed.generation + 1,
        expiresAt: new Date(Date.now() + ctx.config.refreshTokenTtlSec * 1000),
      },
      { where: { id: session.id, generation: parsed.generation, revokedAt: null }, transaction: t },
    );
    if (moved !== 1) {
      await ctx.models.Session.update(
        { revokedAt: new Date(), revokedReason: 'reuse' },
        { where: { id: session.id }, transaction: t },
      );
      ctx.logger.warn({ sessionId: session.id }, 'refresh token reused; session revoked');
      after(() => ctx.revocations.endSessions([session.id], 'reuse'));
      return null;
    }
    const user = await ctx.models.User.findByPk(session.userId, { transaction: t });
    if (!user || user.releasedAt) throw sessionEnded();
    user.lastSeenAt = new Date();
    await user.save({ transaction: t });
    return issueTokens(ctx, user, session.id, parsed.generation + 1);
  }).then((result) => {
    // Thrown outside the transaction so that the revocation above commits.
    if (!result)
      throw new AppError('UNAUTHORIZED', 'This refresh token was already used; the session is revoked');
    return result;
  });
}

/** POST /api/auth/logout: ends the session named by the access token and/or the refresh token. */
export async function logout(
  ctx: AppContext,
  accessSessionId: string | null,
  accessUserId: number | null,
  refreshToken: string | undefined,
): Promise<void> {
  const parsed = refreshToken ? parseRefreshToken(ctx.config.jwtSecret, refreshToken) : null;
  if (!accessSessionId && !parsed) throw new AppError('UNAUTHORIZED', 'Nothing to sign out of');
  await inTx(ctx, async (t, after) => {
    const ids = new Set<string>();
    if (accessSessionId && accessUserId !== null) {
      for (const id of await revokeSessions(ctx, t, { userId: accessUserId, id: accessSessionId }, 'logout'))
        ids.add(id);
    }
    if (parsed) {
      const s = await ctx.models.Session.findByPk(parsed.sessionId, { transaction: t });
      // A refresh token of someone else's session (with another user's access token) is not ours to end.
      if (s && (accessUserId === null || s.userId === accessUserId)) {
        for (const id of await revokeSessions(ctx, t, { userId: s.userId, id: s.id }, 'logout')) ids.add(id);
      }
    }
    after(() => ctx.revocations.endSessions([...ids], 'logout'));
  });
}

/** POST /api/auth/logout-all: ends every session of the user, the caller's own included ("sign out everywhere"). */
export async function logoutAll(ctx: AppContext, userId: number): Promise<void> {
  await inTx(ctx, async (t, after) => {
    const ids = await revokeSessions(ctx, t, { userId }, 'logout_all');
    after(() => ctx.revocations.endSessions(ids, 'logout_all'));
  });
}

/** POST /api/users/me/password: every other session of the user is revoked. */
export async function changePassword(
  ctx: AppContext,
  user: User,
  sessionId: string,
  body: { currentPassword: string; newPassword: string },
): Promise<void> {
  // Counted before the hash is checked, so parallel guesses cannot all be evaluated; a success clears the count.
  await ctx.limits.take('passwordCheck', user.id);
  if (!user.passwordHash || !(await ctx.passwords.verify(user.passwordHash, body.currentPassword))) {
    throw new AppError('INVALID_CREDENTIALS', 'The current password is wrong');
  }
  await ctx.limits.reset('passwordCheck', user.id);
  const passwordHash = await ctx.passwords.hash(body.newPassword);
  await inTx(ctx, async (t, after) => {
    await ctx.models.User.update({ passwordHash }, { where: { id: user.id }, transaction: t });
    const ids = await revokeSessions(
      ctx,
      t,
      { userId: user.id, id: { [Op.ne]: sessionId } },
      'password_changed',
    );
    after(() => ctx.revocations.endSessions(ids, 'password_changed'));
  });
}
