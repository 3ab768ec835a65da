import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { QueryTypes } from 'sequelize';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../logger.js';
import { openDb } from './sequelize.js';
import { Checkpoints } from './sqlite-checkpoints.js';
import {
  durableSqliteDriver,
  loadSqliteDriver,
  type DurableDriver,
  type Sqlite3Database,
  type Sqlite3Module,
} from './sqlite-driver.js';

/*
 * The SQLite driver Sequelize gets (connections kept between transactions, rolled back before reuse) and the WAL
 * checkpoints that run beside the commits instead of inside them. On a real file.
 */

const dirs: string[] = [];
const tempFile = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-driver-'));
  dirs.push(dir);
  return path.join(dir, 'test.db');
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const RW = (d: Sqlite3Module) => d.OPEN_READWRITE | d.OPEN_CREATE;
const open = (d: Sqlite3Module, file: string) =>
  new Promise<Sqlite3Database>((resolve, reject) => {
    const c: Sqlite3Database = new d.Database(file, RW(d), (err) => (err ? reject(err) : resolve(c)));
  });
const exec = (c: Sqlite3Database, sql: string) =>
  new Promise<void>((resolve, reject) => c.exec(sql, (err) => (err ? reject(err) : resolve())));
const all = <T>(c: Sqlite3Database, sql: string) =>
  new Promise<T[]>((resolve, reject) =>
    c.all(sql, (err, rows) => (err ? reject(err) : resolve(rows as T[]))),
  );
const close = (c: Sqlite3Database) => new Promise<void>((resolve) => c.close(() => resolve()));

describe('the durable SQLite driver', () => {
  let base: Sqlite3Module;
  let driver: DurableDriver;
  beforeEach(async () => {
    base = await loadSqliteDriver('appthreat');
    driver = durableSqliteDriver(base, 1000);
  });
  afterEach(() => driver.close());

  it('configures each connection: WAL, fsync at commit, foreign keys, no checkpoint at commit', async () => {
    const c = await open(driver.module, tempFile());
    expect(await all(c, 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(await all(c, 'PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
    expect(await all(c, 'PRAGMA foreign_keys')).toEqual([{ foreign_keys: 1 }]);
    expect(await all(c, 'PRAGMA wal_autocheckpoint')).toEqual([{ wal_autocheckpoint: 0 }]);
    expect(await all(c, 'PRAGMA cache_size')).toEqual([{ cache_size: -32768 }]);
  });

  it('hands a closed connection to the next open of the same file, rolled back', async () => {
    const file = tempFile();
    const first = await open(driver.module, file);
    await exec(first, 'CREATE TABLE t (x INTEGER)');
    // Closed in the middle of a transaction, as Sequelize closes one whose COMMIT failed.
    await exec(first, 'BEGIN IMMEDIATE; INSERT INTO t VALUES (1)');
    await close(first);
    const again = await open(driver.module, file);
    expect(again).toBe(first);
    expect(await all(again, 'SELECT count(*) AS n FROM t')).toEqual([{ n: 0 }]);
    // No transaction left open: a new one begins.
    await exec(again, 'BEGIN IMMEDIATE; INSERT INTO t VALUES (2); COMMIT');
    expect(await all(again, 'SELECT x FROM t')).toEqual([{ x: 2 }]);
    // Another file gets a connection of its own.
    const other = await open(driver.module, tempFile());
    expect(other).not.toBe(again);
    await close(other);
  });

  it('parks connections closed at the same time, each once, up to the bound', async () => {
    const file = tempFile();
    // The file is made WAL first, as openDb's first connection does: six first opens racing to switch a new file
    // to WAL can get SQLITE_BUSY (that switch needs the file alone, and SQLite does not wait for it).
    const first = await open(base, file);
    await all(first, 'PRAGMA journal_mode=WAL');
    await close(first);
    const conns = await Promise.all(Array.from({ length: 6 }, () => open(driver.module, file)));
    await Promise.all(conns.map(close));
    // Four are kept (the bound), two really closed; the next four opens get four distinct kept ones.
    const again = await Promise.all(Array.from({ length: 4 }, () => open(driver.module, file)));
    expect(new Set(again).size).toBe(4);
    for (const c of again) expect(conns).toContain(c);
    const closedForGood = conns.filter((c) => !again.includes(c));
    for (const c of closedForGood) await expect(all(c, 'SELECT 1')).rejects.toThrow(/closed|not open/i);
    const fifth = await open(driver.module, file);
    expect(conns).not.toContain(fifth);
    await Promise.all([...again, fifth].map(close));
  });

  it('never parks an in-memory database, and closes for good once the driver is closed', async () => {
    const mem = await open(driver.module, ':memory:');
    await exec(mem, 'CREATE TABLE t (x INTEGER)');
    await close(mem);
    const mem2 = await open(driver.module, ':memory:');
    expect(mem2).not.toBe(mem);
    await close(mem2);

    const file = tempFile();
    const c = await open(driver.module, file);
    await close(c);
    await driver.close();
    // The parked one is closed: using it fails; a new open gets a new connection, which a close really closes.
    await expect(all(c, 'SELECT 1')).rejects.toThrow(/closed|not open/i);
    const fresh = await open(driver.module, file);
    expect(fresh).not.toBe(c);
    await close(fresh);
    await expect(all(fresh, 'SELECT 1')).rejects.toThrow(/closed|not open/i);
  });
});

describe('WAL checkpoints beside the commits', () => {
  it('copy every committed frame back into the database, which commits no longer do', async () => {
    const base = await loadSqliteDriver('appthreat');
    const driver = durableSqliteDriver(base, 1000);
    const file = tempFile();
    const writer = await open(driver.module, file);
    const cp = await Checkpoints.open(base, file, 1000);
    try {
      await exec(writer, 'CREATE TABLE t (x TEXT)');
      // Far past the 1,000 pages at which a commit would have checkpointed by itself.
      for (let i = 0; i < 20; i++) {
        await exec(
          writer,
          `BEGIN IMMEDIATE; WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 500)
           INSERT INTO t SELECT hex(randomblob(500)) FROM n; COMMIT`,
        );
      }
      const walBefore = statSync(`${file}-wal`).size;
      expect(walBefore).toBeGreaterThan(1000 * 4096);
      const r = await cp.checkpoint();
      expect(r.busy).toBe(0);
      expect(r.log).toBeGreaterThan(1000);
      expect(r.checkpointed).toBe(r.log);
      // The data is in the database file now.
      expect(statSync(file).size).toBeGreaterThan(20 * 500 * 1000);
    } finally {
      await cp.close();
      await close(writer);
      await driver.close();
    }
  });

  it('openDb: Sequelize connections do not checkpoint at commit, and close leaves no WAL behind', async () => {
    const file = tempFile();
    const db = await openDb(`sqlite:${file}`, createLogger('silent'));
    const [row] = await db.sequelize.query<{ wal_autocheckpoint: number }>('PRAGMA wal_autocheckpoint', {
      type: QueryTypes.SELECT,
    });
    expect(row).toEqual({ wal_autocheckpoint: 0 });
    await db.tx(async (t) => {
      await db.sequelize.query('CREATE TABLE t (x INTEGER)', { transaction: t });
      await db.sequelize.query('INSERT INTO t VALUES (1)', { transaction: t });
    });
    await db.close();
    // The last connection checkpointed and removed the WAL on close, as SQLite does.
    expect(() => statSync(`${file}-wal`)).toThrow();
  });
});
