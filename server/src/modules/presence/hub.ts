import type { User as UserDto } from '@parley/protocol';
import type { Server } from 'socket.io';
import type { Logger } from '../../logger.js';
import type { IoServer, IoSocket } from '../../realtime/channels.js';

/** A presence change: the user's DTO when they came online, null when they went offline; `at` in ms. */
interface Change {
  at: number;
  user: UserDto | null;
}

/** What one node tells the others (`serverSideEmit`): only the changed users, never a list of sockets. */
interface NodeMessage {
  online: { user: UserDto; at: number }[];
  offline: { userId: string; at: number }[];
}

/** The inter-node event name; never sent to a client. */
export const PRESENCE_NODE_EVENT = 'parley:presence-changed';

/** How long changes wait before they are sent to the other nodes, at most (one message per window, not per connect). */
const FORWARD_MS = 50;

/**
 * Presence by subscription (contract v2): each socket watches the users it named in its last `presence:subscribe`
 * and receives `presence:changed` for them only, at most once per PRESENCE_BATCH_MS.
 *
 * Per node it keeps: watched userId → this node's sockets watching them, and socket → what it watches (only for
 * sockets that subscribed: an idle socket costs nothing here). A change (an arrival, a departure, a sweep, a
 * resync) is queued by user id, a later change of the same user replacing the earlier one (so an online and an
 * offline in one window collapse to the final state), and forwarded to the other nodes within FORWARD_MS as one
 * `serverSideEmit` carrying the changed users only. One shared timer flushes the queue every PRESENCE_BATCH_MS
 * while there is something to flush: for each changed user it visits that user's watchers on this node and sends
 * each watching socket one `presence:changed` with everything it watches that changed. So a connect costs
 * O(its user's subscribers) + O(nodes), whatever the number of sockets online; and since the next flush is
 * scheduled only after the previous one ran, no socket gets two batches within PRESENCE_BATCH_MS.
 *
 * A user's own sockets watch that user implicitly and for free: they are connected, so for them the user is
 * online, which the ack of `presence:subscribe` says if they ask; the user's own changes are never sent to them
 * (a first socket knows it connected, and after the last one went there is nobody to tell).
 */
export class PresenceHub {
  private watchers = new Map<string, Set<IoSocket>>();
  private watching = new Map<IoSocket, Set<string>>();
  private pending = new Map<string, Change>();
  private outbox = new Map<string, Change>();
  private flushTimer: NodeJS.Timeout | null = null;
  private forwardTimer: NodeJS.Timeout | null = null;
  private shared = false;
  private closed = false;
  /** Work done, for tests and metrics: watchers visited and `presence:changed` packets sent. */
  readonly stats = { visits: 0, emits: 0, forwards: 0 };
  /** One listener for every socket (Socket.IO calls it with the socket as `this`). */
  private readonly onGone: (this: IoSocket) => void;

  constructor(
    private io: IoServer,
    private batchMs: number,
    private logger: Logger,
  ) {
    const unwatch = (socket: IoSocket) => this.unwatch(socket);
    this.onGone = function (this: IoSocket) {
      unwatch(this);
    };
  }

  /**
   * Several nodes act as one (Redis adapter, or the cluster adapter): changes are forwarded to the other nodes,
   * and theirs are received. Without it (one node) nothing is forwarded.
   */
  shareAcrossNodes(): void {
    if (this.shared) return;
    this.shared = true;
    (this.io as unknown as Server).on(PRESENCE_NODE_EVENT, (msg: NodeMessage) => this.received(msg));
  }

  /**
   * Replaces what `socket` watches with `userIds` (deduplicated; its own user is implied and not stored).
   * Returns the ids to answer about. Synchronous, so that subscriptions sent in a row apply in that order.
   */
  subscribe(socket: IoSocket, userIds: string[]): string[] {
    const ids = [...new Set(userIds)];
    const self = socket.data.userId;
    this.unwatch(socket);
    if (socket.disconnected || this.closed) return ids;
    const wanted = new Set(ids.filter((id) => id !== self));
    if (!wanted.size) return ids;
    this.watching.set(socket, wanted);
    for (const id of wanted) {
      let set = this.watchers.get(id);
      if (!set) this.watchers.set(id, (set = new Set()));
      set.add(socket);
    }
    socket.once('disconnect', this.onGone);
    return ids;
  }

