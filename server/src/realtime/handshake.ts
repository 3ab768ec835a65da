import type { IncomingMessage } from 'node:http';
import DataLoader from 'dataloader';
import type { Config } from '../config.js';
import type { AppContext } from '../context.js';
import type { Session, User } from '../db/models.js';
import { AppError } from '../errors.js';
import type { Actor } from '../modules/auth/authenticate.js';
import { verifyAccessToken } from '../modules/auth/tokens.js';
import type { IoServer, IoSocket } from './channels.js';
import { socketLimitStats, type FloodCooldown, type SocketQuota } from './socket-limits.js';

/*
 * The way into a socket, cheapest check first, so that whatever a flood sends is refused before it costs anything
 * that grows: engine.io request (per-address connection count and handshake rate, in `allowRequest`) → CONNECT
 * packets per engine connection → access token present → its signature and expiry (CPU only) → the flood cool-down
 * → the per-user and per-address socket quotas → only then the database (session alive, user not released), read
 * for all the handshakes of one turn of the event loop in one batch.
 */

/** An engine.io connection, as Socket.IO exposes it (`socket.conn`). */
type EngineSocket = IoSocket['conn'];

/**
 * Socket.IO CONNECT packets one engine connection may send within a one-second window; the next closes the
 * connection. A client sends one per namespace, and again only after a refusal (a retry), well under this.
 */
const CONNECTS_PER_SEC = 3;
/** A batch of handshakes or arrivals read in one query; keeps the IN list of a storm bounded. */
const MAX_BATCH = 500;

/**
 * DataLoader options that batch by load rather than by clock, and cache nothing (every handshake reads afresh): a
 * batch goes out at the end of the current turn of the event loop, or, while the loader's previous query is still
 * running, as soon as it is done. So under a storm, when handshakes arrive faster than a query takes, each query
 * carries all that arrived meanwhile, however they were spread over the loop's turns.
 */
function oneQueryAtATime() {
  let running = 0;
  const waiting: (() => void)[] = [];
  return {
    options: {
      cache: false,
      maxBatchSize: MAX_BATCH,
      batchScheduleFn: (dispatch: () => void) => {
        if (running) waiting.push(dispatch);
        else setImmediate(dispatch);
      },
    },
    /** Wraps a batch function so that the scheduler knows when its query is running. */
    track<K, V>(batch: (keys: readonly K[]) => Promise<V[]>) {
      return async (keys: readonly K[]): Promise<V[]> => {
        running++;
        try {
          return await batch(keys);
        } finally {
          if (--running === 0) for (const dispatch of waiting.splice(0)) setImmediate(dispatch);
        }
      };
    },
  };
}

/** What engine.io keeps per connection that a hard close needs (not in its public types). */
interface EngineInternals {
  transport?: { socket?: { terminate?: () => void } };
}

/** Closes an engine connection at once, without the websocket closing handshake a flooder could stall. */
function cutOff(conn: EngineSocket): void {
  (conn as unknown as EngineInternals).transport?.socket?.terminate?.();
  conn.close(true);
}

/**
 * The engine.io layer's share: open engine connections and new ones per client address, and CONNECT packets per
 * connection. Unauthenticated connections (which never send a CONNECT, or whose CONNECT was refused) count like
 * any other, so one address cannot hold more than MAX_SOCKETS_PER_ADDRESS plus a little headroom; the headroom lets
 * the connection over the socket quota still hear why (its CONNECT is refused `RATE_LIMITED` with a message)
 * instead of a bare HTTP 403. Built by the composition root before the Socket.IO server (whose `allowRequest` it
 * answers) and attached to it afterwards.
 */
export class EngineGuard {
  private readonly open = new Map<string, number>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly addressOfConn = new WeakMap<EngineSocket, string>();
  /**
   * CONNECT packets per connection in the current one-second window; a new map each window, so what a connection
   * costs here is one small integer for at most a second.
   */
  private connects = new WeakMap<EngineSocket, number>();
  private windowStart = 0;
  private readonly maxOpen: number;

