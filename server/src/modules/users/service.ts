import type { Me, User as UserDto } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { literal, Op, UniqueConstraintError } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { User } from '../../db/models.js';
import { inTx } from '../../db/unit-of-work.js';
import { AppError, notFound } from '../../errors.js';
import { usernameKey } from '../auth/usernames.js';
import { adoptAsAvatar } from '../uploads/service.js';
import { presentMe, presentUser } from './presenter.js';

const emailTaken = () => new AppError('EMAIL_TAKEN', 'That email address is already registered');

/** PATCH /api/users/me */
export async function updateMe(
  ctx: AppContext,
  user: User,
  body: { displayName?: string; email?: string; avatarAttachmentId?: string | null },
): Promise<Me> {
  if (body.email !== undefined && body.email !== user.email) {
    if (await ctx.models.User.count({ where: { email: body.email, id: { [Op.ne]: user.id } } }))
      throw emailTaken();
  }
  // An avatar is an upload of the user's own that stops expiring once adopted.
  if (body.avatarAttachmentId) await adoptAsAvatar(ctx, user, body.avatarAttachmentId);
  try {
    await inTx(ctx, async (t) => {
      if (body.displayName !== undefined) user.displayName = body.displayName;
      if (body.email !== undefined) user.email = body.email;
      if (body.avatarAttachmentId !== undefined) user.avatarAttachmentId = body.avatarAttachmentId;
      await user.save({ transaction: t });
    });
  } catch (err) {
    if (err instanceof UniqueConstraintError) throw emailTaken();
    throw err;
  }
  return presentMe(user);
}

/** A LIKE prefix pattern with `!` as the escape, so a search for `a_b` or `50%` means exactly that. */
const likePrefix = (s: string) => s.replace(/[!%_]/g, (c) => `!${c}`) + '%';

/** GET /api/users?q=&online=: by username or display-name prefix, case-insensitive; `online` filters to who is connected. */
export async function searchUsers(
  ctx: AppContext,
  q: { q?: string; online?: boolean; limit?: number },
): Promise<UserDto[]> {
  const limit = q.limit ?? LIMITS.userSearchDefault;
  const where: Record<string | symbol, unknown> = { releasedAt: null };
  const prefix = q.q?.normalize('NFKC').trim();
  if (prefix) {
    const pattern = ctx.db.sequelize.escape(likePrefix(usernameKey(prefix)));
    where[Op.or] = [
      literal(`"usernameKey" LIKE ${pattern} ESCAPE '!'`),
      literal(`lower("displayName") LIKE ${pattern} ESCAPE '!'`),
    ];
  }
  if (q.online) {
    const ids = (await ctx.presence.onlineUserIds()).map(Number);
    where['id'] = { [Op.in]: ids };
  }
  const users = await ctx.models.User.findAll({ where, order: [['usernameKey', 'ASC']], limit });
  return users.map(presentUser);
}

/** GET /api/users/:id */
export async function getUser(ctx: AppContext, id: number): Promise<UserDto> {
  const user = await ctx.models.User.findByPk(id);
  if (!user) throw notFound('User not found');
  return presentUser(user);
}
