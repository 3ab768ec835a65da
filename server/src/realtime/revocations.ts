import { performance } from 'node:perf_hooks';
import type { AppContext } from '../context.js';
import type { Logger } from '../logger.js';
import { channel, type IoServer, type IoSocket } from './channels.js';

/**
 * How long a revocation is remembered on a node. It only has to outlive the handshakes and room reads that were
 * already under way when it was applied (see `admit`): anything that takes longer is refused as "cannot tell",
 * and the client simply connects again. Memory is the revocations of this window, whatever the number of sockets.
 */
export const REVOCATION_MEMORY_MS = 5 * 60_000;

/** The server-side event (adapter `serverSideEmit`) that carries revocations to the other nodes. */
const EVENT = 'parley:revoked';

/** What {@link Revocations.recheck} changed. */
export interface Rechecked {
  sessionsEnded: number;
  joined: number;
  left: number;
}

/** One revocation, as applied on every node. */
export type Revoked =
  | { kind: 'session'; id: string; reason: string }
  | { kind: 'user'; id: string; reason: string }
  | { kind: 'membership'; userId: string; roomId: string }
  | { kind: 'room'; roomId: string };

interface Entry {
  seq: number;
  at: number;
  reason: string;
}

/** The part of the namespace used here, typed for our one server-side event (IoServer declares none). */
interface RevocationNamespace {
  adapter: object;
  serverSideEmit(ev: typeof EVENT, batch: Revoked[]): boolean;
  on(ev: typeof EVENT, listener: (batch: unknown) => void): unknown;
}

const keyOf = (r: Revoked): string =>
  r.kind === 'session'
    ? `s:${r.id}`
    : r.kind === 'user'
      ? `u:${r.id}`
      : r.kind === 'membership'
        ? `m:${r.userId}:${r.roomId}`
        : `r:${r.roomId}`;

/**
 * Whether the adapter reaches other nodes. Every adapter extends the in-memory one, whose `serverSideEmit` only
 * warns; an adapter that overrides it (Redis, cluster) carries server-side events.
 */
function reachesOtherNodes(adapter: object): boolean {
  let base: unknown;
  for (
    let p: object | null = Object.getPrototypeOf(adapter) as object | null;
    p;
    p = Object.getPrototypeOf(p)
  ) {
    if (Object.hasOwn(p, 'serverSideEmit')) base = (p as { serverSideEmit: unknown }).serverSideEmit;
  }
  return (adapter as { serverSideEmit?: unknown }).serverSideEmit !== base;
}

function isRevoked(x: unknown): x is Revoked {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  const str = (k: string) => typeof r[k] === 'string';
  switch (r.kind) {
    case 'session':
    case 'user':
      return str('id') && str('reason');
    case 'membership':
      return str('userId') && str('roomId');
    case 'room':
      return str('roomId');
    default:
      return false;
  }
}

/**
 * Revocations that must reach every socket, including those still in their handshake: ended sessions, released
 * accounts, removals from rooms. Each is applied on every node by that node itself (the origin at once, the others
 * when the adapter brings them the event), and applying one is a single synchronous step: remember it, then end
 * or unsubscribe the sockets already in the channel. A socket's `connection` (or its room subscription) checks the
 * memory in the same synchronous step in which it joins its channels. Node runs one of the two steps before the
 * other, so either the socket is already in the channel when the revocation is applied, or the revocation is
 * remembered when the socket arrives; and a handshake whose database read came after the commit was refused there.
 */
export class Revocations {
  /** Counts applied revocations; a stamp is its value at some moment. */
  private seq = 0;
  /** The newest seq forgotten: what was applied after a stamp is all still known iff `floor <= stamp`. */
  private floor = 0;
  /** In the order applied (a key applied again moves to the end), so the oldest are forgotten first. */
  private entries = new Map<string, Entry>();
  /** Handshakes under way: the stamp taken before their session was read. */
  private handshakes = new WeakMap<IoSocket, number>();
  private nsp: RevocationNamespace;
  /** What the race cost: for metrics and the hardening suite. */
  readonly stats = { applied: 0, fromOtherNodes: 0, refusedAtConnection: 0, tooOld: 0, roomsDropped: 0 };

