import { ConfigError, loadConfig, type Config } from './config.js';
import { createApp, type ParleyApp } from './app.js';
import { createLogger } from './logger.js';

/** Reads the environment, starts Parley, and shuts down cleanly on SIGTERM/SIGINT. */
let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
const logger = createLogger(config.logLevel);

// Registered before start-up: a SIGTERM during migrations waits for start-up to finish, then closes cleanly.
let starting: Promise<ParleyApp> | null = null;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'shutting down');
    (starting ?? Promise.reject(new Error('not started')))
      .then((parley) => parley.close())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  });
}

starting = createApp(config, { logger });
const parley = await starting;
const port = await parley.listen();
logger.info({ port, host: config.host, database: config.databaseUrl.split(':')[0] }, `Parley listening on port ${port}`);
