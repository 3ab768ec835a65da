import type { User as UserDto } from '@parley/protocol';
import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { User } from '../../db/models.js';
import { inTx } from '../../db/unit-of-work.js';
import { notFound } from '../../errors.js';
import { presentUser } from '../users/presenter.js';
import { loadManagedRoom } from './queries.js';

/*
 * Room bans (contract v2, "Room bans"). An owner's kick records one, in the kick's own transaction; while it lasts
 * the user cannot join the room again, nor edit or delete their messages there. The owner lifts it by unbanning,
 * or by adding the user back (an explicit add is the owner's decision to have them). Joins check it under the
 * room's lock (see joinRoomAs), the lock a kick takes too, so a join racing a kick cannot slip in after it.
 */

/** Whether `userId` is banned from `roomId`. */
export async function isBanned(
  ctx: AppContext,
  roomId: number,
  userId: number,
  t?: Transaction,
): Promise<boolean> {
  const ban = await ctx.models.RoomBan.findOne({
    where: { roomId, userId },
    attributes: ['roomId'],
    transaction: t,
  });
  return ban !== null;
}

/**
 * Records that `by` banned `userId` from `roomId`, in the caller's transaction. Banning again keeps the first
 * record (`ON CONFLICT DO NOTHING` / `INSERT OR IGNORE`): a unique violation would abort a PostgreSQL transaction.
 */
export async function recordBan(
  ctx: AppContext,
  t: Transaction,
  roomId: number,
  userId: number,
  by: User,
): Promise<void> {
  await ctx.models.RoomBan.bulkCreate([{ roomId, userId, bannedById: by.id }], {
    ignoreDuplicates: true,
    transaction: t,
  });
}

/** Lifts a ban in the caller's transaction (nothing when there is none). */
export async function liftBan(
  ctx: AppContext,
  t: Transaction,
  roomId: number,
  userId: number,
): Promise<void> {
  await ctx.models.RoomBan.destroy({ where: { roomId, userId }, transaction: t });
}

/**
 * GET /api/chatrooms/:id/bans (owner): the banned users, most recently banned first. Not paged: a ban list grows
 * only by an owner's kicks, one at a time.
 */
export async function listBans(ctx: AppContext, user: User, roomId: number): Promise<UserDto[]> {
  const room = await loadManagedRoom(ctx, user, roomId);
  const bans = await ctx.models.RoomBan.findAll({
    where: { roomId: room.id },
    order: [
      ['createdAt', 'DESC'],
      ['userId', 'DESC'],
    ],
  });
  const users = await ctx.models.User.findAll({ where: { id: bans.map((b) => b.userId) } });
  const byId = new Map(users.map((u) => [u.id, u]));
  return bans.flatMap((b) => {
    const u = byId.get(b.userId);
    return u ? [presentUser(u)] : [];
  });
}

/** DELETE /api/chatrooms/:id/bans/:userId (owner). Idempotent: unbanning someone not banned changes nothing. */
export async function unban(ctx: AppContext, user: User, roomId: number, targetId: number): Promise<void> {
  const room = await loadManagedRoom(ctx, user, roomId);
  if (!(await ctx.models.User.findByPk(targetId, { attributes: ['id'] }))) throw notFound('User not found');
  await inTx(ctx, (t) => liftBan(ctx, t, room.id, targetId));
}
