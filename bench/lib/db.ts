import path from 'node:path';
import type * as Sqlite3 from '@appthreat/sqlite3';
import pg from 'pg';

/*
 * Direct access to a running (or stopped) Parley server's database, beside the server: for seeding rows the API
 * would take hours to write, for checking what was stored, and for the "bare query" baselines. SQL is written once
 * with `?` placeholders and double-quoted identifiers, which both SQLite and PostgreSQL accept.
 */

export type BenchDialect = 'sqlite' | 'postgres';

/** One connection to the database a Parley server was started with. */
export interface BenchDb {
  dialect: BenchDialect;
  /** SQLite file path or PostgreSQL URL, for notes. */
  where: string;
  all<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

/** The database URL a server started with `env` uses (the same rule as server/src/config.ts). */
export function databaseUrlOf(env: Record<string, string>): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const dataDir = path.resolve(env.DATA_DIR ?? './data');
  return `sqlite:${path.join(dataDir, 'parley.db')}`;
}

/** Opens the database of the server started with `env` (DATABASE_URL, else DATA_DIR/parley.db). */
export async function openBenchDb(env: Record<string, string>): Promise<BenchDb> {
  const url = databaseUrlOf(env);
  return url.startsWith('sqlite:') ? openSqlite(url.slice('sqlite:'.length)) : openPostgres(url);
}

async function openSqlite(file: string): Promise<BenchDb> {
  // A CommonJS module whose typings describe named exports; at run time they all sit on the default export.
  const sqlite3 = ((await import('@appthreat/sqlite3')) as unknown as { default: typeof Sqlite3 }).default;
  const db = await new Promise<Sqlite3.Database>((resolve, reject) => {
    const d = new sqlite3.Database(file, sqlite3.OPEN_READWRITE, (err: Error | null) =>
      err ? reject(err) : resolve(d),
    );
  });
  // The server may hold the write lock for a moment: wait for it rather than fail with SQLITE_BUSY.
  db.configure('busyTimeout', 30_000);
  const all = <T>(sql: string, params: unknown[] = []) =>
    new Promise<T[]>((resolve, reject) =>
      db.all(sql, params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows))),
    );
  return {
    dialect: 'sqlite',
    where: file,
    all,
    run: (sql, params = []) =>
      new Promise<void>((resolve, reject) =>
        db.run(sql, params, (err: Error | null) => (err ? reject(err) : resolve())),
      ),
    close: () =>
      new Promise<void>((resolve, reject) =>
        db.close((err: Error | null) => (err ? reject(err) : resolve())),
      ),
  };
}

/** `?` placeholders to PostgreSQL's `$1…$n` (no `?` appears in the benchmark's SQL otherwise). */
const numbered = (sql: string): string => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

async function openPostgres(url: string): Promise<BenchDb> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    dialect: 'postgres',
    where: url.replace(/\/\/[^@/]*@/, '//'),
    all: async <T>(sql: string, params: unknown[] = []) =>
      (await client.query(numbered(sql), params)).rows as T[],
    run: async (sql, params = []) => {
      await client.query(numbered(sql), params);
    },
    close: () => client.end(),
  };
}

/** Number of a COUNT(*)-like first column (PostgreSQL answers bigint as a string). */
export async function scalar(db: BenchDb, sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await db.all(sql, params);
  return row ? Number(Object.values(row)[0]) : 0;
}