  /** Forgets everything `socket` watches (it went, or subscribed to nothing). */
  unwatch(socket: IoSocket): void {
    const ids = this.watching.get(socket);
    if (!ids) return;
    this.watching.delete(socket);
    socket.off('disconnect', this.onGone);
    for (const id of ids) {
      const set = this.watchers.get(id);
      if (!set) continue;
      set.delete(socket);
      if (!set.size) this.watchers.delete(id);
    }
  }

  /** Users came online / went offline (on this node, or found by a sweep or a resync): tell their watchers. */
  changed(change: { online?: UserDto[]; offline?: { userId: string; at?: Date }[] }): void {
    if (this.closed) return;
    const now = Date.now();
    for (const user of change.online ?? []) this.queue(user.id, { at: now, user }, true);
    for (const { userId, at } of change.offline ?? [])
      this.queue(userId, { at: at?.getTime() ?? now, user: null }, true);
  }

  /** How many sockets of this node watch someone, and how many users are watched (metrics, tests). */
  size(): { sockets: number; users: number } {
    return { sockets: this.watching.size, users: this.watchers.size };
  }

  /** Stops the timers; what waits for the other nodes is sent now, what waits for local sockets is dropped. */
  close(): void {
    if (this.closed) return;
    this.forward();
    this.closed = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.pending.clear();
    for (const socket of [...this.watching.keys()]) this.unwatch(socket);
  }

  private received(msg: NodeMessage): void {
    if (this.closed) return;
    for (const { user, at } of msg.online ?? []) this.queue(user.id, { at, user }, false);
    for (const { userId, at } of msg.offline ?? []) this.queue(userId, { at, user: null }, false);
  }

  private queue(userId: string, change: Change, local: boolean): void {
    // Messages from other nodes may arrive late: the newer change of a user wins.
    const prev = this.pending.get(userId);
    if (!prev || prev.at <= change.at) {
      // Nobody here watches the user: nothing to send (the check is repeated at flush time for late subscribers).
      if (this.watchers.has(userId) || prev) {
        this.pending.set(userId, change);
        this.scheduleFlush();
      }
    }
    if (local && this.shared) {
      const out = this.outbox.get(userId);
      if (!out || out.at <= change.at) this.outbox.set(userId, change);
      this.forwardTimer ??= setTimeout(() => this.forward(), FORWARD_MS).unref();
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, this.batchMs).unref();
  }

  /** One `presence:changed` per watching socket, with every change it watches. */
  private flush(): void {
    const changes = this.pending;
    this.pending = new Map();
    const batches = new Map<IoSocket, { online: UserDto[]; offline: { userId: string; at: string }[] }>();
    for (const [userId, change] of changes) {
      const sockets = this.watchers.get(userId);
      if (!sockets) continue;
      for (const socket of sockets) {
        this.stats.visits++;
        let batch = batches.get(socket);
        if (!batch) batches.set(socket, (batch = { online: [], offline: [] }));
        if (change.user) batch.online.push(change.user);
        else batch.offline.push({ userId, at: new Date(change.at).toISOString() });
      }
    }
    for (const [socket, batch] of batches) {
      if (!socket.connected) continue;
      this.stats.emits++;
      socket.emit('presence:changed', batch);
    }
  }

  private forward(): void {
    if (this.forwardTimer) clearTimeout(this.forwardTimer);
    this.forwardTimer = null;
    if (!this.outbox.size || !this.shared) return;
    const msg: NodeMessage = { online: [], offline: [] };
    for (const [userId, change] of this.outbox) {
      if (change.user) msg.online.push({ user: change.user, at: change.at });
      else msg.offline.push({ userId, at: change.at });
    }
    this.outbox.clear();
    this.stats.forwards++;
    try {
      (this.io as unknown as Server).serverSideEmit(PRESENCE_NODE_EVENT, msg);
    } catch (err) {
      // The other nodes miss this batch; their clients catch up with presence:subscribe after a reconnect.
      this.logger.warn({ err }, 'presence: forwarding to the other nodes failed');
    }
  }
}
