import type { DriverDatabase } from './reader.js';

/*
 * The SQLite driver as Sequelize gets it (its public `dialectModule` option): the real driver, whose connections are
 * made durable before first use and kept open between transactions.
 *
 * Sequelize's SQLite dialect opens a connection for every transaction and closes it at the end (its connection
 * manager keys connections by transaction id). Each open costs a file open, the PRAGMAs below and, at the first
 * statement, parsing the whole schema (FTS5 table and triggers included), all on the thread pool and each a turn of
 * the event loop that waits behind whatever the loop is doing: the group commit's every batch paid it (D33). So a
 * connection Sequelize closes is parked instead, and the next one it opens on the same file is that one, already
 * configured. What Sequelize sees is unchanged: a driver connection that opens, runs statements and closes.
 */

/** The sqlite3 driver module (node-sqlite3 or @appthreat/sqlite3), as far as the server uses it. */
export interface Sqlite3Module {
  Database: new (file: string, mode: number, cb: (err: Error | null) => void) => Sqlite3Database;
  OPEN_READWRITE: number;
  OPEN_CREATE: number;
  OPEN_READONLY: number;
}

export interface Sqlite3Database extends DriverDatabase {
  all(sql: string, cb: (err: Error | null, rows: unknown[]) => void): void;
  configure(option: 'busyTimeout', value: number): void;
}

/** The driver module for Sequelize, and the way to close what it keeps open. */
export interface DurableDriver {
  module: Sqlite3Module;
  /** Closes the parked connections; from then on a connection Sequelize closes is closed. */
  close(): Promise<void>;
}

/** Every connection's page cache, in SQLite's unit for a size: minus KiB (32 MiB). */
export const SQLITE_CACHE_SIZE = -32768;

/**
 * Every connection: WAL journal with an fsync at every commit (an acked message survives a power cut); foreign
 * keys; a 32 MiB page cache (SQLite's default is 2 MiB, less than the indexes a busy history touches); and no
 * checkpoint at commit: the WAL is copied back into the database by db/sqlite-checkpoints.ts, off the write path.
 */
const CONNECTION_PRAGMAS = `PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;
  PRAGMA cache_size=${SQLITE_CACHE_SIZE}; PRAGMA wal_autocheckpoint=0;`;

/** Connections kept per file: Sequelize runs one write transaction at a time here (db.tx), plus its default one. */
const MAX_PARKED = 4;

/** Loads the sqlite3 driver (one copy of SQLite in the process: Sequelize and the reader share it). */
export async function loadSqliteDriver(driver: 'appthreat' | 'sqlite3'): Promise<Sqlite3Module> {
  const mod = (
    driver === 'sqlite3'
      ? await import(/* optional dependency */ 'sqlite3' as string)
      : await import('@appthreat/sqlite3')
  ) as { default: Sqlite3Module };
  return mod.default;
}

/**
 * Wraps the driver so that every connection is durable before first use (WAL journal, fsync on every commit, a
 * busy timeout instead of instant SQLITE_BUSY) and, once Sequelize closes it, parked for its next open of the same
 * file. A parked connection is rolled back first: Sequelize also closes a connection whose COMMIT failed midway
 * ("killing its connection as it is now in an undetermined state"), and that must not leak into the next
 * transaction (a ROLLBACK outside a transaction is a harmless error). In-memory databases are never parked: each
 * connection is its own database.
 */
export function durableSqliteDriver(base: Sqlite3Module, busyTimeoutMs: number): DurableDriver {
  const parked = new Map<string, Sqlite3Database[]>();
  let shut = false;
  const keyOf = (file: string, mode: number) => `${mode}\u0000${file}`;

  class DurableDatabase extends base.Database {
    readonly parkingKey: string | undefined;

    constructor(file: string, mode: number, cb: (err: Error | null) => void) {
      super(file, mode, (err) => {
        if (err) return cb(err);
        this.configure('busyTimeout', busyTimeoutMs);
        this.exec(CONNECTION_PRAGMAS, cb);
      });
      this.parkingKey = file === ':memory:' || file === '' ? undefined : keyOf(file, mode);
    }

    /** Parks the connection (see above) unless the driver is shut or enough are parked already. */
    override close(cb?: (err: Error | null) => void): void {
      const key = this.parkingKey;
      if (shut || key === undefined) return this.closeNow(cb);
      this.exec('ROLLBACK', () => {
        // Looked up now, not before the ROLLBACK: connections closed at the same time all find the one list.
        const spots = parked.get(key) ?? [];
        if (shut || spots.length >= MAX_PARKED) return this.closeNow(cb);
        spots.push(this);
        parked.set(key, spots);
        cb?.(null);
      });
    }

    closeNow(cb?: (err: Error | null) => void): void {
      super.close(cb ?? (() => undefined));
    }
  }

  // Called with `new` by Sequelize: a constructor may hand back another object, here a parked connection.
  function Database(file: string, mode: number, cb: (err: Error | null) => void): Sqlite3Database {
    const reused = shut ? undefined : parked.get(keyOf(file, mode))?.pop();
    if (!reused) return new DurableDatabase(file, mode, cb);
    // Sequelize keeps the object `new` returns before its callback runs: answer after this turn, never inside it.
    queueMicrotask(() => cb(null));
    return reused;
  }

  const close = async () => {
    shut = true;
    const all = [...parked.values()].flat();
    parked.clear();
    await Promise.all(
      all.map((c) => new Promise<void>((resolve) => (c as DurableDatabase).closeNow(() => resolve()))),
    );
  };
  return { module: { ...base, Database: Database as unknown as Sqlite3Module['Database'] }, close };
}
