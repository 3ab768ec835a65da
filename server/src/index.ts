import cluster from 'node:cluster';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createApp, type ParleyApp } from './app.js';
import { joinCluster, runPrimary, workerCount } from './cluster.js';
import { parseMetricsAllow } from './http/metrics.js';
import { createLogger, type Logger } from './logger.js';
import { drainable, shutdownTimeoutMs, type Drainable } from './shutdown.js';

/**
 * Reads the environment and starts Parley: one process (the default), or with WORKERS > 1 (`npm run
 * start:cluster`) a primary that runs WORKERS copies of it (cluster.ts). SIGTERM/SIGINT drain and stop it
 * (shutdown.ts): exit code 0 once closed cleanly, 1 if that did not finish within SHUTDOWN_TIMEOUT_MS.
 */
let config: Config;
let workers: number;
let timeoutMs: number;
try {
  config = loadConfig();
  workers = cluster.isWorker ? 1 : workerCount();
  timeoutMs = shutdownTimeoutMs();
  parseMetricsAllow(process.env.METRICS_ALLOW);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

if (workers > 1) {
  await runPrimary({ config, logger: createLogger(config.logLevel), workers, shutdownTimeoutMs: timeoutMs });
} else {
  const base = createLogger(config.logLevel);
  await serve(config, cluster.isWorker ? base.child({ worker: cluster.worker?.id }) : base, timeoutMs);
}

/** One Parley in this process: a single node, or one worker of a cluster. */
async function serve(config: Config, logger: Logger, timeoutMs: number): Promise<void> {
  let stopping = false;
  // Armed before start-up: a signal during migrations waits for start-up to finish, then drains and exits.
  let starting: Promise<{ parley: ParleyApp; drain: Drainable }> | null = null;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const hard = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, timeoutMs);
    hard.unref();
    (starting ?? Promise.reject(new Error('not started')))
      .then(({ drain }) => drain.shutdown(timeoutMs))
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));

  starting = createApp(config, { logger, websocketOnly: cluster.isWorker }).then((parley) => ({
    parley,
    drain: drainable(parley, logger),
  }));
  const { parley } = await starting;
  if (stopping) return;
  if (cluster.isWorker) {
    await joinCluster(parley, config, logger);
    return;
  }
  const port = await parley.listen();
  logger.info(
    { port, host: config.host, database: config.databaseUrl.split(':')[0] },
    `Parley listening on port ${port}`,
  );
}
