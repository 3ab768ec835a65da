import cluster, { type Worker } from 'node:cluster';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import os from 'node:os';
import client from 'prom-client';
import type { ParleyApp } from './app.js';
import { ConfigError, type Config } from './config.js';
import type { Logger } from './logger.js';

/*
 * One host, all cores: `WORKERS=N` (or `npm run start:cluster`, which means WORKERS=auto: one per core).
 *
 * The primary process owns the listening port and runs no Parley itself: @socket.io/sticky's `setupMaster` reads
 * the first chunk of each new connection and hands the connection to a worker (least connections first); a request
 * carrying an Engine.IO session id (`sid=`) goes to the worker that holds that session, so the HTTP long-polling
 * transport works, and a request with a body is relayed by the primary over IPC. Workers take connections with
 * `setupWorker` (which also closes every HTTP connection after one response, so that a browser cannot reuse one
 * connection for another session). Two gaps of the library are closed here with public APIs: a worker holds the
 * connections it is given while it starts (the library counts it as available as soon as it is forked), and it
 * ends each relayed request's stand-in socket once the response is sent (the library never does, so each long-polling
 * request would leave one behind). bench/tools/sticky-check.mjs measures the library against our traffic (DECISIONS).
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
/** The prefix of @socket.io/sticky's messages from the primary to a worker. */
const STICKY = 'sticky:';

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
 * In a worker, before createApp: keeps the connections the primary hands over while the worker starts (the primary
 * counts a worker as soon as it is forked, and a replacement has no connections, so it gets the next ones). They
 * are handed to the server by {@link joinCluster} once it is ready; without this they would be dropped.
 */
export function holdEarlyConnections(): { replay(): void } {
  const held: [unknown, unknown][] = [];
  // Every message of the library's protocol, in order: a relayed request's later chunks follow its first.
  const hold = (msg: { type?: unknown } | null, handle: unknown) => {
    if (typeof msg?.type === 'string' && msg.type.startsWith(STICKY)) held.push([msg, handle]);
  };
  process.on('message', hold);
  return {
    replay() {
      process.off('message', hold);
      for (const [msg, handle] of held.splice(0)) process.emit('message', msg, handle as never);
    },
  };
}

/**
 * In a worker, after createApp: takes connections from the primary and joins the workers' shared adapter. The
 * cluster modules are loaded here, not at start, so that a single process (the default) never loads them.
 */
export async function joinCluster(
  parley: ParleyApp,
  config: Config,
  logger: Logger,
  early?: { replay(): void },
): Promise<void> {
  const [{ createAdapter }, { setupWorker }] = await Promise.all([
    import('@socket.io/cluster-adapter'),
    import('@socket.io/sticky'),
  ]);
  if (!config.redisUrl) parley.io.adapter(createAdapter());
  setupWorker(parley.io as never);
  // A request with a body arrives as a stand-in stream fed by the primary (not a net.Socket) that the library never
  // closes: once its one response is sent (setupWorker answers `Connection: close`), it is done.
  parley.server.on('connection', (conn: Duplex) => {
    if (!(conn instanceof net.Socket)) conn.once('finish', () => conn.destroy());
  });
  early?.replay();
  // Logged before the primary hears of it, so this line always precedes the primary's "listening" line.
  logger.info({ pid: process.pid }, 'worker ready');
  process.send?.({ type: READY });
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

  // The primary does not answer HTTP itself: setupMaster takes every connection off this server's hands.
  const server = http.createServer();
  (await import('@socket.io/sticky')).setupMaster(server, { loadBalancingMethod: 'least-connection' });
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
      const worker = cluster.fork();
      const onMessage = (msg: { type?: string } | null) => {
        if (msg?.type !== READY) return;
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
