import type { Me, User as UserDto } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { literal, Op, UniqueConstraintError, type Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { User } from '../../db/models.js';
import { inTx, type After } from '../../db/unit-of-work.js';
import { AppError, forbidden, notFound } from '../../errors.js';
import { clearNames } from '../auth/service.js';
import { usernameKey } from '../auth/usernames.js';
import { addClaim, displayNameClaim, displayNameTaken, dropClaims } from '../names/claims.js';
import { adoptAsAvatar, discardAttachments } from '../uploads/service.js';
import { decodeUserCursor, encodeUserCursor, onlinePage, type UserPage } from '../presence/service.js';
import { orderKey } from '../presence/store.js';
import { presentMe, presentUser } from './presenter.js';

const emailTaken = () => new AppError('EMAIL_TAKEN', 'That email address is already registered');

/**
 * PATCH /api/users/me. Guests have no email (403): one a guest could claim would keep its owner from registering.
 * Email changes are limited like sign-ins (LIMIT_EMAIL_CHANGE), counted before the look-up: each EMAIL_TAKEN
 * answer tells whether an address has an account.
 */
export async function updateMe(
  ctx: AppContext,
  user: User,
  body: { displayName?: string; email?: string; avatarAttachmentId?: string | null },
): Promise<Me> {
  if (body.email !== undefined && user.isGuest) throw forbidden('Guests have no email; register first');
  if (body.email !== undefined && body.email !== user.email) {
    await ctx.limits.take('emailChange', user.id);
    if (await ctx.models.User.count({ where: { email: body.email, id: { [Op.ne]: user.id } } }))
      throw emailTaken();
  }
  try {
    await inTx(ctx, async (t, after) => {
      const previous = user.avatarAttachmentId;
      const avatar = body.avatarAttachmentId;
      if (avatar !== undefined && avatar !== previous) {
        // An avatar is an upload of the user's own that stops expiring once adopted; the one it replaces (or the
        // one removed with null) goes at once, row and file, so its URL stops working (SECURITY.md T5).
        if (avatar) await adoptAsAvatar(ctx, t, user, avatar);
        if (previous) await discardAttachments(ctx, t, after, { id: previous, ownerId: user.id });
      }
      if (body.displayName !== undefined) {
        await claimDisplayName(ctx, t, after, user, body.displayName);
        user.displayName = body.displayName;
      }
      if (body.email !== undefined) user.email = body.email;
      if (avatar !== undefined) user.avatarAttachmentId = avatar;
      const seen = user.changed('displayName') || user.changed('avatarAttachmentId');
      await user.save({ transaction: t });
      if (seen) {
        // Who shows this user: the members of their rooms (timelines, member lists, DM titles) and their own other
        // tabs. One emit to those channels, so a change costs O(the user's rooms), whatever the number online.
        const rooms = await ctx.models.Membership.findAll({
          where: { userId: user.id },
          attributes: ['roomId'],
          transaction: t,
        });
        const dto = presentUser(user);
        after(() =>
          ctx.rt.toRoomsAndUsers(
            rooms.map((m) => m.roomId),
            [user.id],
            'user:updated',
            dto,
          ),
        );
      }
    });
  } catch (err) {
    if (err instanceof UniqueConstraintError) throw emailTaken();
    throw err;
  }
  return presentMe(user);
}

/**
 * Moves the user's display-name claim to `displayName`: refused (409 CONFLICT) when its skeleton is another user's
 * username or display name; a display name that reads as the user's own username claims nothing of its own.
 */
async function claimDisplayName(
  ctx: AppContext,
  t: Transaction,
  after: After,
  user: User,
  displayName: string,
): Promise<void> {
  const key = displayNameClaim(displayName, user.username);
  if (key) await clearNames(ctx, t, after, [{ key, conflict: displayNameTaken }], { selfId: user.id });
  await dropClaims(ctx, t, user.id, 'display');
  if (key) await addClaim(ctx, t, { key, userId: user.id, kind: 'display' }, displayNameTaken);
}

/** A LIKE prefix pattern with `!` as the escape, so a search for `a_b` or `50%` means exactly that. */
const likePrefix = (s: string) => s.replace(/[!%_]/g, (c) => `!${c}`) + '%';

/** Rows read per round when `q` and `online=true` are combined (see `searchUsers`). */
const ONLINE_SCAN_BATCH = 200;
/** Rounds per request: a page may end early, with `hasMore` and a `next` past the rows looked at. */
const ONLINE_SCAN_ROUNDS = 5;

/**
 * GET /api/users?q=&online=&limit=&after=: by username or display-name prefix, case-insensitive, in (usernameKey,
 * id) order, paged by a cursor on that order. `online=true` alone pages the online list (O(log N + limit));
 * combined with `q` it reads the matches in order and keeps the online ones, looking at no more than
 * ONLINE_SCAN_BATCH × ONLINE_SCAN_ROUNDS rows per request: a page can then hold fewer than `limit` users while
 * `hasMore` is true, and its `next` goes on after the rows it looked at.
 */
export async function searchUsers(
  ctx: AppContext,
  q: { q?: string; online?: boolean; limit?: number; after?: string },
): Promise<UserPage> {
  const limit = q.limit ?? LIMITS.userSearchDefault;
  const prefix = q.q?.normalize('NFKC').trim();
  if (q.online && !prefix) return onlinePage(ctx, limit, q.after);
  const after = decodeUserCursor(q.after);
  const where: Record<string | symbol, unknown> = { releasedAt: null };
  if (prefix) {
    const pattern = ctx.db.sequelize.escape(likePrefix(usernameKey(prefix)));
    where[Op.or] = [
      literal(`"usernameKey" LIKE ${pattern} ESCAPE '!'`),
      literal(`lower("displayName") LIKE ${pattern} ESCAPE '!'`),
    ];
  }
  const read = (from: string | undefined, count: number) => {
    const w: Record<string | symbol, unknown> = { ...where };
    // usernameKey is unique, so it alone orders the list; the id in the cursor is a tie-break that never applies.
    if (from !== undefined) w['usernameKey'] = { [Op.gt]: from.slice(0, from.lastIndexOf(' ')) };
    return ctx.models.User.findAll({
      where: w,
      order: [
        ['usernameKey', 'ASC'],
        ['id', 'ASC'],
      ],
      limit: count,
    });
  };
  if (!q.online) {
    const rows = await read(after, limit + 1);
    return page(rows.slice(0, limit), rows.length > limit);
  }
  const found: User[] = [];
  let from = after;
  for (let round = 0; round < ONLINE_SCAN_ROUNDS; round++) {
    const rows = await read(from, ONLINE_SCAN_BATCH);
    const online = await ctx.presence.filterOnline(rows.map((u) => String(u.id)));
    for (const u of rows) {
      if (!online.has(String(u.id))) continue;
      if (found.length === limit) return page(found, true);
      found.push(u);
    }
    const last = rows[rows.length - 1];
    if (rows.length < ONLINE_SCAN_BATCH || !last) return page(found, false);
    from = orderKey(last.usernameKey, String(last.id));
  }
  // Looked at enough rows for one request: go on from there next time.
  return { users: found.map(presentUser), hasMore: true, next: Buffer.from(from!).toString('base64url') };
}

function page(rows: User[], hasMore: boolean): UserPage {
  const last = rows[rows.length - 1];
  return {
    users: rows.map(presentUser),
    hasMore,
    next: hasMore && last ? encodeUserCursor(last.usernameKey, String(last.id)) : null,
  };
}

/** GET /api/users/:id */
export async function getUser(ctx: AppContext, id: number): Promise<UserDto> {
  const user = await ctx.models.User.findByPk(id);
  if (!user) throw notFound('User not found');
  return presentUser(user);
}