  /**
   * Build before any other handshake middleware is registered (createApp does, before attachRealtime): the stamp
   * must be taken before the handshake reads the session.
   */
  constructor(
    private io: IoServer,
    private logger: Logger,
  ) {
    this.nsp = io.of('/') as unknown as RevocationNamespace;
    io.use((socket, next) => {
      this.handshakes.set(socket, this.seq);
      next();
    });
    this.nsp.on(EVENT, (batch) => {
      if (!Array.isArray(batch) || !batch.every(isRevoked)) {
        this.logger.warn('ignored a malformed revocation from another node');
        return;
      }
      this.stats.fromOtherNodes += batch.length;
      this.apply(batch);
    });
  }

  /** The sessions ended (logout, password change, refresh reuse): their sockets are told and closed, everywhere. */
  endSessions(sessionIds: string[], reason: string): void {
    this.revoke(sessionIds.map((id) => ({ kind: 'session', id, reason })));
  }

  /** The account was released: its sessions end, and no socket of the user is admitted any more. */
  releaseUser(userId: string | number, sessionIds: string[]): void {
    this.revoke([
      { kind: 'user', id: String(userId), reason: 'released' },
      ...sessionIds.map((id): Revoked => ({ kind: 'session', id, reason: 'released' })),
    ]);
  }

  /** The user left or was removed from the room: every socket of theirs leaves its channel, everywhere. */
  leaveRoom(userId: string | number, roomId: string | number): void {
    this.revoke([{ kind: 'membership', userId: String(userId), roomId: String(roomId) }]);
  }

  /** The room was deleted: every socket leaves its channel, everywhere. */
  closeRoom(roomId: string | number): void {
    this.revoke([{ kind: 'room', roomId: String(roomId) }]);
  }

  /**
   * At `connection`, before the socket joins any channel (same synchronous step): false when the socket's session
   * or account was revoked while its handshake was under way (it is told `session:ended` and closed), or when that
   * cannot be told any more (a handshake older than REVOCATION_MEMORY_MS: closed, the client connects again).
   */
  admit(socket: IoSocket): boolean {
    const stamp = this.handshakes.get(socket);
    this.handshakes.delete(socket);
    const revoked = this.revocationOf(socket);
    if (revoked) {
      this.stats.refusedAtConnection++;
      socket.emit('session:ended', { reason: revoked });
      socket.disconnect(true);
      return false;
    }
    this.forget();
    if (stamp === undefined || stamp < this.floor) {
      this.stats.tooOld++;
      this.logger.warn({ userId: socket.data.userId }, 'handshake too old to check for revocations');
      socket.disconnect(true);
      return false;
    }
    return true;
  }

  /** The reason the socket's session or account was revoked, if this node knows it was; else null. */
  revocationOf(socket: IoSocket): string | null {
    const { sessionId, userId } = socket.data;
    return (this.entries.get(`s:${sessionId}`) ?? this.entries.get(`u:${userId}`))?.reason ?? null;
  }

  /** Take one before reading a user's memberships, and pass it to `keepRooms` when joining what was read. */
  stamp(): number {
    return this.seq;
  }

  /**
   * Of the rooms read after `stamp`, those still to join: a room the user was removed from, or that was deleted,
   * since then is dropped. Call it in the same synchronous step as the join. Null: cannot tell (the read took
   * longer than REVOCATION_MEMORY_MS); read again.
   */
  keepRooms(
    userId: string | number,
    roomIds: (string | number)[],
    stamp: number,
  ): (string | number)[] | null {
    this.forget();
    if (stamp < this.floor) return null;
    const after = (key: string) => (this.entries.get(key)?.seq ?? 0) > stamp;
    const keep = roomIds.filter((r) => !after(`m:${userId}:${r}`) && !after(`r:${r}`));
    this.stats.roomsDropped += roomIds.length - keep.length;
    return keep;
  }

  /**
   * Re-checks this node's sockets against the database, for when revocations and room changes from other nodes may
   * have been lost (the adapter's subscription was down, scale/recovery.ts): sockets of a revoked or expired
   * session or a released account are told `session:ended` and closed; the others join the rooms they miss and
   * leave those their user is no longer in. A room a socket joined after its rooms were noted here (a `room:join`
   * racing this) is never left: what it had is noted before the database is read. Reads the database once per
   * chunk of 500 sockets, whatever the number online elsewhere.
   */
  async recheck(
    ctx: AppContext,
    sockets: Iterable<IoSocket> = this.io.of('/').sockets.values(),
  ): Promise<Rechecked> {
    const result: Rechecked = { sessionsEnded: 0, joined: 0, left: 0 };
    const all = [...sockets];
    for (let i = 0; i < all.length; i += 500) {
      const chunk = all.slice(i, i + 500).filter((s) => s.connected);
      if (chunk.length) await this.recheckChunk(ctx, chunk, result);
    }
    return result;
  }

