import type { Room as RoomDto } from '@parley/protocol';
import { Op, UniqueConstraintError } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Room, User } from '../../db/models.js';
import { inTx, lockRoom, type After } from '../../db/unit-of-work.js';
import { AppError, forbidden, notFound } from '../../errors.js';
import { appendMessage } from '../messages/log.js';
import { roomNameClaim } from '../names/claims.js';
import { presentMessage } from '../messages/presenter.js';
import { discardAttachments } from '../uploads/service.js';
import { isBanned, liftBan, recordBan } from './bans.js';
import { addMembership, announceRoom, findMembership, removeMembership } from './membership.js';
import { canJoin, canLeave, canManage, canSelfJoin } from './policy.js';
import { presentRoom } from './presenter.js';
import { loadManagedRoom, loadVisibleRoom, presentRoomsFor } from './queries.js';

const roomNameKey = (name: string) => name.normalize('NFKC').trim().toLowerCase();
const nameTaken = () =>
  new AppError('ROOM_NAME_TAKEN', 'A room with that name (or one that looks like it) already exists');

/**
 * A friendly early answer; the unique indexes on nameKey and nameSkeleton are what decide between two creations at
 * the same moment (their violation is answered the same).
 */
async function assertNameFree(ctx: AppContext, name: string, exceptId?: number): Promise<void> {
  const clash = await ctx.models.Room.findOne({
    where: { [Op.or]: [{ nameKey: roomNameKey(name) }, { nameSkeleton: roomNameClaim(name) }] },
    attributes: ['id'],
  });
  if (clash && clash.id !== exceptId) throw nameTaken();
}

/** GET /api/chatrooms/:id */
export async function getRoom(ctx: AppContext, user: User, roomId: number): Promise<RoomDto> {
  const { room } = await loadVisibleRoom(ctx, user, roomId);
  return (await presentRoomsFor(ctx, user, [room]))[0]!;
}

/** POST /api/chatrooms: the creator owns the room and is its first member. */
export async function createRoom(
  ctx: AppContext,
  user: User,
  body: { name: string; description?: string; kind?: 'public' | 'private' },
): Promise<RoomDto> {
  await assertNameFree(ctx, body.name);
  try {
    const room = await inTx(ctx, async (t, after) => {
      const room = await ctx.models.Room.create(
        {
          name: body.name,
          nameKey: roomNameKey(body.name),
          nameSkeleton: roomNameClaim(body.name),
          description: body.description ?? '',
          kind: body.kind ?? 'public',
          ownerId: user.id,
          directKey: null,
          memberCount: 0,
          lastMessageId: null,
          lastMessageAt: null,
        },
        { transaction: t },
      );
      // Announced before the creator's join is logged, so clients know the room before its first message.
      after(() => {
        ctx.rt.subscribe(user.id, room.id);
        announceRoom(ctx, room, 'room:created', room.kind === 'public');
      });
      await addMembership(ctx, t, after, room, user, { role: 'owner' });
      return room;
    });
    return presentRoom(room, { isMember: true, unreadCount: 0 });
  } catch (err) {
    if (err instanceof UniqueConstraintError) throw nameTaken();
    throw err;
  }
}

/** PATCH /api/chatrooms/:id (owner). A rename is logged in the room's history. */
export async function updateRoom(
  ctx: AppContext,
  user: User,
  roomId: number,
  body: { name?: string; description?: string; kind?: 'public' | 'private' },
): Promise<RoomDto> {
  const room = await loadManagedRoom(ctx, user, roomId);
  const renamed = body.name !== undefined && body.name !== room.name;
  if (renamed) await assertNameFree(ctx, body.name!, room.id);
  const wasPublic = room.kind === 'public';
  try {
    await inTx(ctx, async (t, after) => {
      if (renamed) {
        room.name = body.name!;
        room.nameKey = roomNameKey(body.name!);
        room.nameSkeleton = roomNameClaim(body.name!);
      }
      if (body.description !== undefined) room.description = body.description;
      if (body.kind !== undefined) room.kind = body.kind;
      room.changed('updatedAt', true);
      await room.save({ transaction: t });
      if (renamed) {
        const m = await appendMessage(ctx, t, room, {
          authorId: user.id,
          kind: 'system',
          event: 'room_renamed',
          text: `renamed the room to "${room.name}"`,
        });
        after(() => ctx.rt.toRoom(room.id, 'message:new', presentMessage(m, user, null)));
      }
      after(() => announceRoom(ctx, room, 'room:updated', wasPublic));
    });
  } catch (err) {
    if (err instanceof UniqueConstraintError) throw nameTaken();
    throw err;
  }
  return (await presentRoomsFor(ctx, user, [room]))[0]!;
}

