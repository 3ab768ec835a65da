import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import os from 'node:os';
import client from 'prom-client';
import type { ParleyApp } from './app.js';
import { ConfigError, type Config } from './config.js';
import type { Logger } from './logger.js';

/*
 * One host, all cores: `WORKERS=N` (or `npm run start:cluster`, which means WORKERS=auto: one per core).
 *
 * The primary process owns the listening port and runs no Parley itself. It reads the request line of each new
 * TCP connection and hands the connection to a worker: a request carrying an Engine.IO session id (`sid=`) goes to
 * the worker that holds that session, so the HTTP long-polling transport works; a new session goes to the worker
 * with the fewest; anything else round-robin. Workers take connections with @socket.io/sticky's `setupWorker`
 * (which also closes every HTTP connection after one response, so that a browser cannot reuse one connection for
 * another session). The primary-side half is our own (`ConnectionRouter`): @socket.io/sticky's `setupMaster`
 * keeps reading a connection while its handle is on its way to the worker and drops what it reads (a WebSocket
 * client's first frame, now and then), relays request bodies over IPC with a per-request object the worker never
 * frees, and crashes on a client that hangs up at the wrong moment.
 *
 * Workers act as one Socket.IO server through an adapter: the Redis adapter when REDIS_URL is set (createApp
 * installs it), otherwise @socket.io/cluster-adapter over the primary's IPC. Without Redis, what each worker keeps
 * in memory stays per worker (who is online, guest-name holds, rate-limit buckets): the primary says so at start,
 * and REDIS_URL is the recommended setting for clustering.
 *
 * Start-up: the first worker starts alone (it migrates the database and creates `general`), then the others;
 * the port opens once all are ready. A worker that dies is replaced (giving up after 5 deaths in a minute).
 * SIGTERM/SIGINT: the port closes, each worker drains (see shutdown.ts), and the primary exits 0 once all did,
 * within SHUTDOWN_TIMEOUT_MS plus 2 s, else 1.
 */

/** IPC message types between a worker and the primary. */
export const READY = 'parley:ready';
export const METRICS_REQUEST = 'parley:metrics-req';
export const METRICS_RESPONSE = 'parley:metrics-res';
/** @socket.io/sticky's protocol, spoken by `setupWorker` in the workers. */
const STICKY_CONNECTION = 'sticky:connection';
const STICKY_DISCONNECTION = 'sticky:disconnection';

const MAX_WORKERS = 256;

/** WORKERS: a number, or `auto` (one per core). `--cluster` on the command line makes `auto` the default. */
export function workerCount(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv): number {
  const raw = env.WORKERS?.trim() || (argv.includes('--cluster') ? 'auto' : '1');
  if (raw === 'auto') return Math.max(1, os.availableParallelism());
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WORKERS) {
    throw new ConfigError(
      `Invalid configuration:\n  WORKERS: "${raw}" must be a whole number from 1 to ${MAX_WORKERS}, or auto`,
    );
  }
  return n;
}

/** Checks what a cluster cannot do. Throws ConfigError. */
export function checkClusterConfig(config: Config): void {
  if (config.tls) {
    throw new ConfigError(
      'Invalid configuration:\n  WORKERS > 1 cannot be combined with TLS_CERT_FILE/TLS_KEY_FILE: the primary must read ' +
        'each request to route it. Terminate TLS at a proxy in front (see deploy/nginx.conf), or run one worker.',
    );
  }
}

/**
 * In a worker, after createApp: takes connections from the primary and joins the workers' shared adapter. The
 * cluster modules are loaded here, not at start, so that a single process (the default) never loads them.
 */
export async function joinCluster(parley: ParleyApp, config: Config, logger: Logger): Promise<void> {
  const [{ createAdapter }, { setupWorker }] = await Promise.all([
    import('@socket.io/cluster-adapter'),
    import('@socket.io/sticky'),
  ]);
  if (!config.redisUrl) {
    parley.io.adapter(createAdapter());
    // Each worker keeps its own presence without Redis, but a change still reaches every worker's subscribers.
    parley.ctx.presenceHub.shareAcrossNodes();
  }
  setupWorker(parley.io as never);
  // Logged before the primary hears of it, so this line always precedes the primary's "listening" line.
  logger.info({ pid: process.pid }, 'worker ready');
  process.send?.({ type: READY });
}

