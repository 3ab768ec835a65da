import { QueryTypes } from 'sequelize';
import type { Logger } from '../logger.js';
import { migrations } from './migrations/index.js';
import type { Db } from './sequelize.js';

const TABLE = 'schema_migrations';

/** Names of the applied migrations, or null when the bookkeeping table does not exist yet. */
async function appliedNames(db: Db): Promise<Set<string> | null> {
  try {
    const rows = await db.sequelize.query<{ name: string }>(`SELECT name FROM ${TABLE}`, {
      type: QueryTypes.SELECT,
    });
    return new Set(rows.map((r) => r.name));
  } catch {
    return null;
  }
}

/**
 * Brings the schema up to date. Runs at every start; already-applied steps are skipped. umzug (with its command-line
 * dependencies, ~0.1 s to load) is loaded only when something is pending: a restart of an up-to-date node skips it.
 */
export async function migrate(db: Db, logger: Logger): Promise<string[]> {
  const applied = await appliedNames(db);
  if (applied && migrations.every((m) => applied.has(m.name))) return [];
  const { SequelizeStorage, Umzug } = await import('umzug');
  const umzug = new Umzug({
    migrations: migrations.map((m) => ({ name: m.name, up: m.up, down: m.down })),
    context: db.sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize: db.sequelize, tableName: TABLE }),
    logger: undefined,
  });
  const done = await umzug.up();
  if (done.length) logger.info({ migrations: done.map((m) => m.name) }, 'database migrated');
  return done.map((m) => m.name);
}
