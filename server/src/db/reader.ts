import { DatabaseError } from 'sequelize';
import { SQLITE_CACHE_SIZE } from './sqlite-driver.js';

/*
 * The SQLite read connection of the hot reads (history pages, sessions, search): a connection of our own, opened
 * through the driver's public API, read-only. Sequelize keeps its own connections for models and transactions;
 * this one never writes, so it never takes the write lock and never waits behind a group commit. In WAL mode each
 * statement reads the last committed snapshot, whichever connection committed it.
 *
 * It is the driver Sequelize loaded (the same copy of SQLite in the process: two copies would break each other's
 * POSIX locks, sqlite.org/howtocorrupt.html §2.2.1). Statements are prepared once per SQL text and kept: the
 * parse and plan of a history query cost as much as running it.
 */

/** The part of the sqlite3 driver (node-sqlite3 or @appthreat/sqlite3) the reader uses. */
export interface ReaderDriver {
  Database: new (file: string, mode: number, cb: (err: Error | null) => void) => DriverDatabase;
  OPEN_READONLY: number;
}

interface DriverStatement {
  all(params: Record<string, unknown>, cb: (err: Error | null, rows: unknown[]) => void): void;
  finalize(cb?: (err: Error | null) => void): void;
}

/** The part of a driver connection the reader uses. */
export interface DriverDatabase {
  configure(option: 'busyTimeout', value: number): void;
  exec(sql: string, cb: (err: Error | null) => void): void;
  prepare(sql: string, cb: (err: Error | null) => void): DriverStatement;
  close(cb: (err: Error | null) => void): void;
}

/** Told of every statement the reader runs (tests check what the server runs, and its plan). */
export type QueryListener = (sql: string, bind: Record<string, unknown>) => void;

/** A read-only connection: `$name` parameters, rows as the driver gives them. */
export interface SqliteReader {
  all<T>(sql: string, params: Record<string, unknown>): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * Opens a connection of our own on `file` through the driver's public API, with a busy timeout: a checkpoint or a
 * schema change can hold the file for a moment, and the connection then waits for it rather than fails at once.
 */
export async function openDriverConnection<D extends DriverDatabase>(
  driver: { Database: new (file: string, mode: number, cb: (err: Error | null) => void) => D },
  file: string,
  mode: number,
  busyTimeoutMs: number,
): Promise<D> {
  const db = await new Promise<D>((resolve, reject) => {
    const d = new driver.Database(file, mode, (err) => (err ? reject(err) : resolve(d)));
  });
  db.configure('busyTimeout', busyTimeoutMs);
  return db;
}

/** At most this many prepared statements are kept (the server has a few dozen distinct read statements). */
const MAX_STATEMENTS = 200;

/** Opens `file` read-only with `driver`; the database must exist (the writer created and migrated it). */
export async function openSqliteReader(
  driver: ReaderDriver,
  file: string,
  opts: { busyTimeoutMs: number; onQuery?: () => QueryListener | undefined },
): Promise<SqliteReader> {
  const db = await openDriverConnection(driver, file, driver.OPEN_READONLY, opts.busyTimeoutMs);
  // The page cache of the writing connections (sqlite-driver.ts): SQLite's 2 MiB default holds less than the
  // index pages a busy history touches, and each miss is a read from the OS.
  await new Promise<void>((resolve, reject) =>
    db.exec(`PRAGMA cache_size=${SQLITE_CACHE_SIZE}`, (err) => (err ? reject(err) : resolve())),
  );
  const statements = new Map<string, Promise<DriverStatement>>();

  const prepare = (sql: string): Promise<DriverStatement> => {
    let stmt = statements.get(sql);
    if (stmt) return stmt;
    if (statements.size >= MAX_STATEMENTS) {
      // The oldest one goes (Map keeps insertion order); a statement still running finishes first.
      const [oldest, p] = statements.entries().next().value!;
      statements.delete(oldest);
      void p.then((s) => s.finalize()).catch(() => {});
    }
    stmt = new Promise<DriverStatement>((resolve, reject) => {
      const s = db.prepare(sql, (err) => (err ? reject(err) : resolve(s)));
    });
    statements.set(sql, stmt);
    // A statement that did not prepare (a syntax error) is not kept.
    stmt.catch(() => statements.delete(sql));
    return stmt;
  };

  // Wrapped as Sequelize wraps driver errors, so the one error mapping (SQLITE_BUSY: 503) treats both alike.
  const wrap = (err: Error, sql: string) => new DatabaseError(Object.assign(err, { sql }));

  return {
    async all<T>(sql: string, params: Record<string, unknown>): Promise<T[]> {
      const bound: Record<string, unknown> = {};
      for (const k in params) bound[`$${k}`] = params[k];
      let stmt: DriverStatement;
      try {
        stmt = await prepare(sql);
      } catch (err) {
        throw wrap(err as Error, sql);
      }
      const rows = await new Promise<T[]>((resolve, reject) =>
        stmt.all(bound, (err, r) => (err ? reject(wrap(err, sql)) : resolve(r as T[]))),
      );
      opts.onQuery?.()?.(sql, params);
      return rows;
    },
    async close(): Promise<void> {
      const open = [...statements.values()];
      statements.clear();
      await Promise.all(
        open.map((p) => p.then((s) => new Promise<void>((r) => s.finalize(() => r()))).catch(() => {})),
      );
      await new Promise<void>((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
