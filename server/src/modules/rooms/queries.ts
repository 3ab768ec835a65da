import { Op, QueryTypes, type Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Membership, Room, User } from '../../db/models.js';
import { forbidden, notFound } from '../../errors.js';
import { findMembership } from './membership.js';
import { canManage, canSee } from './policy.js';
import { presentRoom } from './presenter.js';

/**
 * A room the user may see, with their membership. Invisible and missing rooms answer alike (404), so a private
 * room's existence does not leak.
 */
export async function loadVisibleRoom(
  ctx: AppContext,
  user: User,
  roomId: number,
  t?: Transaction,
): Promise<{ room: Room; membership: Membership | null }> {
  const room = await ctx.models.Room.findByPk(roomId, { transaction: t });
  if (!room) throw notFound('Room not found');
  const membership = await findMembership(ctx, room.id, user.id, t);
  if (!canSee(room, membership)) throw notFound('Room not found');
  return { room, membership };
}

/** Loads a room the caller must manage: 404 if they cannot see it, 403 if they can but do not own it. */
export async function loadManagedRoom(ctx: AppContext, user: User, roomId: number): Promise<Room> {
  const { room } = await loadVisibleRoom(ctx, user, roomId);
  if (!canManage(room, user)) throw forbidden('Only the room owner may do that');
  return room;
}

/**
 * For reads that check visibility in the same query as their data (one round trip instead of three): the room
 * `$roomId` as `r` joined with `$userId`'s membership, and the columns `isVisibleRow` reads.
 */
export const VISIBLE_ROOM_FROM = `rooms r LEFT JOIN memberships ms ON ms."roomId" = r.id AND ms."userId" = $userId`;
export const VISIBLE_ROOM_COLUMNS = `r.kind AS "roomKind", ms.role AS "memberRole"`;

/** Whether a row carrying VISIBLE_ROOM_COLUMNS may be shown (the same rule as loadVisibleRoom: canSee). */
export function isVisibleRow(row: { roomKind: string; memberRole: Membership['role'] | null }): boolean {
  return canSee({ kind: row.roomKind } as Room, row.memberRole ? { role: row.memberRole } : null);
}

/** What the caller has not read in a room: messages, and those of them that mention the caller. */
export interface UnreadCounts {
  unread: number;
  mentions: number;
}

/**
 * Unread messages per room for `userId`: messages after their read marker that others wrote (system messages
 * and deleted ones do not count), and how many of those mention them. One grouped query over the `(roomId, id)`
 * index: the mention count filters the rows the unread count reads anyway, so it costs no second scan.
 */
export async function unreadCountsWithMentions(
  ctx: AppContext,
  userId: number,
  roomIds?: number[],
): Promise<Map<number, UnreadCounts>> {
  if (roomIds && roomIds.length === 0) return new Map();
  const rows = await ctx.db.sequelize.query<{
    roomId: number | string;
    n: number | string;
    mentioned: number | string;
  }>(
    `SELECT m."roomId" AS "roomId", COUNT(msg.id) AS "n",
            COUNT(CASE WHEN msg.mentions LIKE :mentioned THEN 1 END) AS "mentioned"
       FROM memberships m
       JOIN messages msg ON msg."roomId" = m."roomId" AND msg.id > m."lastReadMessageId"
      WHERE m."userId" = :userId
        ${roomIds ? 'AND m."roomId" IN (:roomIds)' : ''}
        AND msg.kind <> 'system' AND msg."deletedAt" IS NULL
        AND (msg."authorId" IS NULL OR msg."authorId" <> :userId)
      GROUP BY m."roomId"`,
    {
      // messages.mentions is `,12,34,` (messages/mentions.ts): the commas make the id match whole.
      replacements: { userId, roomIds: roomIds ?? [], mentioned: `%,${Number(userId)},%` },
      type: QueryTypes.SELECT,
    },
  );
  return new Map(rows.map((r) => [Number(r.roomId), { unread: Number(r.n), mentions: Number(r.mentioned) }]));
}

/** Unread messages per room for `userId` (see unreadCountsWithMentions). */
export async function unreadCounts(
  ctx: AppContext,
  userId: number,
  roomIds?: number[],
): Promise<Map<number, number>> {
  const counts = await unreadCountsWithMentions(ctx, userId, roomIds);
  return new Map([...counts].map(([roomId, c]) => [roomId, c.unread]));
}

/** The other participant of each direct room (the viewer themself for a note-to-self). */
export async function peersOf(ctx: AppContext, rooms: Room[], viewerId: number): Promise<Map<number, User>> {
  const direct = rooms.filter((r) => r.kind === 'direct');
  if (!direct.length) return new Map();
  const memberships = await ctx.models.Membership.findAll({ where: { roomId: direct.map((r) => r.id) } });
  const peerIdByRoom = new Map<number, number>();
  for (const m of memberships) {
    if (m.userId !== viewerId || !peerIdByRoom.has(m.roomId)) peerIdByRoom.set(m.roomId, m.userId);
  }
  const users = await ctx.models.User.findAll({ where: { id: [...new Set(peerIdByRoom.values())] } });
  const byId = new Map(users.map((u) => [u.id, u]));
  const out = new Map<number, User>();
  for (const [roomId, peerId] of peerIdByRoom) {
    const u = byId.get(peerId);
    if (u) out.set(roomId, u);
  }
  return out;
}

/** Presents rooms as `viewer` sees them: membership, unread and mention counts, notification level, DM peer. */
export async function presentRoomsFor(ctx: AppContext, viewer: User, rooms: Room[]) {
  const ids = rooms.map((r) => r.id);
  const [memberships, unread, peers] = await Promise.all([
    ids.length
      ? ctx.models.Membership.findAll({
          where: { userId: viewer.id, roomId: { [Op.in]: ids } },
          attributes: ['roomId', 'notifications'],
        })
      : [],
    unreadCountsWithMentions(ctx, viewer.id, ids),
    peersOf(ctx, rooms, viewer.id),
  ]);
  const memberOf = new Map(memberships.map((m) => [m.roomId, m]));
  return rooms.map((r) =>
    presentRoom(r, {
      isMember: memberOf.has(r.id),
      unreadCount: unread.get(r.id)?.unread ?? 0,
      mentionCount: unread.get(r.id)?.mentions ?? 0,
      notifications: memberOf.get(r.id)?.notifications ?? 'all',
      peer: peers.get(r.id),
    }),
  );
}
