import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { ParleyApp } from './app.js';
import { ConfigError } from './config.js';
import type { Logger } from './logger.js';

/*
 * Graceful shutdown of one Parley process (a single node, or one worker of a cluster), in this order:
 *
 * 1. Stop taking work: the listening socket closes (new connections are refused, so a proxy sends them to
 *    another node), Socket.IO handshakes still arriving on open connections are refused (the client retries),
 *    and client events that arrive from now on are not started.
 * 2. Finish what was started: every client event already received runs to its end and its ack is written.
 * 3. Send the sockets away: each connection's transport is closed (after its pending packets are flushed). The
 *    client sees `disconnect` with reason "transport close", which Socket.IO clients answer by reconnecting on
 *    their own, to this node once restarted or to another one. (A server-side `socket.disconnect()` would be
 *    "io server disconnect", after which clients do NOT reconnect.) An event the client sent but saw no ack for is
 *    resent after the reconnect, and `clientId` makes that resend safe.
 * 4. Finish HTTP requests in progress; idle keep-alive connections are closed, busy ones after their response.
 * 5. Let each departed socket's bookkeeping (presence) finish, then close Socket.IO and the database.
 *
 * Steps 2–5 share one deadline (80% of SHUTDOWN_TIMEOUT_MS, 10 s by default); whatever is still open then is cut,
 * and the database is closed all the same. If even that hangs, the process exits with code 1 at the full timeout.
 */

/** The part of an Engine.IO socket used here. */
interface EngineSocket {
  readyState: string;
  close(discard?: boolean): void;
  once(event: 'close', listener: () => void): unknown;
}

/** How long pending packets may take to flush (step 3) before a transport is closed without them. */
const FLUSH_MS = 2_000;

