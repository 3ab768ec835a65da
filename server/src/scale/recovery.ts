import type { Message as MessageDto } from '@parley/protocol';
import type { AppContext } from '../context.js';
import type { Logger } from '../logger.js';
import { presentMessageRows } from '../modules/messages/presenter.js';
import { MESSAGE_ROW_COLUMNS, MESSAGE_ROW_JOINS, type MessageRow } from '../modules/messages/repo.js';
import { channel, type IoServer, type IoSocket } from '../realtime/channels.js';
import { roomIdOf, type DeliveryLog } from './deliveries.js';

/** Messages per page of a fill, rooms per fill query, ids per report and per id lookup. */
const FILL_PAGE = 500;
const ROOMS_PER_QUERY = 200;
const IDS_PER_BATCH = 1_000;
/** Ids of unpublished broadcasts kept for the report; past it the oldest are dropped (and logged). */
const UNPUBLISHED_CAP = 100_000;
const RETRY_MS = 2_000;

/** Counters for tests and logs. */
export const recoveryStats = { outages: 0, filled: 0, reported: 0, sessionsEnded: 0, fallbacks: 0 };

interface Outage {
  startedAt: number;
  /** Per room that had (or got) local sockets during the outage: fill the messages with ids above this. */
  floors: Map<number, number>;
  /** Rooms whose floor could not be read (the database was down too): their sockets are asked to reconnect. */
  unknown: Set<number>;
  pending: Promise<void>[];
  queued: number[] | null;
  lostAgain: boolean;
}

/**
 * What a node does about a Redis outage instead of disconnecting its clients (docs/DECISIONS.md):
 * - while Redis is away, the node keeps a floor per room with local sockets (DeliveryLog) and the ids of the
 *   broadcasts it could not publish;
 * - once both connections are back (the subscriber's `ready` comes after node-redis re-subscribed), it ends the
 *   sockets of sessions revoked meanwhile and fixes room subscriptions (`ctx.revocations.recheck`), then reads the messages
 *   above each floor from the database (the log) and delivers to its own sockets those they did not get, in id
 *   order, exactly once;
 * - and it tells the other nodes which of its own broadcasts never left (`messages:unpublished`): they may have
 *   had no outage at all, so nothing else would make them look.
 */
export class GapRecovery {
  private outage: Outage | null = null;
  private running = false;
  private again = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private unpublished = { created: new Set<number>(), changed: new Set<number>() };
  private scheduled = new WeakSet<IoSocket>();

  constructor(
    private io: IoServer,
    private ctx: AppContext,
    private deliveries: DeliveryLog,
    private log: Logger,
    private opts: { ready: () => boolean; cmdReady: () => boolean; resyncSpreadMs: number },
  ) {}

  /** A room got its first local socket: during an outage, its floor is read (batched per tick). */
  roomCreated(name: string): void {
    const o = this.outage;
    const roomId = roomIdOf(name);
    if (!o || roomId === null || o.floors.has(roomId)) return;
    if (!o.queued) {
      o.queued = [];
      queueMicrotask(() => {
        const ids = o.queued ?? [];
        o.queued = null;
        this.readFloors(o, ids);
      });
    }
    o.queued.push(roomId);
  }

  /** A Redis connection was lost: the outage starts (once, however many connections go). */
  lost(): void {
    if (this.closed) return;
    if (this.outage) {
      this.outage.lostAgain = true;
      return;
    }
    recoveryStats.outages++;
    this.deliveries.hold();
    const { known, unknown } = this.deliveries.floors();
    const o: Outage = {
      startedAt: Date.now(),
      floors: known,
      unknown: new Set(),
      pending: [],
      queued: null,
      lostAgain: false,
    };
    this.outage = o;
    this.readFloors(o, unknown);
  }

  /**
   * A publish of the adapter failed. A `message:new`, `message:updated` or `message:deleted` broadcast reached
   * no other node: its id is kept for the report. A failed report is kept to be sent again.
   */
  publishFailed(payload: unknown): void {
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload : null;
    // Only message events matter; typing and presence broadcasts are not parsed.
    if (text === null || text[0] !== (typeof text === 'string' ? '{' : 0x7b) || !text.includes('"message'))
      return;
    let message: {
      type?: number;
      data?: { packet?: { data?: unknown[] } | unknown[] };
    };
    try {
      message = JSON.parse(text.toString()) as typeof message;
    } catch {
      return;
    }
    const packet = message.data?.packet;
    const data = Array.isArray(packet) ? packet : packet?.data;
    if (!Array.isArray(data)) return;
    const [event, body] = data as [
      string,
      { id?: string; created?: string[]; changed?: string[]; messages?: { id?: string }[] },
    ];
    if (event === 'messages:unpublished') {
      for (const id of body.created ?? []) this.keep('created', id);
      for (const id of body.changed ?? []) this.keep('changed', id);
    } else if (event === 'messages:new' && Array.isArray(body?.messages)) {
      for (const m of body.messages) if (m?.id) this.keep('created', m.id);
    } else if (event === 'message:new' && body?.id) this.keep('created', body.id);
    else if ((event === 'message:updated' || event === 'message:deleted') && body?.id)
      this.keep('changed', body.id);
    else return;
    // A publish can also fail on a connection that stays up (an error reply): the report is tried again soon
    // rather than only at the connection's next recovery.
    if (!this.reportTimer) {
      this.reportTimer = setTimeout(() => {
        this.reportTimer = undefined;
        if (!this.closed && this.opts.cmdReady()) this.reportUnpublished();
      }, RETRY_MS / 2);
      this.reportTimer.unref();
    }
  }

