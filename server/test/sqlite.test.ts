import { QueryTypes, type QueryOptionsWithType } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import { migrations } from '../src/db/migrations/index.js';
import { createLogger } from '../src/logger.js';
import { client, DIALECT, register, startTestServer, type TestServer } from '../src/test-support/server.js';

/*
 * The storage layer as the server really runs it: the pragmas every SQLite connection must carry (including the
 * extra connection Sequelize opens per transaction), the migration ledger, and the history index.
 */

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

const select = <T extends object>(sql: string, opts: Record<string, unknown> = {}) =>
  srv.parley.ctx.db.sequelize.query<T>(sql, {
    type: QueryTypes.SELECT,
    ...opts,
  } as QueryOptionsWithType<QueryTypes.SELECT>);

/** The SQL text a Sequelize query object ran. */
const sqlOf = (query: unknown) => String((query as { sql?: string }).sql ?? '');

const ONLY_SQLITE =
  DIALECT === 'sqlite' ? 'SQLite' : 'SQLite (SKIPPED: TEST_DATABASE_URL is set, this run is PostgreSQL)';

describe.skipIf(DIALECT !== 'sqlite')(ONLY_SQLITE, () => {
  async function pragmas(opts: Record<string, unknown> = {}) {
    const [journal] = await select<{ journal_mode: string }>('PRAGMA journal_mode', opts);
    const [sync] = await select<{ synchronous: number }>('PRAGMA synchronous', opts);
    const [busy] = await select<{ timeout: number }>('PRAGMA busy_timeout', opts);
    const [fk] = await select<{ foreign_keys: number }>('PRAGMA foreign_keys', opts);
    return {
      journalMode: journal!.journal_mode,
      synchronous: sync!.synchronous,
      busyTimeout: busy!.timeout,
      foreignKeys: fk!.foreign_keys,
    };
  }

  it('the default connection is WAL, synchronous=FULL, with a busy timeout and foreign keys', async () => {
    expect(srv.parley.ctx.db.dialect).toBe('sqlite');
    const p = await pragmas();
    expect(p.journalMode.toLowerCase()).toBe('wal');
    expect(p.synchronous).toBe(2); // FULL
    expect(p.busyTimeout).toBeGreaterThan(0);
    expect(p.foreignKeys).toBe(1);
  });

  it('the connection of a write transaction carries the same pragmas and begins IMMEDIATE', async () => {
    const seen: string[] = [];
    const hook = (_options: unknown, query: unknown) => void seen.push(sqlOf(query));
    const sequelize = srv.parley.ctx.db.sequelize;
    sequelize.addHook('afterQuery', 'sqlite-test', hook);
    try {
      const inTx = await srv.parley.ctx.db.tx(async (t) => {
        // Sequelize opens a separate connection per transaction on SQLite: check that one, not the default.
        const own = (t as unknown as { connection: unknown }).connection;
        const shared = (sequelize as any).connectionManager.connections.default;
        expect(own).toBeDefined();
        expect(own).not.toBe(shared);
        return pragmas({ transaction: t });
      });
      expect(inTx.journalMode.toLowerCase()).toBe('wal');
      expect(inTx.synchronous).toBe(2);
      expect(inTx.busyTimeout).toBeGreaterThan(0);
      expect(inTx.foreignKeys).toBe(1);
    } finally {
      sequelize.removeHook('afterQuery', 'sqlite-test');
    }
    expect(
      seen.some((sql) => /^BEGIN IMMEDIATE/i.test(sql.trim())),
      seen.join('\n'),
    ).toBe(true);
  });

  it('hot reads run on a read-only WAL connection of their own that sees every commit at once', async () => {
    const { db } = srv.parley.ctx;
    const [journal] = await db.read<{ journal_mode: string }>('PRAGMA journal_mode', {});
    expect(journal!.journal_mode.toLowerCase()).toBe('wal');
    const [busy] = await db.read<{ timeout: number }>('PRAGMA busy_timeout', {});
    expect(busy!.timeout).toBeGreaterThan(0);
    // Read-only: a write through it is refused by SQLite itself.
    await expect(db.read('DELETE FROM sessions WHERE id = $id', { id: 'none' })).rejects.toThrow(/readonly/i);
    // A commit on the writer is seen by the next read: no snapshot is held between statements.
    const name = `reader-${Date.now()}`;
    const before = await db.read<{ n: number }>('SELECT COUNT(*) AS n FROM rooms WHERE name = $name', {
      name,
    });
    expect(before[0]!.n).toBe(0);
    const call = client(srv.url);
    const me = await register(call);
    const room = await call('POST', '/api/chatrooms', { token: me.accessToken, body: { name } });
    expect(room.status).toBe(201);
    const after = await db.read<{ n: number }>('SELECT COUNT(*) AS n FROM rooms WHERE name = $name', {
      name,
    });
    expect(after[0]!.n).toBe(1);
    // The server's reads and Sequelize's queries are both seen by watchQueries.
    const seen: string[] = [];
    const stop = db.watchQueries((sql) => void seen.push(sql));
    try {
      await db.read('SELECT 1 AS one', {});
      await db.sequelize.query('SELECT 2 AS two', { type: QueryTypes.SELECT });
    } finally {
      stop();
    }
    expect(seen).toEqual(['SELECT 1 AS one', 'SELECT 2 AS two']);
  });

  it('the history index (roomId, id) exists and serves every kind of history page without a sort', async () => {
    const indexes = await select<{ name: string; unique: number }>(`PRAGMA index_list('messages')`);
    expect(indexes.map((i) => i.name)).toContain('messages_room_id');
    const cols = await select<{ name: string; seqno: number }>(`PRAGMA index_info('messages_room_id')`);
    expect(cols.sort((a, b) => a.seqno - b.seqno).map((c) => c.name)).toEqual(['roomId', 'id']);

    // Real traffic: a room with some messages, read through the API, capturing the SQL the server runs.
    const call = client(srv.url);
    const me = await register(call);
    const room = await call('POST', '/api/chatrooms', {
      token: me.accessToken,
      body: { name: `idx-${Date.now()}` },
    });
    expect(room.status).toBe(201);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const m = await call('POST', `/api/chatrooms/${room.body.id}/messages`, {
        token: me.accessToken,
        body: { text: `m${i}` },
      });
      expect(m.status).toBe(201);
      ids.push(m.body.id);
    }

    const pages = ['', `&before=${ids[3]}`, `&after=${ids[1]}`];
    for (const page of pages) {
      const captured: { sql: string; bind: unknown }[] = [];
      const stop = srv.parley.ctx.db.watchQueries((sql, bind) => {
        if (/FROM [`"]?messages[`"]?/i.test(sql) && /ORDER BY/i.test(sql) && /LIMIT/i.test(sql))
          captured.push({ sql, bind });
      });
      let res;
      try {
        res = await call('GET', `/api/chatrooms/${room.body.id}/messages?limit=2${page}`, {
          token: me.accessToken,
        });
      } finally {
        stop();
      }
      expect(res.status).toBe(200);
      expect(res.body.messages.length).toBe(2);
      expect(captured.length, `history query for "${page}" not captured`).toBeGreaterThan(0);
      for (const q of captured) {
        const plan = await select<{ detail: string }>(`EXPLAIN QUERY PLAN ${q.sql.replace(/;\s*$/, '')}`, {
          bind: q.bind,
        });
        const detail = plan.map((p) => p.detail).join(' | ');
        expect(detail, `${q.sql}\n=> ${detail}`).toMatch(/USING (COVERING )?INDEX messages_room_id/);
        expect(detail, `${q.sql}\n=> ${detail}`).not.toMatch(/TEMP B-TREE/);
        expect(detail, `${q.sql}\n=> ${detail}`).not.toMatch(/\bSCAN messages\b(?! USING)/);
      }
    }
  });
});

describe(`migrations (${DIALECT})`, () => {
  it('are recorded in schema_migrations, and running them again applies nothing', async () => {
    const table = srv.parley.ctx.db.dialect === 'postgres' ? '"schema_migrations"' : '`schema_migrations`';
    const rows = await select<{ name: string }>(`SELECT name FROM ${table}`);
    const recorded = rows.map((r) => r.name);
    expect(recorded.length).toBeGreaterThan(0);
    expect(recorded.sort()).toEqual(migrations.map((m) => m.name).sort());

    const applied = await migrate(srv.parley.ctx.db, createLogger('silent'));
    expect(applied).toEqual([]);
    const after = await select<{ name: string }>(`SELECT name FROM ${table}`);
    expect(after.length).toBe(rows.length);
  });
});
