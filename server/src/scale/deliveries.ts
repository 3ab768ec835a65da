import { channel, type DeliveryRecorder } from '../realtime/channels.js';

/** The part of the Socket.IO adapter the log reads: which rooms have sockets on this node, and when that changes. */
export interface LocalRooms {
  rooms: Map<string, Set<string>>;
  on(event: 'delete-room', fn: (room: string) => void): unknown;
}

const ROOM_PREFIX = channel.room('');

/** The room id of a `room:<id>` channel, or null for any other channel. */
export function roomIdOf(name: string): number | null {
  if (!name.startsWith(ROOM_PREFIX)) return null;
  const id = Number(name.slice(ROOM_PREFIX.length));
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}

/**
 * Which `message:new` this node has delivered to its own sockets, so that a gap fill after a Redis outage sends
 * each member what it missed exactly once (scale/recovery.ts).
 *
 * Per room with local sockets, `settled` is the highest message id delivered at least `settleMs` ago; the ids
 * delivered since are kept in `recent`. Reading the database for ids above `settled` and skipping those in
 * `recent` is exact as long as a broadcast reaches this node within `settleMs` of the one before it in the same
 * room (ids follow commit order within a room, but two nodes' broadcasts may cross). While an outage is held,
 * nothing settles: what was delivered during it stays in `recent` until the gap is filled.
 *
 * Cost: O(1) per delivered message; memory: the messages of the last `settleMs` (plus those of an outage, up to
 * `cap`; past it the log gives up and `overflowed` says so) and one number per room with local sockets.
 */
export class DeliveryLog implements DeliveryRecorder {
  private rooms: Map<string, Set<string>> | null = null;
  private settled = new Map<number, number>();
  private recent = new Map<number, { roomId: number; at: number }>();
  /** Ids a gap fill delivered, remembered for `filledTtlMs`: another node's report of them may come much later. */
  private filled = new Map<number, number>();
  private holds = 0;
  /** True when an outage delivered more than `cap` messages: the gap cannot be filled exactly. */
  overflowed = false;

  constructor(
    private readonly settleMs = 5_000,
    private readonly cap = 100_000,
    private readonly filledTtlMs = 10 * 60_000,
  ) {}

  /** Reads the namespace's local rooms from its adapter; a room without local sockets is forgotten. */
  watch(adapter: LocalRooms): void {
    this.rooms = adapter.rooms;
    adapter.on('delete-room', (name) => {
      const roomId = roomIdOf(name);
      if (roomId !== null) this.settled.delete(roomId);
    });
  }

  /**
   * Records that `messageId` is being delivered to this node's sockets in the room. False: it already was (by a
   * gap fill, or by the other path), and must not be delivered again.
   */
  deliver(roomId: string | number, messageId: string | number): boolean {
    const id = Number(messageId);
    if (this.recent.has(id) || this.filled.has(id)) return false;
    const room = Number(roomId);
    if (!this.rooms?.has(channel.room(room))) return true;
    if (this.recent.size >= this.cap && this.holds > 0) {
      this.overflowed = true;
      return true;
    }
    const now = Date.now();
    this.recent.set(id, { roomId: room, at: now });
    if (this.holds === 0) this.settle(now);
    return true;
  }

  /** `deliver` for a message read from the database by a gap fill: also remembered for `filledTtlMs`. */
  deliverFilled(roomId: string | number, messageId: string | number): boolean {
    if (!this.deliver(roomId, messageId)) return false;
    const now = Date.now();
    for (const [id, at] of this.filled) {
      if (at > now - this.filledTtlMs && this.filled.size < this.cap) break;
      this.filled.delete(id);
    }
    this.filled.set(Number(messageId), now);
    return true;
  }

