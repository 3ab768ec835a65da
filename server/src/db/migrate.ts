import { SequelizeStorage, Umzug } from 'umzug';
import type { Logger } from '../logger.js';
import { migrations } from './migrations/index.js';
import type { Db } from './sequelize.js';

/** Brings the schema up to date. Runs at every start; already-applied steps are skipped. */
export async function migrate(db: Db, logger: Logger): Promise<string[]> {
  const umzug = new Umzug({
    migrations: migrations.map((m) => ({ name: m.name, up: m.up, down: m.down })),
    context: db.sequelize.getQueryInterface(),
    storage: new SequelizeStorage({ sequelize: db.sequelize, tableName: 'schema_migrations' }),
    logger: undefined,
  });
  const applied = await umzug.up();
  if (applied.length) logger.info({ migrations: applied.map((m) => m.name) }, 'database migrated');
  return applied.map((m) => m.name);
}
