import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Membership, Room, User } from '../../db/models.js';
import { lockRoom, type After } from '../../db/unit-of-work.js';
import { AppError } from '../../errors.js';
import { iso, sid } from '../../http/present.js';
import { presentMessage } from '../messages/presenter.js';
import { appendMessage } from '../messages/log.js';
import { roomNameClaim } from '../names/claims.js';
import { presentUser } from '../users/presenter.js';
import { presentRoom } from './presenter.js';

/*
 * Joining and leaving, shared by room creation, self-join, owner adds, kicks, sign-up (general) and DMs. Each
 * change is written with its system message (the activity log) in the caller's transaction; the broadcasts and
 * socket subscriptions are registered to run after commit.
 */

export const GENERAL_ROOM = 'general';

/**
 * Tells clients a non-direct room appeared or changed: members get it as members; for a public room everyone
 * else gets it too (isMember false). A room that turned private disappears for non-members.
 */
export function announceRoom(
  ctx: AppContext,
  room: Room,
  event: 'room:created' | 'room:updated',
  wasPublic: boolean,
): void {
  ctx.rt.toRoom(room.id, event, presentRoom(room, { isMember: true, unreadCount: 0 }));
  if (room.kind === 'public') {
    const outsiderEvent = wasPublic ? event : 'room:created';
    ctx.rt.toAllButRoom(room.id, outsiderEvent, presentRoom(room, { isMember: false, unreadCount: 0 }));
  } else if (wasPublic) {
    ctx.rt.toAllButRoom(room.id, 'room:deleted', { roomId: String(room.id) });
  }
}

/** Creates `general` on first start. Safe when several nodes start at once (the unique name key decides). */
export async function ensureGeneralRoom(ctx: AppContext): Promise<Room> {
  const existing = await ctx.models.Room.findOne({ where: { nameKey: GENERAL_ROOM } });
  if (existing) return existing;
  try {
    return await ctx.db.tx((t) =>
      ctx.models.Room.create(
        {
          name: GENERAL_ROOM,
          nameKey: GENERAL_ROOM,
          nameSkeleton: roomNameClaim(GENERAL_ROOM),
          description: 'Where everyone lands',
          kind: 'public',
          ownerId: null,
          directKey: null,
          memberCount: 0,
          lastMessageId: null,
          lastMessageAt: null,
        },
        { transaction: t },
      ),
    );
  } catch {
    const raced = await ctx.models.Room.findOne({ where: { nameKey: GENERAL_ROOM } });
    if (!raced) throw new AppError('INTERNAL', 'Could not create the general room');
    return raced;
  }
}

/** Every new user, guests too, lands in `general`. */
export async function joinGeneral(ctx: AppContext, t: Transaction, after: After, user: User): Promise<void> {
  const general = await ctx.models.Room.findOne({ where: { nameKey: GENERAL_ROOM }, transaction: t });
  if (general) await addMembership(ctx, t, after, general, user, { role: 'member' });
}

export async function findMembership(
  ctx: AppContext,
  roomId: number,
  userId: number,
  t?: Transaction,
): Promise<Membership | null> {
  return ctx.models.Membership.findOne({ where: { roomId, userId }, transaction: t });
}

/**
 * Moves the stored member count by `by` and the loaded instance with it. The static form on purpose:
 * `room.increment()` writes PostgreSQL's RETURNING row back into the instance (SQLite does not), so adding the
 * change locally as well counted it twice there, and a later `room.save()` stored the wrong count.
 */
async function bumpMemberCount(ctx: AppContext, t: Transaction, room: Room, by: 1 | -1): Promise<void> {
  await ctx.models.Room.increment('memberCount', { by, where: { id: room.id }, transaction: t });
  room.setDataValue('memberCount', room.memberCount + by);
}

interface AddOptions {
  role: 'owner' | 'member';
  /** Who added the user, when it was not the user themself. */
  by?: User;
  /** DMs do not log joins. */
  silent?: boolean;
}

/** Makes `user` a member of `room` (the caller checked it may). */
export async function addMembership(
  ctx: AppContext,
  t: Transaction,
  after: After,
  room: Room,
  user: User,
  opts: AddOptions,
): Promise<Membership> {
  await lockRoom(ctx, t, room.id);
  const joinedAt = new Date();
  const membership = await ctx.models.Membership.create(
    {
      roomId: room.id,
      userId: user.id,
      role: opts.role,
      joinedAt,
      lastReadMessageId: room.lastMessageId ?? 0,
    },
    { transaction: t },
  );
  await bumpMemberCount(ctx, t, room, +1);
  const system = opts.silent
    ? null
    : await appendMessage(ctx, t, room, {
        authorId: user.id,
        kind: 'system',
        event: 'joined',
        text: opts.by && opts.by.id !== user.id ? `was added by ${opts.by.displayName}` : 'joined the room',
      });
  // Their own join message is not unread for them.
  if (system) membership.lastReadMessageId = system.id;
  if (system) await membership.save({ transaction: t });
  after(() => {
    ctx.rt.subscribe(user.id, room.id);
    if (opts.silent) return;
    ctx.rt.toRoom(room.id, 'room:member-joined', {
      roomId: sid(room.id),
      user: presentUser(user),
      at: iso(joinedAt),
    });
    if (system) ctx.rt.toRoom(room.id, 'message:new', presentMessage(system, user, null));
  });
  return membership;
}

/** Ends `userId`'s membership: they left, or `by` kicked them. An owner who leaves hands the room on. */
export async function removeMembership(
  ctx: AppContext,
  t: Transaction,
  after: After,
  room: Room,
  membership: Membership,
  user: User,
  reason: 'left' | 'kicked',
  by?: User,
): Promise<void> {
  await lockRoom(ctx, t, room.id);
  await membership.destroy({ transaction: t });
  await bumpMemberCount(ctx, t, room, -1);
  const at = new Date();
  const system = await appendMessage(ctx, t, room, {
    authorId: user.id,
    kind: 'system',
    event: reason,
    text: reason === 'kicked' && by ? `was removed by ${by.displayName}` : 'left the room',
  });
  let handedOver = false;
  if (room.ownerId === user.id) {
    const heir = await ctx.models.Membership.findOne({
      where: { roomId: room.id },
      order: [['joinedAt', 'ASC']],
      transaction: t,
    });
    room.ownerId = heir ? heir.userId : null;
    if (heir) await heir.update({ role: 'owner' }, { transaction: t });
    await room.save({ transaction: t });
    handedOver = true;
  }
  after(() => {
    ctx.rt.toRoomAndUsers(room.id, [user.id], 'room:member-left', {
      roomId: sid(room.id),
      userId: sid(user.id),
      at: iso(at),
      reason,
    });
    ctx.revocations.leaveRoom(user.id, room.id);
    ctx.rt.toRoom(room.id, 'message:new', presentMessage(system, user, null));
    if (handedOver) announceRoom(ctx, room, 'room:updated', room.kind === 'public');
  });
}