  /** Both connections are up again. Runs the recovery once; called again while it runs, it runs once more. */
  async recovered(): Promise<void> {
    if (this.closed || !this.outage) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      for (;;) {
        const o = this.outage;
        if (!o || this.closed) break;
        this.again = false;
        o.lostAgain = false;
        await this.recover(o);
        if (this.again && this.opts.ready()) continue;
        // Lost again while filling: what was published meanwhile may be missing; the next recovery fills again.
        if (o.lostAgain || !this.opts.ready()) break;
        this.outage = null;
        this.deliveries.release();
        break;
      }
    } catch (err) {
      // The database is unreachable: the outage stays held and the recovery is tried again.
      this.log.error({ err }, 'redis outage recovery failed; retrying');
      clearTimeout(this.retry);
      this.retry = setTimeout(() => {
        if (this.opts.ready()) void this.recovered();
      }, RETRY_MS);
      this.retry.unref();
    } finally {
      this.running = false;
    }
  }

  /** Handles the report of another node: delivers, from the database, what its broadcasts could not. */
  async onReport(report: { created?: unknown; changed?: unknown }): Promise<void> {
    const ids = (v: unknown) =>
      (Array.isArray(v) ? v : []).map(Number).filter((n) => Number.isSafeInteger(n) && n > 0);
    const created = ids(report.created).slice(0, IDS_PER_BATCH);
    const changed = ids(report.changed).slice(0, IDS_PER_BATCH);
    try {
      const local = new Set(this.deliveries.localRooms());
      let delivered = 0;
      for (const m of await this.messagesById(created)) {
        if (!local.has(Number(m.roomId)) || !this.deliveries.deliverFilled(m.roomId, m.id)) continue;
        this.io.local.to(channel.room(m.roomId)).emit('message:new', m);
        delivered++;
      }
      for (const m of await this.messagesById(changed)) {
        if (!local.has(Number(m.roomId))) continue;
        const to = this.io.local.to(channel.room(m.roomId));
        if (m.deleted) to.emit('message:deleted', { id: m.id, roomId: m.roomId });
        else to.emit('message:updated', m);
      }
      recoveryStats.filled += delivered;
    } catch (err) {
      this.log.error({ err }, 'could not deliver the messages another node failed to publish');
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    clearTimeout(this.reportTimer);
  }

  private keep(kind: 'created' | 'changed', id: string | number): void {
    const set = this.unpublished[kind];
    if (set.size >= UNPUBLISHED_CAP) {
      const oldest = set.values().next().value!;
      set.delete(oldest);
      this.log.warn({ dropped: oldest, kind }, 'too many unpublished broadcasts; the oldest is not reported');
    }
    set.add(Number(id));
  }

  /**
   * The command connection is back: sends the ids of this node's unpublished broadcasts to the other nodes, in
   * batches. A batch that fails to publish comes back through `publishFailed` for the next time.
   */
  reportUnpublished(): void {
    const { created, changed } = this.unpublished;
    if (!created.size && !changed.size) return;
    const c = [...created].sort((a, b) => a - b).map(String);
    const u = [...changed].map(String);
    this.unpublished = { created: new Set(), changed: new Set() };
    recoveryStats.reported += c.length + u.length;
    this.log.warn(
      { created: c.length, changed: u.length },
      'redis back: telling the other nodes which broadcasts did not reach them',
    );
    for (let i = 0; i < Math.max(c.length, u.length); i += IDS_PER_BATCH) {
      this.io.serverSideEmit('messages:unpublished', {
        created: c.slice(i, i + IDS_PER_BATCH),
        changed: u.slice(i, i + IDS_PER_BATCH),
      });
    }
  }

  private async recover(o: Outage): Promise<void> {
    const t0 = Date.now();
    // Floors still being read (rooms that got local sockets a moment ago) are awaited first.
    while (o.pending.length) await Promise.all(o.pending.splice(0));
    if (this.deliveries.overflowed) {
      // More was delivered during the outage than the log keeps: the old way, each socket reconnects.
      recoveryStats.fallbacks++;
      this.reconnect([...this.io.of('/').sockets.values()], 'the outage was too long to fill');
      return;
    }
    const r = await this.ctx.revocations.recheck(this.ctx);
    recoveryStats.sessionsEnded += r.sessionsEnded;
    const filled = await this.fill(o);
    if (o.unknown.size) {
      recoveryStats.fallbacks++;
      const sockets = new Set<IoSocket>();
      for (const roomId of o.unknown)
        for (const id of this.io.of('/').adapter.rooms.get(channel.room(roomId)) ?? []) {
          const s = this.io.of('/').sockets.get(id);
          if (s) sockets.add(s);
        }
      o.unknown.clear();
      this.reconnect([...sockets], 'rooms whose history could not be read when the outage began');
    }
    this.log.warn(
      { ...r, filled, outageMs: t0 - o.startedAt, recoveryMs: Date.now() - t0 },
      'redis outage over: local sockets kept, gap filled from the database',
    );
  }

  /** Messages above each room's floor, in id order, to the room's local sockets that did not get them. */
  private async fill(o: Outage): Promise<number> {
    const local = new Set(this.deliveries.localRooms());
    const rooms = [...o.floors].filter(([roomId]) => local.has(roomId));
    let delivered = 0;
    for (let i = 0; i < rooms.length; i += ROOMS_PER_QUERY) {
      const chunk = rooms.slice(i, i + ROOMS_PER_QUERY);
      const params: Record<string, unknown> = { take: FILL_PAGE };
      const where = chunk
        .map(([roomId, floor], j) => {
          params[`r${j}`] = roomId;
          params[`f${j}`] = floor;
          return `("roomId" = $r${j} AND id > $f${j})`;
        })
        .join(' OR ');
      let cursor = 0;
      for (;;) {
        params.cursor = cursor;
        const rows = await this.ctx.db.read<MessageRow>(
          `SELECT ${MESSAGE_ROW_COLUMNS}
             FROM (SELECT * FROM messages WHERE (${where}) AND id > $cursor ORDER BY id LIMIT $take) msg
             ${MESSAGE_ROW_JOINS}
            ORDER BY msg.id`,
          params,
        );
        for (const m of presentMessageRows(this.ctx, rows)) {
          if (!this.deliveries.deliverFilled(m.roomId, m.id)) continue;
          this.io.local.to(channel.room(m.roomId)).emit('message:new', m);
          delivered++;
        }
        if (rows.length < FILL_PAGE) break;
        cursor = Number(rows[rows.length - 1]!.id);
      }
    }
    recoveryStats.filled += delivered;
    return delivered;
  }

  private async messagesById(ids: number[]): Promise<MessageDto[]> {
    if (!ids.length) return [];
    const params: Record<string, unknown> = {};
    const list = ids.map((id, i) => ((params[`m${i}`] = id), `$m${i}`)).join(', ');
    const rows = await this.ctx.db.read<MessageRow>(
      `SELECT ${MESSAGE_ROW_COLUMNS} FROM (SELECT * FROM messages WHERE id IN (${list})) msg ${MESSAGE_ROW_JOINS}
        ORDER BY msg.id`,
      params,
    );
    return presentMessageRows(this.ctx, rows);
  }

  /** Reads the floor (the room's last message now) of rooms the log knows nothing of. */
  private readFloors(o: Outage, roomIds: number[]): void {
    for (let i = 0; i < roomIds.length; i += IDS_PER_BATCH) {
      const ids = roomIds.slice(i, i + IDS_PER_BATCH);
      const read = this.ctx.models.Room.findAll({
        where: { id: ids },
        attributes: ['id', 'lastMessageId'],
        raw: true,
      }).then(
        (rows) => {
          for (const r of rows) if (!o.floors.has(r.id)) o.floors.set(r.id, Number(r.lastMessageId ?? 0));
        },
        (err: unknown) => {
          this.log.error({ err, rooms: ids.length }, 'could not read the rooms of a redis outage');
          for (const id of ids) o.unknown.add(id);
        },
      );
      o.pending.push(read);
    }
  }

  /** The fallback: sockets are closed, spread over a few seconds; clients reconnect and fetch what they missed. */
  private reconnect(sockets: IoSocket[], why: string): void {
    const todo = sockets.filter((s) => !this.scheduled.has(s));
    if (!todo.length) return;
    this.log.warn({ sockets: todo.length, why }, 'asking local sockets to reconnect');
    for (const socket of todo) {
      this.scheduled.add(socket);
      const t = setTimeout(
        () => {
          if (!this.closed && socket.connected) socket.conn.close();
        },
        Math.floor(Math.random() * this.opts.resyncSpreadMs),
      );
      t.unref();
    }
  }
}
