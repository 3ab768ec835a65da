import type { IncomingMessage } from 'node:http';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import type { IoServer, IoSocket } from './channels.js';

/** Counters the metrics endpoint and the hardening suite read. */
export const socketLimitStats = {
  refusedPerUser: 0,
  refusedPerAddress: 0,
  slowDisconnects: 0,
  /** engine.io connections refused in `allowRequest`: the address already holds too many (handshake.ts). */
  refusedEngineConnections: 0,
  /** engine.io connections refused in `allowRequest`: the address opens them too fast. */
  refusedHandshakeRate: 0,
  /** engine connections closed for sending too many Socket.IO CONNECT packets. */
  connectFloodCloses: 0,
  /** Handshakes refused because the user is in its flood cool-down (SOCKET_FLOOD_COOLDOWN_SEC). */
  refusedCooldown: 0,
};

/** How often the queued bytes of every socket are checked; a reader that stalls is cut off within this. */
const BUFFER_CHECK_MS = 250;

/**
 * Open sockets per user and per client address on this node (MAX_SOCKETS_PER_USER, MAX_SOCKETS_PER_ADDRESS).
 * A slot is taken in the handshake, before the socket exists, so that concurrent handshakes cannot all slip under
 * the limit, and given back when the engine connection closes, which it does whether or not the socket ever
 * reached `connection`.
 */
export class SocketQuota {
  private perUser = new Map<string, number>();
  private perAddress = new Map<string, number>();

  constructor(
    private ctx: AppContext,
    private addressOf: (req: IncomingMessage) => string,
  ) {}

  /**
   * Takes a slot for this socket or throws RATE_LIMITED naming the limit that was reached. Returns a function that
   * gives the slots back early (a handshake refused after taking them); otherwise they go back when the engine
   * connection closes. Giving back twice is harmless.
   */
  take(socket: IoSocket, userId: string): () => void {
    const { maxSocketsPerUser, maxSocketsPerAddress } = this.ctx.config;
    const address = this.addressOf(socket.request);
    if ((this.perUser.get(userId) ?? 0) >= maxSocketsPerUser) {
      socketLimitStats.refusedPerUser++;
      throw new AppError(
        'RATE_LIMITED',
        `Too many connections for this user (at most ${maxSocketsPerUser}); close a tab and retry`,
        undefined,
        5,
      );
    }
    if ((this.perAddress.get(address) ?? 0) >= maxSocketsPerAddress) {
      socketLimitStats.refusedPerAddress++;
      throw new AppError(
        'RATE_LIMITED',
        `Too many connections from this address (at most ${maxSocketsPerAddress})`,
        undefined,
        5,
      );
    }
    bump(this.perUser, userId, 1);
    bump(this.perAddress, address, 1);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      bump(this.perUser, userId, -1);
      bump(this.perAddress, address, -1);
      socket.conn.off('close', release);
    };
    socket.conn.once('close', release);
    return release;
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

/** What engine.io keeps per connection that matters here (not in its public types). */
interface EngineInternals {
  writeBuffer?: { data?: unknown }[];
  transport?: { socket?: { bufferedAmount?: number; terminate?: () => void } };
}

/**
 * Bytes the server holds for this socket and has not handed to the kernel: engine.io's queue of packets waiting
 * for the transport, plus what the websocket has written but the peer has not read (ws `bufferedAmount`).
 */
export function bufferedBytes(socket: IoSocket): number {
  const conn = socket.conn as unknown as EngineInternals;
  let n = conn.transport?.socket?.bufferedAmount ?? 0;
  for (const p of conn.writeBuffer ?? []) {
    const d = p.data;
    n += typeof d === 'string' ? Buffer.byteLength(d) : d instanceof Uint8Array ? d.byteLength : 0;
  }
  return n;
}

/**
 * Cuts off sockets that do not read what they are sent. Without this a client that stops reading (on purpose or
 * stalled) makes the server queue every broadcast for it until the heartbeat gives up (~45 s), which under a busy
 * room is unbounded memory. The connection is destroyed outright: a graceful close would itself wait for the
 * queue to drain, which it never will.
 */
export function guardSlowReaders(io: IoServer, ctx: AppContext): { close(): void } {
  const max = ctx.config.socketMaxBufferedBytes;
  const timer = setInterval(() => {
    for (const socket of io.of('/').sockets.values()) {
      const queued = bufferedBytes(socket);
      if (queued <= max) continue;
      socketLimitStats.slowDisconnects++;
      ctx.logger.warn(
        { userId: socket.data.userId, queued },
        'socket cut off: it does not read what it is sent',
      );
      (socket.conn as unknown as EngineInternals).transport?.socket?.terminate?.();
      socket.conn.close(true);
    }
  }, BUFFER_CHECK_MS);
  timer.unref();
  return { close: () => clearInterval(timer) };
}

/**
 * Users whose socket was just cut off for flooding (SOCKET_FLOOD_COOLDOWN_SEC): their handshakes are refused
 * RATE_LIMITED until the cool-down ends. Without it a flooder reconnects at once and every cycle costs the
 * server a handshake, presence churn and a burst of admitted events, which is what other users then wait behind.
 */
export class FloodCooldown {
  private until = new Map<string, number>();

  constructor(private seconds: number) {}

  start(userId: string): void {
    if (!this.seconds) return;
    const now = Date.now();
    // Bounded: expired entries go whenever the map grows large.
    if (this.until.size > 10_000) for (const [k, t] of this.until) if (t <= now) this.until.delete(k);
    this.until.set(userId, now + this.seconds * 1000);
  }

  /** Throws RATE_LIMITED (with the seconds left) while `userId` is cooling down. */
  check(userId: string): void {
    const t = this.until.get(userId);
    if (t === undefined) return;
    const left = t - Date.now();
    if (left <= 0) return void this.until.delete(userId);
    socketLimitStats.refusedCooldown++;
    throw new AppError(
      'RATE_LIMITED',
      'Disconnected for flooding; reconnect later',
      undefined,
      Math.ceil(left / 1000),
    );
  }
}
