import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DatabaseError, QueryTypes, Sequelize, Transaction, type Options } from 'sequelize';
import type { Logger } from '../logger.js';

export type Dialect = 'sqlite' | 'postgres';

/** How long a SQLite connection waits for another process's write lock before giving up. */
const SQLITE_BUSY_TIMEOUT_MS = 10_000;

interface Sqlite3Module {
  Database: new (file: string, mode: number, cb: (err: Error | null) => void) => Sqlite3Database;
  OPEN_READWRITE: number;
  OPEN_CREATE: number;
}
interface Sqlite3Database {
  exec(sql: string, cb: (err: Error | null) => void): void;
  configure(option: 'busyTimeout', value: number): void;
}

/**
 * Wraps the sqlite3 driver so that every connection Sequelize opens (it opens one per transaction) is durable
 * before first use: WAL journal, fsync on every commit, and a busy timeout instead of instant SQLITE_BUSY.
 */
async function durableSqliteModule(driver: 'appthreat' | 'sqlite3'): Promise<Sqlite3Module> {
  const mod = (
    driver === 'sqlite3'
      ? await import(/* optional dependency */ 'sqlite3' as string)
      : await import('@appthreat/sqlite3')
  ) as { default: Sqlite3Module };
  const base = mod.default;
  class DurableDatabase extends base.Database {
    constructor(file: string, mode: number, cb: (err: Error | null) => void) {
      super(file, mode, (err) => {
        if (err) return cb(err);
        this.configure('busyTimeout', SQLITE_BUSY_TIMEOUT_MS);
        this.exec('PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;', cb);
      });
    }
  }
  return { ...base, Database: DurableDatabase } as Sqlite3Module;
}

interface SqliteConnectionManager {
  getConnection(opts?: { uuid?: string }): Promise<object>;
  releaseConnection(connection: object, force?: boolean): void;
  destroyConnection(connection: object): Promise<void>;
}

export interface Db {
  sequelize: Sequelize;
  dialect: Dialect;
  /**
   * Runs `fn` in a write transaction. On SQLite the writes of this process are queued here first, so that
   * they wait in order instead of spinning on the file lock; BEGIN IMMEDIATE then takes the lock up front.
   */
  tx<T>(fn: (t: Transaction) => Promise<T>): Promise<T>;
  /**
   * A hot read outside any transaction, with `$name` parameters. On SQLite it goes straight to the driver on the
   * reading connection: Sequelize's pipeline (tokenising the SQL for parameters, a stack trace, a PRAGMA before
   * model reads) costs more than the query itself for a small indexed read. Rows come back as the driver gives them.
   */
  read<T extends object>(sql: string, params: Record<string, unknown>): Promise<T[]>;
  close(): Promise<void>;
}

interface SqliteReader {
  all(sql: string, params: Record<string, unknown>, cb: (err: Error | null, rows: unknown[]) => void): void;
}

async function sqliteRead<T>(
  sequelize: Sequelize,
  sql: string,
  params: Record<string, unknown>,
): Promise<T[]> {
  const cm = sequelize.connectionManager as unknown as SqliteConnectionManager;
  const bound: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) bound[`$${k}`] = v;
  const conn = await cm.getConnection();
  const rows = await new Promise<T[]>((resolve, reject) =>
    // Wrapped as Sequelize wraps it, so that the error mapping (SQLITE_BUSY: 503) and the metrics treat it alike.
    (conn as SqliteReader).all(sql, bound, (err, r) =>
      err ? reject(new DatabaseError(Object.assign(err, { sql }))) : resolve(r as T[]),
    ),
  );
  // afterQuery hooks still see the SQL (tests check the plan of what the server runs); without hooks this is free.
  (sequelize as unknown as { runHooks(name: string, ...args: unknown[]): unknown }).runHooks(
    'afterQuery',
    { bind: params, type: QueryTypes.SELECT },
    { sql },
  );
  return rows;
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
  let dialect: Dialect;
  if (databaseUrl.startsWith('sqlite:')) {
    dialect = 'sqlite';
    const storage = databaseUrl.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (storage !== ':memory:') mkdirSync(path.dirname(path.resolve(storage)), { recursive: true });
    sequelize = new Sequelize({
      ...common,
      dialect: 'sqlite',
      storage,
      dialectModule: await durableSqliteModule(opts.sqliteDriver ?? 'appthreat'),
      transactionType: Transaction.TYPES.IMMEDIATE,
      retry: { max: 0 },
    });
  } else {
    dialect = 'postgres';
    sequelize = new Sequelize(databaseUrl, {
      ...common,
      dialect: 'postgres',
      pool: { max: 10, min: 0, idle: 10_000, acquire: 10_000 },
      retry: { max: 0 },
    });
  }
  await sequelize.authenticate();

  let queue: Promise<unknown> = Promise.resolve();
  const tx = <T>(fn: (t: Transaction) => Promise<T>): Promise<T> => {
    if (dialect !== 'sqlite') return sequelize.transaction(fn);
    const run = queue.then(() => sequelize.transaction(fn));
    queue = run.catch(() => undefined);
    return run;
  };
  // PostgreSQL gets the values inlined as literals, like model reads: a bound parameter takes its column's type,
  // so an id beyond INTEGER (a guessed room id) would be an error instead of "no such row".
  const read = <T extends object>(sql: string, params: Record<string, unknown>): Promise<T[]> =>
    dialect === 'sqlite'
      ? sqliteRead<T>(sequelize, sql, params)
      : sequelize.query<T>(sql.replace(/\$(\w+)/g, ':$1'), {
          replacements: params,
          type: QueryTypes.SELECT,
        });
  return { sequelize, dialect, tx, read, close: () => sequelize.close() };
}
