import type { AppContext } from '../context.js';
import { channel, type IoServer } from '../realtime/channels.js';
import { roomIdOf } from './deliveries.js';

/** Ids per `IN (…)` list: one query per this many sessions or users, whatever the number of sockets. */
const CHUNK = 1_000;

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export interface Reconciled {
  sessionsEnded: number;
  joined: number;
  left: number;
}

/**
 * Brings this node's sockets in line with the database after a Redis outage, during which the `session:ended`,
 * `socketsJoin` and `socketsLeave` other nodes sent never arrived: sockets of sessions revoked meanwhile are told
 * (`session:ended`, with the revocation's reason) and disconnected; the others join the rooms their user became a
 * member of and leave those the user left, was removed from, or that were deleted.
 *
 * One query per 1,000 sessions and one per 1,000 users, run once per outage. A room change broadcast while this
 * runs is not undone: a room the socket joined after the snapshot taken below is never left here.
 */
export async function reconcileSockets(io: IoServer, ctx: AppContext): Promise<Reconciled> {
  const result: Reconciled = { sessionsEnded: 0, joined: 0, left: 0 };
  const sockets = [...io.of('/').sockets.values()];
  if (!sockets.length) return result;
  // What each socket was subscribed to before the database is read.
  const before = new Map(sockets.map((s) => [s, new Set(s.rooms)]));

  const sessionIds = [...new Set(sockets.map((s) => s.data.sessionId))];
  const alive = new Set<string>();
  const reasons = new Map<string, string>();
  for (const ids of chunks(sessionIds)) {
    const rows = await ctx.models.Session.findAll({
      where: { id: ids },
      attributes: ['id', 'revokedAt', 'revokedReason'],
      raw: true,
    });
    for (const r of rows) {
      if (r.revokedAt) reasons.set(r.id, r.revokedReason ?? 'logout');
      else alive.add(r.id);
    }
  }
  for (const id of sessionIds) {
    if (alive.has(id)) continue;
    result.sessionsEnded++;
    const ch = channel.session(id);
    io.local.to(ch).emit('session:ended', { reason: reasons.get(id) ?? 'logout' });
    io.local.in(ch).disconnectSockets(true);
  }

  const staying = sockets.filter((s) => s.connected && alive.has(s.data.sessionId));
  const userIds = [...new Set(staying.map((s) => Number(s.data.userId)))];
  const roomsOf = new Map<number, Set<string>>();
  for (const ids of chunks(userIds)) {
    const rows = await ctx.models.Membership.findAll({
      where: { userId: ids },
      attributes: ['userId', 'roomId'],
      raw: true,
    });
    for (const r of rows) {
      let set = roomsOf.get(r.userId);
      if (!set) roomsOf.set(r.userId, (set = new Set()));
      set.add(channel.room(r.roomId));
    }
  }
  for (const socket of staying) {
    if (!socket.connected) continue;
    const want = roomsOf.get(Number(socket.data.userId)) ?? new Set<string>();
    const had = before.get(socket)!;
    for (const ch of had) {
      if (roomIdOf(ch) === null || want.has(ch) || !socket.rooms.has(ch)) continue;
      socket.leave(ch);
      result.left++;
    }
    const missing = [...want].filter((ch) => !socket.rooms.has(ch));
    if (missing.length) {
      socket.join(missing);
      result.joined += missing.length;
    }
  }
  return result;
}
