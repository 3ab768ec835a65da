import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { QueryTypes, Sequelize, Transaction, type Options } from 'sequelize';
import type { Logger } from '../logger.js';
import { openSqliteReader, type QueryListener, type SqliteReader } from './reader.js';
import { Checkpoints } from './sqlite-checkpoints.js';
import {
  durableSqliteDriver,
  loadSqliteDriver,
  type DurableDriver,
  type Sqlite3Module,
} from './sqlite-driver.js';

export type Dialect = 'sqlite' | 'postgres';

/** How long a SQLite connection waits for another process's write lock before giving up. */
const SQLITE_BUSY_TIMEOUT_MS = 10_000;

export interface Db {
  sequelize: Sequelize;
  dialect: Dialect;
  /**
   * Runs `fn` in a write transaction. On SQLite the writes of this process are queued here first, so that
   * they wait in order instead of spinning on the file lock; BEGIN IMMEDIATE then takes the lock up front.
   */
  tx<T>(fn: (t: Transaction) => Promise<T>): Promise<T>;
  /**
   * A hot read outside any transaction, with `$name` parameters. On SQLite it runs on a read-only connection of
   * our own (db/reader.ts), with its statement prepared once: Sequelize's pipeline (tokenising the SQL for
   * parameters, a stack trace, a PRAGMA before model reads) costs more than the query itself for a small indexed
   * read. Rows come back as the driver gives them.
   */
  read<T extends object>(sql: string, params: Record<string, unknown>): Promise<T[]>;
  /**
   * Calls `listener` after every statement the server runs, through Sequelize (its public `afterQuery` hook) or
   * `read`; for tests and tools that check what runs and its plan. Returns the function that stops it.
   */
  watchQueries(listener: QueryListener): () => void;
  /**
   * Calls `listener` with the error of every statement that fails, through Sequelize or `read` (the metrics count
   * them). Returns the function that stops it.
   */
  onQueryError(listener: (err: unknown) => void): () => void;
  close(): Promise<void>;
}

/**
 * Sequelize, telling of every failed statement. Every model call, transaction statement and raw query of an
 * instance goes through its public `query` method, so overriding it in a subclass sees them all; Sequelize's
 * `afterQuery` hook runs only for statements that succeed.
 */
class ObservedSequelize extends Sequelize {
  private readonly failures: Set<(err: unknown) => void>;

  constructor(failures: Set<(err: unknown) => void>, url: string | undefined, options: Options) {
    if (url === undefined) super(options);
    else super(url, options);
    this.failures = failures;
  }

  // The overloads of `query` all end here; the types are the caller's, checked against the base's signatures.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override async query(sql: any, options?: any): Promise<any> {
    try {
      return await super.query(sql, options);
    } catch (err) {
      for (const fn of this.failures) fn(err);
      throw err;
    }
  }
}

/** Opens the database named by `databaseUrl` (`sqlite:/path/file.db` or `postgres://…`). */
export async function openDb(
  databaseUrl: string,
  logger: Logger,
  opts: { sqliteDriver?: 'appthreat' | 'sqlite3' } = {},
): Promise<Db> {
  const common: Options = {
    logging: (sql: string) => logger.trace({ sql }, 'sql'),
    define: { freezeTableName: true },
  };
  let sequelize: Sequelize;
  // Told of every failed statement (onQueryError below).
  const failures = new Set<(err: unknown) => void>();
  let dialect: Dialect;
  let driver: Sqlite3Module | undefined;
  let durable: DurableDriver | undefined;
  let storage = '';
  if (databaseUrl.startsWith('sqlite:')) {
    dialect = 'sqlite';
    storage = databaseUrl.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (storage !== ':memory:') mkdirSync(path.dirname(path.resolve(storage)), { recursive: true });
    driver = await loadSqliteDriver(opts.sqliteDriver ?? 'appthreat');
    durable = durableSqliteDriver(driver, SQLITE_BUSY_TIMEOUT_MS);
    sequelize = new ObservedSequelize(failures, undefined, {
      ...common,
      dialect: 'sqlite',
      storage,
      dialectModule: durable.module,
      transactionType: Transaction.TYPES.IMMEDIATE,
      retry: { max: 0 },
    });
  } else {
    dialect = 'postgres';
    sequelize = new ObservedSequelize(failures, databaseUrl, {
      ...common,
      dialect: 'postgres',
      pool: { max: 10, min: 0, idle: 10_000, acquire: 10_000 },
      retry: { max: 0 },
    });
  }
  await sequelize.authenticate();
  // Commits no longer checkpoint (sqlite-driver.ts): this connection does, beside them.
  const checkpoints =
    driver && storage !== ':memory:'
      ? await Checkpoints.open(driver, storage, SQLITE_BUSY_TIMEOUT_MS)
      : undefined;

  let queue: Promise<unknown> = Promise.resolve();
  const tx = <T>(fn: (t: Transaction) => Promise<T>): Promise<T> => {
    if (dialect !== 'sqlite') return sequelize.transaction(fn);
    const run = queue.then(() => sequelize.transaction(fn));
    queue = run.catch(() => undefined);
    return run;
  };
  const listeners = new Set<QueryListener>();
  // The reader opens after the first connection: that one made the file WAL (a read-only one cannot).
  // An in-memory database exists only on Sequelize's own connection: reads go through Sequelize there.
  const reader: SqliteReader | undefined =
    driver && storage !== ':memory:'
      ? await openSqliteReader(driver, storage, {
          busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS,
          onQuery: () => (listeners.size ? (sql, bind) => listeners.forEach((l) => l(sql, bind)) : undefined),
        })
      : undefined;
  // PostgreSQL gets the values inlined as literals, like model reads: a bound parameter takes its column's type,
  // so an id beyond INTEGER (a guessed room id) would be an error instead of "no such row".
  const read = <T extends object>(sql: string, params: Record<string, unknown>): Promise<T[]> =>
    reader
      ? reader.all<T>(sql, params).catch((err: unknown) => {
          for (const fn of failures) fn(err);
          throw err;
        })
      : sequelize.query<T>(sql.replace(/\$(\w+)/g, ':$1'), {
          replacements: params,
          type: QueryTypes.SELECT,
        });
  let watchers = 0;
  const watchQueries = (listener: QueryListener) => {
    const name = `watch-queries-${++watchers}`;
    listeners.add(listener);
    sequelize.addHook('afterQuery', name, (options, query) =>
      listener(
        String((query as { sql?: unknown }).sql ?? ''),
        (options.bind ?? {}) as Record<string, unknown>,
      ),
    );
    return () => {
      listeners.delete(listener);
      sequelize.removeHook('afterQuery', name);
    };
  };
  const onQueryError = (listener: (err: unknown) => void) => {
    failures.add(listener);
    return () => void failures.delete(listener);
  };
  const close = async () => {
    await checkpoints?.close();
    await reader?.close();
    await sequelize.close();
    // After Sequelize: the connections it closes on the way are parked, and closed here.
    await durable?.close();
  };
  return { sequelize, dialect, tx, read, watchQueries, onQueryError, close };
}