  private async recheckChunk(ctx: AppContext, chunk: IoSocket[], result: Rechecked): Promise<void> {
    const stamp = this.stamp();
    const before = new Map(chunk.map((s) => [s, new Set(s.rooms)]));
    const userIds = [...new Set(chunk.map((s) => Number(s.data.userId)))];
    const [sessions, users, memberships] = await Promise.all([
      ctx.models.Session.findAll({
        where: { id: [...new Set(chunk.map((s) => s.data.sessionId))] },
        attributes: ['id', 'revokedAt', 'revokedReason', 'expiresAt'],
        raw: true,
      }),
      ctx.models.User.findAll({ where: { id: userIds }, attributes: ['id', 'releasedAt'], raw: true }),
      ctx.models.Membership.findAll({
        where: { userId: userIds },
        attributes: ['userId', 'roomId'],
        raw: true,
      }),
    ]);
    const ended = new Map<string, string>();
    for (const s of sessions) {
      if (s.revokedAt) ended.set(s.id, s.revokedReason ?? 'revoked');
      else if (new Date(s.expiresAt).getTime() <= Date.now()) ended.set(s.id, 'expired');
    }
    const present = new Set(sessions.map((s) => s.id));
    const released = new Set(users.filter((u) => u.releasedAt).map((u) => String(u.id)));
    const rooms = new Map<string, number[]>();
    for (const m of memberships) {
      const list = rooms.get(String(m.userId)) ?? [];
      list.push(m.roomId);
      rooms.set(String(m.userId), list);
    }
    // From here on synchronous: nothing is applied between the checks below and the joins.
    for (const socket of chunk) {
      if (!socket.connected) continue;
      const { userId, sessionId } = socket.data;
      const reason = released.has(userId)
        ? 'released'
        : present.has(sessionId)
          ? ended.get(sessionId)
          : 'revoked';
      if (reason) {
        result.sessionsEnded++;
        socket.emit('session:ended', { reason });
        socket.disconnect(true);
        continue;
      }
      const keep = this.keepRooms(userId, rooms.get(userId) ?? [], stamp);
      if (keep === null) {
        // Older than what is remembered: cannot tell what changed meanwhile; the client reconnects.
        socket.conn.close();
        continue;
      }
      const want = new Set(keep.map((r) => channel.room(r)));
      for (const r of before.get(socket)!) {
        if (!r.startsWith('room:') || want.has(r) || !socket.rooms.has(r)) continue;
        socket.leave(r);
        result.left++;
      }
      const missing = [...want].filter((r) => !socket.rooms.has(r));
      if (missing.length) {
        socket.join(missing);
        result.joined += missing.length;
      }
    }
  }

  /** Applies `batch` here and sends it to the other nodes (when the adapter reaches any). */
  private revoke(batch: Revoked[]): void {
    if (!batch.length) return;
    this.apply(batch);
    if (reachesOtherNodes(this.nsp.adapter)) this.nsp.serverSideEmit(EVENT, batch);
  }

  /** Remembers and enforces `batch` on this node's sockets, in one synchronous step. */
  private apply(batch: Revoked[]): void {
    this.forget();
    const at = performance.now();
    this.stats.applied += batch.length;
    for (const r of batch) {
      const key = keyOf(r);
      this.entries.delete(key);
      this.entries.set(key, { seq: ++this.seq, at, reason: 'reason' in r ? r.reason : '' });
      const local = this.io.local;
      switch (r.kind) {
        case 'session':
        case 'user': {
          const ch = r.kind === 'session' ? channel.session(r.id) : channel.user(r.id);
          local.to(ch).emit('session:ended', { reason: r.reason });
          local.in(ch).disconnectSockets(true);
          break;
        }
        case 'membership':
          local.in(channel.user(r.userId)).socketsLeave(channel.room(r.roomId));
          break;
        case 'room':
          local.in(channel.room(r.roomId)).socketsLeave(channel.room(r.roomId));
          break;
      }
    }
  }

  /** Forgets what was applied more than REVOCATION_MEMORY_MS ago (the oldest come first). */
  private forget(): void {
    const before = performance.now() - REVOCATION_MEMORY_MS;
    for (const [key, e] of this.entries) {
      if (e.at > before) break;
      this.entries.delete(key);
      this.floor = Math.max(this.floor, e.seq);
    }
  }
}