/** A count with a way to wait for it to come down to zero. */
class Gauge {
  private n = 0;
  private waiters: (() => void)[] = [];
  get value() {
    return this.n;
  }
  up() {
    this.n++;
  }
  down() {
    this.n--;
    if (this.n <= 0) for (const w of this.waiters.splice(0)) w();
  }
  zero(): Promise<void> {
    return this.n <= 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** Resolves with `true` when `p` settles before `deadline` (ms since epoch), `false` otherwise. */
async function before(p: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([p.then(() => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Drainable {
  /** Runs steps 1–5 above and closes the app; resolves when the app is closed. Idempotent. */
  shutdown(timeoutMs: number): Promise<void>;
  /** Client events received and not yet acknowledged. */
  eventsInFlight(): number;
  /** HTTP connections open (keep-alive, upgraded and in use). */
  connections(): number;
}

/**
 * Starts tracking the app's HTTP connections and Socket.IO events so that it can be drained. Call before the
 * server takes any connection (right after `createApp`).
 */
export function drainable(parley: ParleyApp, logger: Logger): Drainable {
  const { server, io } = parley;
  let draining = false;

  // ---- HTTP connections: which are busy, which are upgraded (WebSocket), which are idle ----
  const conns = new Map<Duplex, { busy: number; upgraded: boolean }>();
  const open = new Gauge();
  const endIfIdle = (conn: Duplex) => {
    const c = conns.get(conn);
    if (c && c.busy === 0 && !c.upgraded) conn.end();
  };
  // Over TLS, requests arrive on the TLS socket, which `secureConnection` announces (`connection` is the TCP one).
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (conn: NetSocket) => {
    conns.set(conn, { busy: 0, upgraded: false });
    open.up();
    conn.once('close', () => {
      conns.delete(conn);
      open.down();
    });
  });
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const conn = req.socket;
    const c = conns.get(conn);
    if (!c) return;
    c.busy++;
    if (draining && !res.headersSent) res.setHeader('Connection', 'close');
    let done = false;
    const finished = () => {
      if (done) return;
      done = true;
      c.busy--;
      if (draining) endIfIdle(conn);
    };
    res.once('finish', finished);
    res.once('close', finished);
  });
  server.prependListener('upgrade', (req: IncomingMessage) => {
    const c = conns.get(req.socket);
    if (c) c.upgraded = true;
  });

  // ---- Socket.IO: no new sessions while draining; acknowledged events in flight ----
  io.engine.use((req: IncomingMessage, _res: ServerResponse, next: (err?: Error) => void) => {
    // Engine.IO parsed the query before its middlewares run; a request without `sid` opens a new session.
    const query = (req as IncomingMessage & { _query?: Record<string, string> })._query;
    if (draining && !query?.sid) return next(new Error('shutting down'));
    next();
  });
  const inFlight = new Gauge();
  // The dispatcher answers every handled event it lets through, even one whose socket went away meanwhile (with an
  // error), so each event counted here is counted down when its handler is done.
  parley.socketEvents.use((_socket, _event, ack) => {
    // Not started: it goes with the transport, unacknowledged, and the client sends it again after reconnecting.
    if (draining) return false;
    // Events without a callback cannot be followed to their end.
    if (!ack) return ack;
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      inFlight.down();
    };
    inFlight.up();
    return (r) => {
      try {
        ack(r);
      } finally {
        settle();
      }
    };
  });

  let shuttingDown: Promise<void> | null = null;

  async function run(timeoutMs: number): Promise<void> {
    const started = Date.now();
    const deadline = started + Math.floor(timeoutMs * 0.8);
    draining = true;

    // 1. No new connections. (A cluster worker never listens itself: its primary stops handing it connections.)
    if (server.listening) server.close();
    for (const conn of conns.keys()) endIfIdle(conn);

    // 2. Events already received run to their ack.
    const eventsDone = await before(inFlight.zero(), deadline);
    if (!eventsDone)
      logger.warn({ inFlight: inFlight.value }, 'shutdown: events still running at the deadline');

    // 3. Transports close, after flushing what they hold; the clients reconnect.
    const sockets = [...io.of('/').sockets.values()];
    // Engine.IO's sessions (`clients` is public at runtime, protected in its typings).
    const engineSockets = Object.values(
      (io.engine as unknown as { clients: Record<string, EngineSocket> }).clients,
    );
    const gone = Promise.all(
      engineSockets.map((s) =>
        s.readyState === 'closed'
          ? undefined
          : new Promise<void>((resolve) => s.once('close', () => resolve())),
      ),
    );
    for (const s of engineSockets) s.close();
    if (!(await before(gone, Math.min(deadline, Date.now() + FLUSH_MS)))) {
      // A polling client with no request open cannot be told; its next request fails and it reconnects.
      for (const s of engineSockets) if (s.readyState !== 'closed') s.close(true);
    }

    // 4. HTTP requests in progress finish; their connections close after the response.
    for (const conn of conns.keys()) endIfIdle(conn);
    if (!(await before(open.zero(), deadline))) {
      logger.warn({ connections: open.value }, 'shutdown: closing connections still open at the deadline');
      for (const conn of conns.keys()) conn.destroy();
    }

    // 5. Departures (presence) finish before the database closes.
    await before(Promise.all(sockets.map((s) => parley.ctx.bookkeeping.settled(s))), deadline);
    await parley.close();
    logger.info({ ms: Date.now() - started }, 'shutdown complete');
  }

  return {
    shutdown: (timeoutMs) => (shuttingDown ??= run(timeoutMs)),
    eventsInFlight: () => inFlight.value,
    connections: () => open.value,
  };
}

/** SHUTDOWN_TIMEOUT_MS: the bound on a graceful shutdown, 10 s by default. */
export function shutdownTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SHUTDOWN_TIMEOUT_MS?.trim();
  if (!raw) return 10_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 100 || n > 600_000) {
    throw new ConfigError(
      `Invalid configuration:\n  SHUTDOWN_TIMEOUT_MS: "${raw}" must be a whole number of milliseconds from 100 to 600000`,
    );
  }
  return n;
}