/** DELETE /api/chatrooms/:id (owner): messages, memberships and bans go with it. */
export async function deleteRoom(ctx: AppContext, user: User, roomId: number): Promise<void> {
  const room = await loadManagedRoom(ctx, user, roomId);
  await inTx(ctx, async (t, after) => {
    // Its images go with its messages, at once (docs/SECURITY.md T4); the rows stay, marked, without the room.
    await discardAttachments(ctx, t, after, { roomId: room.id });
    await ctx.models.Attachment.update({ roomId: null }, { where: { roomId: room.id }, transaction: t });
    await ctx.models.Message.destroy({ where: { roomId: room.id }, transaction: t });
    await ctx.models.Membership.destroy({ where: { roomId: room.id }, transaction: t });
    await ctx.models.RoomBan.destroy({ where: { roomId: room.id }, transaction: t });
    await room.destroy({ transaction: t });
    after(() => {
      const payload = { roomId: String(room.id) };
      ctx.rt.toRoom(room.id, 'room:deleted', payload);
      if (room.kind === 'public') ctx.rt.toAllButRoom(room.id, 'room:deleted', payload);
      ctx.revocations.closeRoom(room.id);
    });
  });
}

/**
 * POST /api/chatrooms/:id/members. With no `userId` the caller joins (public rooms); with one, the owner adds
 * that user. Joining a room one is already in changes nothing.
 */
export async function addMember(
  ctx: AppContext,
  user: User,
  roomId: number,
  targetId: number | undefined,
): Promise<RoomDto> {
  const { room, membership } = await loadVisibleRoom(ctx, user, roomId);
  if (room.kind === 'direct') throw forbidden('Direct conversations have exactly two members');
  const self = targetId === undefined || targetId === user.id;
  let target = user;
  if (self) {
    if (!membership && !canSelfJoin(room)) throw notFound('Room not found');
  } else {
    if (!canManage(room, user)) throw forbidden('Only the room owner may add members');
    const found = await ctx.models.User.findByPk(targetId);
    if (!found || found.releasedAt) throw notFound('User not found');
    target = found;
  }
  await joinRoomAs(ctx, room, target, self ? undefined : user);
  return (await presentRoomsFor(ctx, user, [room]))[0]!;
}

/**
 * Adds `target` unless already a member; shared with the socket `room:join`. Someone added to a private room
 * learns of it by `room:created` (before the join is logged): until then it was invisible to them. A banned user
 * joining by themself is refused (403); the owner adding them lifts the ban.
 */
export async function joinRoomAs(ctx: AppContext, room: Room, target: User, by?: User): Promise<void> {
  await inTx(ctx, async (t, after: After) => {
    // The room's lock first (PostgreSQL; SQLite runs one write transaction at a time): a kick takes it before
    // removing the member and recording the ban, so this join reads both after that kick committed, or commits
    // before it and is then undone by it. Never a join that checked before the ban and lands after it.
    await lockRoom(ctx, t, room.id);
    if (await findMembership(ctx, room.id, target.id, t)) return;
    await room.reload({ transaction: t });
    if (by) {
      await liftBan(ctx, t, room.id, target.id);
    } else {
      // A room that turned private meanwhile stays hidden (404); a ban is told as such (403).
      if (!canJoin(room, await isBanned(ctx, room.id, target.id, t)))
        throw canSelfJoin(room)
          ? forbidden('The owner removed you from this room; you may not rejoin it')
          : notFound('Room not found');
    }
    if (room.kind === 'private') {
      after(() =>
        ctx.rt.toUsers([target.id], 'room:created', presentRoom(room, { isMember: true, unreadCount: 0 })),
      );
    }
    await addMembership(ctx, t, after, room, target, { role: 'member', by });
  });
}

/**
 * DELETE /api/chatrooms/:id/members/:userId: leave (yourself) or kick (owner). A kick bans the user from the room,
 * public or private alike (a private room may turn public later); the owner lifts it by unbanning or adding them.
 */
export async function removeMember(
  ctx: AppContext,
  user: User,
  roomId: number,
  targetId: number,
): Promise<void> {
  const { room, membership } = await loadVisibleRoom(ctx, user, roomId);
  const self = targetId === user.id;
  if (self) {
    if (!membership) throw notFound('You are not a member of this room');
    if (!canLeave(room))
      throw forbidden(
        room.kind === 'direct' ? 'Direct conversations cannot be left' : 'Everyone stays in general',
      );
  } else if (!canManage(room, user)) {
    throw forbidden('Only the room owner may remove members');
  }
  const target = self ? user : await ctx.models.User.findByPk(targetId);
  if (!target) throw notFound('User not found');
  await inTx(ctx, async (t, after) => {
    // Locked before reading the membership, as joins do (joinRoomAs).
    await lockRoom(ctx, t, room.id);
    const current = await findMembership(ctx, room.id, target.id, t);
    if (!current) throw notFound('That user is not a member of this room');
    await room.reload({ transaction: t });
    if (!self) await recordBan(ctx, t, room.id, target.id, user);
    await removeMembership(
      ctx,
      t,
      after,
      room,
      current,
      target,
      self ? 'left' : 'kicked',
      self ? undefined : user,
    );
  });
}
