import { openDriverConnection } from './reader.js';
import type { Sqlite3Database, Sqlite3Module } from './sqlite-driver.js';

/*
 * WAL checkpoints off the write path. By default SQLite copies the WAL back into the database file inside the COMMIT
 * that takes the WAL past 1,000 pages, and that commit also waits for the database file's fsync: under a steady
 * stream of group commits every batch's answer waited behind it, and the wait grew with the database (a batch's
 * COMMIT went from 8 to 28 ms over 120,000 messages in the ingest benchmark). SQLite's own advice for that
 * (sqlite.org/wal.html, "Application-Initiated Checkpoints") is to turn the automatic checkpoint off on the writing
 * connections (db/sqlite-driver.ts does) and checkpoint from another connection: a PASSIVE checkpoint takes no lock
 * a writer or a reader waits for, and runs on the thread pool beside the commits.
 *
 * Nothing about durability changes: a commit is durable once its WAL frames are synced, checkpointed or not. When
 * the last connection closes SQLite checkpoints the rest and removes the WAL, as before.
 */

/** How often: the WAL grows by about 2.5 MB/s at 5,000 messages/s, so it stays within a few MB. */
const EVERY_MS = 500;

/** What one `PRAGMA wal_checkpoint` reports: whether it was blocked, WAL frames, frames copied back. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/** A connection of its own that checkpoints the WAL of one database file every {@link EVERY_MS}. */
export class Checkpoints {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CheckpointResult> | undefined;

  private constructor(private readonly conn: Sqlite3Database) {}

  /** Opens the connection (the file exists and is WAL already: Sequelize's first connection made it so). */
  static async open(driver: Sqlite3Module, file: string, busyTimeoutMs: number): Promise<Checkpoints> {
    const conn = await openDriverConnection(driver, file, driver.OPEN_READWRITE, busyTimeoutMs);
    const cp = new Checkpoints(conn);
    cp.timer = setInterval(() => void cp.checkpoint().catch(() => undefined), EVERY_MS);
    // Housekeeping only: never what keeps the process alive.
    cp.timer.unref();
    return cp;
  }

  /** One PASSIVE checkpoint (at most one at a time: a tick that finds one running shares it). */
  checkpoint(): Promise<CheckpointResult> {
    this.running ??= new Promise<CheckpointResult>((resolve, reject) =>
      this.conn.all('PRAGMA wal_checkpoint(PASSIVE)', (err, rows) => {
        if (err) return reject(err);
        const r = rows[0] as Record<string, number> | undefined;
        resolve({ busy: r?.busy ?? 0, log: r?.log ?? 0, checkpointed: r?.checkpointed ?? 0 });
      }),
    ).finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stops the timer and closes the connection, after a checkpoint still running. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
    await new Promise<void>((resolve) => this.conn.close(() => resolve()));
  }
}