  /**
   * Where a gap fill starts, per room with local sockets: above the room's settled mark, or just below the first
   * id it delivered when none settled yet. `unknown`: rooms the log has seen nothing of (their last message is
   * read from the database instead). O(rooms + recent), once per outage.
   */
  floors(): { known: Map<number, number>; unknown: number[] } {
    const known = new Map<number, number>();
    const unknown: number[] = [];
    const firstRecent = new Map<number, number>();
    for (const [id, e] of this.recent) {
      const f = firstRecent.get(e.roomId);
      if (f === undefined || id < f) firstRecent.set(e.roomId, id);
    }
    for (const name of this.rooms?.keys() ?? []) {
      const roomId = roomIdOf(name);
      if (roomId === null) continue;
      const floor =
        this.settled.get(roomId) ?? (firstRecent.has(roomId) ? firstRecent.get(roomId)! - 1 : undefined);
      if (floor === undefined) unknown.push(roomId);
      else known.set(roomId, floor);
    }
    return { known, unknown };
  }

  /** Ids of the rooms that have sockets on this node now. */
  localRooms(): number[] {
    const ids: number[] = [];
    for (const name of this.rooms?.keys() ?? []) {
      const id = roomIdOf(name);
      if (id !== null) ids.push(id);
    }
    return ids;
  }

  /** An outage began: nothing settles (the fill needs every id delivered since) until `release`. */
  hold(): void {
    this.holds++;
  }

  release(): void {
    if (this.holds > 0) this.holds--;
    if (this.holds > 0) return;
    if (this.overflowed) {
      // The log was incomplete: start again from what the next deliveries show.
      this.overflowed = false;
      this.recent.clear();
      this.settled.clear();
      return;
    }
    this.settle(Date.now());
  }

  /** Moves deliveries older than `settleMs` from `recent` into their room's `settled` mark. */
  private settle(now: number): void {
    const cutoff = now - this.settleMs;
    for (const [id, e] of this.recent) {
      if (e.at > cutoff) break;
      this.recent.delete(id);
      if (!this.rooms?.has(channel.room(e.roomId))) continue;
      const s = this.settled.get(e.roomId);
      if (s === undefined || id > s) this.settled.set(e.roomId, id);
    }
  }
}

/** What the log reads of a cluster message (socket.io-adapter's ClusterMessage). */
export interface RemoteMessage {
  uid: string;
  nsp?: string;
  type: number;
  data?: { opts?: { rooms?: string[] }; packet?: unknown; requestId?: string };
}

/** socket.io-adapter's MessageType.BROADCAST. */
const BROADCAST = 3;

/** The messages of one `message:new` (`single`) or `messages:new` (`batch`) broadcast to one room. */
export interface RemoteMessages {
  roomId: number;
  batch: { messages: { id?: unknown }[] } | null;
  single: { id?: unknown } | null;
}

/** The room and messages of a `message:new` or `messages:new` broadcast another node published, else null. */
export function remoteMessages(message: RemoteMessage): RemoteMessages | null {
  if (message.type !== BROADCAST || message.data?.requestId !== undefined) return null;
  const rooms = message.data?.opts?.rooms;
  const data = (message.data?.packet as { data?: unknown[] } | undefined)?.data;
  if (!rooms || rooms.length !== 1 || !Array.isArray(data)) return null;
  if (data[0] !== 'message:new' && data[0] !== 'messages:new') return null;
  const roomId = roomIdOf(rooms[0]!);
  if (roomId === null || typeof data[1] !== 'object' || data[1] === null) return null;
  if (data[0] === 'message:new') return { roomId, batch: null, single: data[1] as { id?: unknown } };
  const batch = data[1] as { messages?: unknown };
  if (!Array.isArray(batch.messages)) return null;
  return { roomId, batch: batch as { messages: { id?: unknown }[] }, single: null };
}

/**
 * For a message another node published: false when it is a `message:new` this node's sockets already got (from
 * a gap fill), which must not be delivered again; records it otherwise. A `messages:new` loses the messages this
 * node's sockets already got (the packet is this node's own decoded copy), and is dropped when none is left.
 * Anything else passes untouched.
 */
export function acceptRemote(log: DeliveryLog, message: RemoteMessage): boolean {
  const r = remoteMessages(message);
  if (!r) return true;
  if (r.single) return typeof r.single.id !== 'string' || log.deliver(r.roomId, r.single.id);
  const batch = r.batch!;
  batch.messages = batch.messages.filter((m) => typeof m?.id !== 'string' || log.deliver(r.roomId, m.id));
  return batch.messages.length > 0;
}
