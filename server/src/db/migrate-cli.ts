import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { migrate } from './migrate.js';
import { openDb } from './sequelize.js';

/** `npm run db:migrate`: apply pending migrations to DATABASE_URL (or the SQLite file in DATA_DIR) and exit. */
const config = loadConfig();
const logger = createLogger(config.logLevel);
const db = await openDb(config.databaseUrl, logger, { sqliteDriver: config.sqliteDriver });
const applied = await migrate(db, logger);
logger.info({ applied }, applied.length ? 'migrations applied' : 'schema already up to date');
await db.close();