  constructor(
    private readonly config: Pick<Config, 'maxSocketsPerAddress' | 'socketHandshakesPerAddressPerSec'>,
    private readonly addressOf: (req: IncomingMessage) => string,
  ) {
    const max = config.maxSocketsPerAddress;
    this.maxOpen = max + Math.max(4, Math.ceil(max / 10));
  }

  /** engine.io's `allowRequest` for a new connection: refused when the address holds or opens too many. */
  allowRequest(req: IncomingMessage, cb: (err: string | null | undefined, success: boolean) => void): void {
    const address = this.addressOf(req);
    if ((this.open.get(address) ?? 0) >= this.maxOpen) {
      socketLimitStats.refusedEngineConnections++;
      return cb('Too many connections from this address', false);
    }
    if (!this.takeHandshake(address)) {
      socketLimitStats.refusedHandshakeRate++;
      return cb('Too many new connections from this address; slow down', false);
    }
    cb(null, true);
  }

  /** Counts the server's engine connections and watches their CONNECT packets. Call once, after Socket.IO's own. */
  attach(io: IoServer): void {
    // Shared by every connection (called with it as `this`): no closure per connection.
    const { open, addressOfConn } = this;
    const countConnect = (conn: EngineSocket) => this.countConnect(conn);
    const onClose = function (this: EngineSocket) {
      const address = addressOfConn.get(this);
      if (address !== undefined) bump(open, address, -1);
    };
    const onData = function (this: EngineSocket, data: unknown) {
      // A Socket.IO packet starts with its type; 0 is CONNECT (binary attachments never are one).
      if (typeof data === 'string' && data.charCodeAt(0) === 48) countConnect(this);
    };
    io.engine.on('connection', (conn: EngineSocket) => {
      const address = this.addressOf(conn.request);
      this.addressOfConn.set(conn, address);
      bump(this.open, address, 1);
      // `on`, not `once`: engine.io emits it once, and `once` would wrap the listener anew for every connection.
      conn.on('close', onClose);
      // Before Socket.IO's own listener, so a connection over the limit is closed before its packet is handled.
      conn.prependListener('data', onData);
    });
  }