/** How long the primary waits for a connection's request line, and for an unknown session id to be announced. */
const REQUEST_LINE_TIMEOUT_MS = 30_000;
const SID_WAIT_MS = 1_000;
const MAX_REQUEST_LINE = 16 * 1024;
const SID = /[?&]sid=([\w-]{20})(?:[&\s#]|$)/;

type SocketWithHandle = net.Socket & { _handle?: { readStop(): number } | null };

/**
 * The primary's half of sticky routing. Each connection is read only until its request line is complete; then
 * reading stops (whatever the client sends next stays in the kernel for the worker) and the connection's handle
 * goes to the chosen worker together with the bytes already read.
 */
class ConnectionRouter {
  private bySid = new Map<string, Worker>();
  private sidWaiters = new Map<string, (() => void)[]>();
  private sessions = new Map<Worker, number>();
  private eligible: Worker[] = [];
  private next = 0;

  constructor() {
    cluster.on('message', (worker, msg: { type?: string; data?: unknown } | null) => {
      const sid = typeof msg?.data === 'string' ? msg.data : null;
      if (!sid) return;
      if (msg?.type === STICKY_CONNECTION) {
        this.bySid.set(sid, worker);
        this.sessions.set(worker, (this.sessions.get(worker) ?? 0) + 1);
        for (const wake of this.sidWaiters.get(sid) ?? []) wake();
        this.sidWaiters.delete(sid);
      } else if (msg?.type === STICKY_DISCONNECTION) {
        if (this.bySid.get(sid) === worker) this.bySid.delete(sid);
        this.sessions.set(worker, Math.max(0, (this.sessions.get(worker) ?? 1) - 1));
      }
    });
    cluster.on('exit', (worker) => {
      this.remove(worker);
      this.sessions.delete(worker);
      for (const [sid, w] of this.bySid) if (w === worker) this.bySid.delete(sid);
    });
  }

  /** The worker takes new connections from now on. */
  add(worker: Worker): void {
    if (!this.eligible.includes(worker)) this.eligible.push(worker);
  }

  /** The worker takes no new connections (it is stopping or gone); its sessions' requests still reach it. */
  remove(worker: Worker): void {
    this.eligible = this.eligible.filter((w) => w !== worker);
  }

  handle(socket: SocketWithHandle): void {
    socket.on('error', () => socket.destroy());
    socket.setTimeout(REQUEST_LINE_TIMEOUT_MS, () => socket.destroy());
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      const head = Buffer.concat(chunks, length);
      if (head.indexOf('\r\n') < 0 && length < MAX_REQUEST_LINE) return;
      // Stop reading now: what the client sends next must reach the worker, not be read (and lost) here.
      socket.off('data', onData);
      socket._handle?.readStop();
      socket.pause();
      this.route(socket, head);
    };
    socket.on('data', onData);
  }

  private route(socket: SocketWithHandle, head: Buffer): void {
    const line = head
      .subarray(0, Math.min(head.length, MAX_REQUEST_LINE))
      .toString('latin1')
      .split('\r\n', 1)[0]!;
    const sid = SID.exec(line)?.[1];
    const send = (worker: Worker | undefined) => {
      if (!worker || !worker.isConnected()) {
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      worker.send({ type: STICKY_CONNECTION, data: head }, socket, (err: Error | null) => {
        if (err) socket.destroy();
      });
    };
    if (!sid) return send(this.pick(/^\S+ \/socket\.io\//.test(line)));
    const owner = this.bySid.get(sid);
    if (owner) return send(owner);
    // The session may be brand new: its worker's announcement can trail the client's next request. Wait for it
    // briefly; a session nobody announces is stale, and any worker tells the client so (it then reconnects).
    let done = false;
    const go = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      send(this.bySid.get(sid) ?? this.pick(false));
    };
    const timer = setTimeout(go, SID_WAIT_MS);
    this.sidWaiters.set(sid, [...(this.sidWaiters.get(sid) ?? []), go]);
  }

  /** A new Engine.IO session goes to the worker with the fewest; anything else in turn. */
  private pick(newSession: boolean): Worker | undefined {
    const live = this.eligible.filter((w) => w.isConnected());
    if (!live.length) return undefined;
    const start = this.next++ % live.length;
    const rotated = [...live.slice(start), ...live.slice(0, start)];
    if (!newSession) return rotated[0];
    let best = rotated[0]!;
    for (const w of rotated) if ((this.sessions.get(w) ?? 0) < (this.sessions.get(best) ?? 0)) best = w;
    // Counted at once, so that a burst of handshakes spreads before the workers announce their sessions.
    this.sessions.set(best, (this.sessions.get(best) ?? 0) + 1);
    setTimeout(() => this.sessions.set(best, Math.max(0, (this.sessions.get(best) ?? 1) - 1)), 5_000).unref();
    return best;
  }
}

interface PrimaryOptions {
  config: Config;
  logger: Logger;
  workers: number;
  shutdownTimeoutMs: number;
}

/** A worker that dies more than this many times within RESTART_WINDOW_MS makes the primary give up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

/** Runs the primary: forks the workers, listens, routes connections, restarts workers, shuts down on signals. */
export async function runPrimary({
  config,
  logger,
  workers,
  shutdownTimeoutMs,
}: PrimaryOptions): Promise<void> {
  checkClusterConfig(config);
  let stopping = false;
  const ready = new Set<Worker>();
  const restarts: number[] = [];

  const router = new ConnectionRouter();
  // A plain TCP server: the primary only reads request lines, it does not speak HTTP.
  const server = net.createServer((socket) => router.handle(socket));
  if (!config.redisUrl) {
    (await import('@socket.io/cluster-adapter')).setupPrimary();
    logger.warn(
      { workers },
      'REDIS_URL is not set: the workers share broadcasts through the cluster adapter, but presence (who is online), ' +
        'guest-name holds and rate limits stay per worker. Set REDIS_URL (recommended for clustering) to share them.',
    );
  }
  // Buffers cross IPC as binary, not as JSON arrays of numbers.
  cluster.setupPrimary({ serialization: 'advanced' });

  // /metrics in a worker asks here for the sum over all workers.
  const aggregator = new client.AggregatorRegistry();
  cluster.on('message', (worker, msg: { type?: string; id?: number } | null) => {
    if (msg?.type !== METRICS_REQUEST) return;
    const reply = (m: object) =>
      worker.isConnected() && worker.send({ type: METRICS_RESPONSE, id: msg.id, ...m });
    aggregator.clusterMetrics().then(
      (text) => reply({ text, contentType: aggregator.contentType }),
      (err: Error) => reply({ error: err.message }),
    );
  });

  let worstExit = 0;
  const exitWhenAllGone = () => {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(worstExit);
  };

  const stop = (reason: string, code = 0) => {
    worstExit = Math.max(worstExit, code);
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down');
    server.close();
    for (const w of Object.values(cluster.workers ?? {})) {
      if (!w) continue;
      router.remove(w);
      w.process.kill('SIGTERM');
    }
    const hard = setTimeout(() => {
      const left = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
      logger.error({ workers: left.map((w) => w.process.pid) }, 'workers did not stop in time; killing them');
      for (const w of left) w.process.kill('SIGKILL');
      process.exit(1);
    }, shutdownTimeoutMs + 2_000);
    hard.unref();
    exitWhenAllGone();
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));

  cluster.on('exit', (worker, code, signal) => {
    const wasReady = ready.delete(worker);
    if (stopping) {
      if (code !== 0) worstExit = 1;
      logger.info({ worker: worker.id, pid: worker.process.pid, code, signal }, 'worker stopped');
      return exitWhenAllGone();
    }
    if (!wasReady) return; // it failed during start-up: fork() reports that
    logger.error(
      { worker: worker.id, pid: worker.process.pid, code, signal },
      'worker died; starting another',
    );
    const now = Date.now();
    restarts.push(now);
    while (restarts.length && restarts[0]! < now - RESTART_WINDOW_MS) restarts.shift();
    if (restarts.length > MAX_RESTARTS) {
      logger.error({ restarts: restarts.length }, 'workers keep dying; giving up');
      return stop('workers keep dying', 1);
    }
    fork().then(
      (w) => logger.info({ worker: w.id, pid: w.process.pid }, 'replacement worker ready'),
      (err: unknown) => {
        logger.error({ err }, 'replacement worker failed to start');
        stop('replacement worker failed', 1);
      },
    );
  });

  /** Forks a worker and resolves once it is ready (database migrated, app built). */
  function fork(): Promise<Worker> {
    return new Promise((resolve, reject) => {
      const worker = cluster.fork();
      const onMessage = (msg: { type?: string } | null) => {
        if (msg?.type !== READY) return;
        settle();
        ready.add(worker);
        if (!stopping) router.add(worker);
        resolve(worker);
      };
      const onExit = (code: number | null, signal: string | null) => {
        settle();
        reject(new Error(`worker ${worker.id} exited (code ${code}, signal ${signal}) before it was ready`));
      };
      const settle = () => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
    });
  }

  try {
    // The first worker alone: it applies migrations, which must not run twice at once.
    await fork();
    if (stopping) return;
    await Promise.all(Array.from({ length: workers - 1 }, () => fork()));
  } catch (err) {
    logger.error({ err }, 'a worker failed to start');
    return stop('start-up failed', 1);
  }
  if (stopping) return;

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : config.port);
      });
    });
  } catch (err) {
    logger.error({ err, port: config.port, host: config.host }, 'cannot listen');
    return stop('cannot listen', 1);
  }
  logger.info(
    {
      port,
      host: config.host,
      workers,
      pids: [...ready].map((w) => w.process.pid),
      database: config.databaseUrl.split(':')[0],
      redis: !!config.redisUrl,
    },
    `Parley listening on port ${port} with ${workers} workers`,
  );
}
