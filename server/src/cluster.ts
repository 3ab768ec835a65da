import cluster, { type Worker } from 'node:cluster';
import os from 'node:os';
import client from 'prom-client';
import type { ParleyApp } from './app.js';
import { ConfigError, type Config } from './config.js';
import type { Logger } from './logger.js';
import { START_ENV } from './thread-pool.js';

/*
 * One host, all cores: `WORKERS=N` (or `npm run start:cluster`, which means WORKERS=auto: one per core).
 *
 * The workers listen on the port themselves, through Node's cluster module: the primary accepts each connection and
 * passes it to the workers in turn (round-robin, Node's default outside Windows). Workers accept the WebSocket
 * transport only (createApp's `websocketOnly`): a WebSocket session is one TCP connection, so it needs no sticky
 * routing, and nothing in the primary reads a connection. HTTP long-polling, whose requests would land on any
 * worker, is refused (400 "Transport unknown"); the web client opens with WebSocket (web/src/socket/connection.ts).
 * @socket.io/sticky's `setupMaster`, which would keep polling, lost the first frame (the CONNECT packet) of ~1 in 20
 * WebSocket clients connecting right after a sign-in (docs/DECISIONS.md; bench/tools/first-frame.mjs): it keeps
 * reading a connection whose handle is on its way to a worker. The router we had instead needed Node's private
 * `_handle`. Workers terminate TLS themselves, so TLS works clustered.
 *
 * Workers act as one Socket.IO server through an adapter: the Redis adapter when REDIS_URL is set (createApp
 * installs it), otherwise @socket.io/cluster-adapter over the primary's IPC. Without Redis, what each worker keeps
 * in memory stays per worker (who is online, guest-name holds, rate-limit buckets): the primary says so at start,
 * and REDIS_URL is the recommended setting for clustering.
 *
 * Start-up: the first worker starts alone (it migrates the database and creates `general`), then the others;
 * each takes connections once it is ready, and the primary logs "listening" once all are. A worker that dies is
 * replaced (giving up after 5 deaths in a minute). SIGTERM/SIGINT: each worker closes its share of the port and
 * drains (see shutdown.ts), and the primary exits 0 once all did, within SHUTDOWN_TIMEOUT_MS plus 2 s, else 1.
 */

/** IPC message types between a worker and the primary. */
export const READY = 'parley:ready';
export const METRICS_REQUEST = 'parley:metrics-req';
export const METRICS_RESPONSE = 'parley:metrics-res';

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

/**
 * In a worker, after createApp: joins the workers' shared adapter, then listens on the shared port (the primary
 * starts passing it connections) and tells the primary which port that is. The cluster adapter is loaded here, not
 * at start, so that a single process (the default) never loads it.
 */
export async function joinCluster(parley: ParleyApp, config: Config, logger: Logger): Promise<void> {
  if (!config.redisUrl) {
    parley.io.adapter((await import('@socket.io/cluster-adapter')).createAdapter());
    // Each worker keeps its own presence without Redis, but a change still reaches every worker's subscribers.
    parley.ctx.presenceHub.shareAcrossNodes();
  }
  const port = await parley.listen();
  // Logged before the primary hears of it, so this line always precedes the primary's "listening" line.
  logger.info({ pid: process.pid, port }, 'worker ready');
  process.send?.({ type: READY, port });
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
  let stopping = false;
  const ready = new Set<Worker>();
  const restarts: number[] = [];

  // Node's round-robin is the default on Linux; set here so that no platform default or environment changes it.
  cluster.schedulingPolicy = cluster.SCHED_RR;
  let port = config.port;
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
    for (const w of Object.values(cluster.workers ?? {})) {
      if (w) w.process.kill('SIGTERM');
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
      // A worker's thread pool and allocator are set on purpose whatever the primary started with (thread-pool.ts).
      const worker = cluster.fork({
        UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE || START_ENV.UV_THREADPOOL_SIZE,
        GLIBC_TUNABLES: process.env.GLIBC_TUNABLES || START_ENV.GLIBC_TUNABLES,
      });
      const onMessage = (msg: { type?: string; port?: number } | null) => {
        if (msg?.type !== READY) return;
        if (typeof msg.port === 'number') port = msg.port;
        settle();
        ready.add(worker);
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