  private countConnect(conn: EngineSocket): void {
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.connects = new WeakMap();
    }
    const n = (this.connects.get(conn) ?? 0) + 1;
    this.connects.set(conn, n);
    if (n > CONNECTS_PER_SEC && conn.readyState === 'open') {
      socketLimitStats.connectFloodCloses++;
      cutOff(conn);
      // The address loses what was left of its handshake burst: its next connections come at the steady rate.
      const bucket = this.buckets.get(this.addressOfConn.get(conn) ?? '');
      if (bucket) bucket.tokens = Math.min(bucket.tokens, 0);
    }
  }

  /** A token from the address's handshake bucket: a burst of MAX_SOCKETS_PER_ADDRESS, then the configured rate. */
  private takeHandshake(address: string): boolean {
    const burst = this.config.maxSocketsPerAddress;
    const rate = this.config.socketHandshakesPerAddressPerSec;
    const now = Date.now();
    if (this.buckets.size > 10_000) {
      // Bounded: a full bucket is the same as none.
      for (const [k, b] of this.buckets)
        if (b.tokens + ((now - b.at) / 1000) * rate >= burst) this.buckets.delete(k);
    }
    let b = this.buckets.get(address);
    if (!b) this.buckets.set(address, (b = { tokens: burst, at: now }));
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

/**
 * The Socket.IO handshake (`io.use`) and the arrival's membership read, both batched across the sockets arriving
 * at once: a storm of N handshakes costs a few queries per turn of the event loop, not 2N + N.
 */
export class Handshake {
  /** Engine connections with a CONNECT in the middleware: a second one before it finishes is a flood. */
  private readonly inFlight = new WeakSet<EngineSocket>();
  private readonly sessions: DataLoader<string, { session: Session; user: User | null } | null>;
  private readonly rooms: DataLoader<number, number[]>;

  constructor(
    private readonly ctx: Pick<AppContext, 'config' | 'models'>,
    private readonly cooldown: FloodCooldown,
    private readonly quota: SocketQuota,
  ) {
    const { Session, User, Membership } = ctx.models;
    const sessionBatches = oneQueryAtATime();
    this.sessions = new DataLoader(
      sessionBatches.track(async (ids: readonly string[]) => {
        const sessions = await Session.findAll({ where: { id: [...new Set(ids)] } });
        const userIds = [...new Set(sessions.map((s) => s.userId))];
        const users = userIds.length ? await User.findAll({ where: { id: userIds } }) : [];
        const userById = new Map(users.map((u) => [u.id, u]));
        const byId = new Map(
          sessions.map((s) => [s.id, { session: s, user: userById.get(s.userId) ?? null }]),
        );
        return ids.map((id) => byId.get(id) ?? null);
      }),
      sessionBatches.options,
    );
    const roomBatches = oneQueryAtATime();
    this.rooms = new DataLoader(
      roomBatches.track(async (userIds: readonly number[]) => {
        const rows = await Membership.findAll({
          where: { userId: [...new Set(userIds)] },
          attributes: ['userId', 'roomId'],
          raw: true,
        });
        const byUser = new Map<number, number[]>();
        for (const r of rows) {
          const list = byUser.get(r.userId);
          if (list) list.push(r.roomId);
          else byUser.set(r.userId, [r.roomId]);
        }
        return userIds.map((id) => byUser.get(id) ?? []);
      }),
      roomBatches.options,
    );
  }

  /**
   * Authenticates a socket's handshake, cheapest check first, and takes its quota slots. Throws AppError
   * (UNAUTHORIZED, TOKEN_EXPIRED or RATE_LIMITED); a refusal after the slots were taken gives them back.
   */
  async authenticate(socket: IoSocket): Promise<Actor> {
    const conn = socket.conn;
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    // Closed while this packet was on its way (by EngineGuard, for a CONNECT flood): nothing more is spent on it.
    if (conn.readyState !== 'open') throw new AppError('RATE_LIMITED', 'Connection closed', undefined, 5);
    // A second CONNECT while the first is still being checked, which no client does: a flood. The connection is
    // closed, and whoever it is signed in as cools down, so its next handshakes are refused before the database.
    if (this.inFlight.has(conn)) {
      socketLimitStats.connectFloodCloses++;
      cutOff(conn);
      this.coolDown(token);
      throw new AppError('RATE_LIMITED', 'Too many handshakes on one connection', undefined, 5);
    }
    if (typeof token !== 'string' || !token) throw new AppError('UNAUTHORIZED', 'No access token');
    const claims = verifyAccessToken(this.ctx.config, token);
    this.cooldown.check(claims.userId);
    const release = this.quota.take(socket, claims.userId);
    this.inFlight.add(conn);
    try {
      const found = await this.sessions.load(claims.sessionId);
      const session = found?.session;
      if (
        !session ||
        session.revokedAt ||
        session.expiresAt.getTime() <= Date.now() ||
        String(session.userId) !== claims.userId
      ) {
        throw new AppError('UNAUTHORIZED', 'This session has ended; sign in again');
      }
      const user = found.user;
      if (!user || user.releasedAt) throw new AppError('UNAUTHORIZED', 'This account is no longer available');
      return { user, sessionId: session.id };
    } catch (err) {
      release();
      throw err;
    } finally {
      this.inFlight.delete(conn);
    }
  }

  /** Starts the flood cool-down for the user a valid token names; anything else is ignored. */
  private coolDown(token: unknown): void {
    if (typeof token !== 'string') return;
    try {
      this.cooldown.start(verifyAccessToken(this.ctx.config, token).userId);
    } catch {
      // Not a valid token: there is no user to cool down; the connection is closed all the same.
    }
  }

  /** The ids of the rooms `userId` is a member of, read with the other arrivals of this turn. */
  roomIdsOf(userId: string | number): Promise<number[]> {
    return this.rooms.load(Number(userId));
  }
}
