import type { Message, SearchResults, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as m008 from '../src/db/migrations/008-search-index-rowids.js';
import { fold, searchTerms, snippet } from '../src/modules/search/terms.js';
import { QueryTypes } from 'sequelize';
import {
  client,
  PG_URL,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../src/test-support/server.js';
import { MISSING_ID, expectError, expectStatus } from './helpers/http.js';
import { addMember, createRoom, joinRoom, postMessage } from './helpers/realtime.js';

/*
 * Message search (contract v2, "Search") and the page around a message ("Lists are paged", `around=`), on the
 * database of this run (SQLite, or PostgreSQL with TEST_DATABASE_URL). Every test searches for words of its own
 * (uniqueName), so the messages of the other tests never match.
 */

let server: TestServer;
let call: Call;
/** ana owns the rooms; bea is a member of them; out is in none. */
let ana: Session, bea: Session, out: Session;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  [ana, bea, out] = [
    await register(call, uniqueName('ana')),
    await register(call, uniqueName('bea')),
    await register(call, uniqueName('out')),
  ];
});
afterAll(async () => {
  await server?.close();
});

const search = (s: Session | null, query: Record<string, string>) =>
  call('GET', `/api/search?${new URLSearchParams(query)}`, s ? { token: s.accessToken } : {});

async function found(s: Session, query: Record<string, string>): Promise<SearchResults> {
  const res = await search(s, query);
  expectStatus(res, 200);
  return res.body as SearchResults;
}
const ids = (r: SearchResults) => r.results.map((h) => h.message.id);

/** A private room of ana's with bea in it. */
async function sharedRoom() {
  const room = await createRoom(call, ana, 'private');
  await addMember(call, ana, room.id, bea);
  return room;
}

describe('GET /api/search', () => {
  it('refuses the signed out (401)', async () => {
    expectError(await search(null, { q: 'hello' }), 401, 'UNAUTHORIZED');
  });

  it('refuses an empty, blank, too long or control-character query and bad cursors (400)', async () => {
    for (const q of ['', '   ', 'a'.repeat(201), 'caf\u0000e', 'a\u0002b', 'x\u001bz'])
      expectError(await search(ana, { q }), 400, 'VALIDATION_ERROR');
    expectError(await call('GET', '/api/search', { token: ana.accessToken }), 400, 'VALIDATION_ERROR');
    expectError(await search(ana, { q: 'a', before: 'x' }), 400, 'VALIDATION_ERROR');
    expectError(await search(ana, { q: 'a', roomId: '0' }), 400, 'VALIDATION_ERROR');
    expectError(await search(ana, { q: 'a', limit: '51' }), 400, 'VALIDATION_ERROR');
    // 200 characters after trimming is the most.
    expectStatus(await search(ana, { q: `  ${'a'.repeat(200)}  ` }), 200);
  });

  it('answers 404 for a room the caller may not read, as for one that does not exist', async () => {
    const room = await sharedRoom();
    const word = uniqueName('secret');
    await postMessage(call, ana, room.id, `the ${word} plan`);
    expectError(await search(out, { q: word, roomId: room.id }), 404, 'NOT_FOUND');
    expectError(await search(out, { q: word, roomId: MISSING_ID }), 404, 'NOT_FOUND');
    // Nor does it leak without roomId.
    expect((await found(out, { q: word })).results).toEqual([]);
  });

  it('finds messages with every word, the last as a prefix, case- and accent-insensitively, newest first', async () => {
    const room = await sharedRoom();
    const w = uniqueName('w');
    const cafe = await postMessage(call, ana, room.id, `Meet at the Café ${w} tomorrow`);
    const other = await postMessage(call, bea, room.id, `CAFE ${w} closed`);
    await postMessage(call, ana, room.id, `${w} alone`);
    const accented = await postMessage(call, bea, room.id, `naïve ${w.toUpperCase()} Ünïcödé`);

    expect(ids(await found(bea, { q: `cafe ${w}` }))).toEqual([other.id, cafe.id]);
    expect(ids(await found(bea, { q: `${w} CAFÉ` }))).toEqual([other.id, cafe.id]);
    // The last word is a prefix; the others are whole words.
    expect(ids(await found(ana, { q: `${w} tomor` }))).toEqual([cafe.id]);
    expect(ids(await found(ana, { q: `tomor ${w}` }))).toEqual([]);
    expect(ids(await found(ana, { q: `${w} unicode naive` }))).toEqual([accented.id]);
    // Every word must match.
    expect(ids(await found(ana, { q: `cafe ${w} nowhere` }))).toEqual([]);
    // Punctuation is not syntax: quotes, stars, operators and column filters are just separators.
    expect(ids(await found(ana, { q: `"cafe" AND ${w}* text:NEAR(` }))).toEqual([]);
    expect(ids(await found(ana, { q: `"cafe"   (${w})` }))).toEqual([other.id, cafe.id]);
    expect((await found(ana, { q: '!!! *** ""' })).results).toEqual([]);
  });

  it('wraps each hit of the snippet in U+0002 … U+0003, never HTML', async () => {
    const room = await sharedRoom();
    const w = uniqueName('s');
    await postMessage(call, ana, room.id, `<b>Café</b> & ${w}: see the cafés`);
    const [hit] = (await found(ana, { q: `${w} caf` })).results;
    expect(hit!.snippet).toBe(`<b>\u0002Café\u0003</b> & \u0002${w}\u0003: see the \u0002cafés\u0003`);
    expect(hit!.message.text).toBe(`<b>Café</b> & ${w}: see the cafés`);
  });

  it('searches only the rooms and DMs the caller belongs to, or the one room it may read', async () => {
    const w = uniqueName('scope');
    const priv = await sharedRoom();
    const pub = await createRoom(call, ana, 'public');
    const inPrivate = await postMessage(call, ana, priv.id, `${w} private`);
    const inPublic = await postMessage(call, ana, pub.id, `${w} public`);
    const dm = await call('POST', '/api/dms', { token: ana.accessToken, body: { userId: out.user.id } });
    expectStatus(dm, 200);
    const inDm = await postMessage(call, ana, dm.body.id, `${w} direct`);

    expect(ids(await found(ana, { q: w }))).toEqual([inDm.id, inPublic.id, inPrivate.id]);
    expect(ids(await found(bea, { q: w }))).toEqual([inPrivate.id]);
    expect(ids(await found(out, { q: w }))).toEqual([inDm.id]);
    // A public room one has not joined: readable, so searchable by roomId, but not part of "my rooms".
    expect(ids(await found(out, { q: w, roomId: pub.id }))).toEqual([inPublic.id]);
    expect(ids(await found(ana, { q: w, roomId: priv.id }))).toEqual([inPrivate.id]);
    await joinRoom(call, out, pub.id);
    expect(ids(await found(out, { q: w }))).toEqual([inDm.id, inPublic.id]);
  });

  it('pages newest first with before and hasMore', async () => {
    const room = await sharedRoom();
    const w = uniqueName('page');
    const sent: Message[] = [];
    for (let i = 0; i < 5; i++) sent.push(await postMessage(call, ana, room.id, `${w} number ${i}`));
    const newest = sent.map((m) => m.id).reverse();
    const first = await found(ana, { q: w, limit: '2' });
    expect(ids(first)).toEqual(newest.slice(0, 2));
    expect(first.hasMore).toBe(true);
    const second = await found(ana, { q: w, limit: '2', before: newest[1]! });
    expect(ids(second)).toEqual(newest.slice(2, 4));
    expect(second.hasMore).toBe(true);
    const last = await found(ana, { q: w, limit: '2', before: newest[3]! });
    expect(ids(last)).toEqual(newest.slice(4));
    expect(last.hasMore).toBe(false);
  });

  it('keeps the index true: an edit matches its new text only, a deleted message never', async () => {
    const room = await sharedRoom();
    const [before, after] = [uniqueName('old'), uniqueName('new')];
    const m = await postMessage(call, ana, room.id, `${before} words`);
    const kept = await postMessage(call, ana, room.id, `${before} stays`);
    expect(ids(await found(bea, { q: before }))).toEqual([kept.id, m.id]);

    const edit = await call('PATCH', `/api/messages/${m.id}`, {
      token: ana.accessToken,
      body: { text: `${after} words` },
    });
    expectStatus(edit, 200);
    expect(ids(await found(bea, { q: before }))).toEqual([kept.id]);
    const [hit] = (await found(bea, { q: after })).results;
    expect(hit!.message).toMatchObject({ id: m.id, text: `${after} words`, editedAt: expect.any(String) });

    expectStatus(await call('DELETE', `/api/messages/${m.id}`, { token: ana.accessToken }), 204);
    expect(ids(await found(bea, { q: after }))).toEqual([]);
    expect(ids(await found(bea, { q: 'words' })).includes(m.id)).toBe(false);
    // A room's deletion takes its messages out of the index with it.
    expectStatus(await call('DELETE', `/api/chatrooms/${room.id}`, { token: ana.accessToken }), 204);
    expect(ids(await found(ana, { q: before }))).toEqual([]);
  });

  it('finds messages sent together by one group commit (the multi-row INSERT)', async () => {
    const room = await sharedRoom();
    const w = uniqueName('burst');
    const sent = await Promise.all(
      Array.from({ length: 10 }, (_, i) => postMessage(call, i % 2 ? ana : bea, room.id, `${w} ${i}`)),
    );
    const got = await found(ana, { q: w, limit: '50' });
    expect(ids(got).sort()).toEqual(sent.map((m) => m.id).sort());
    expect(ids(got)).toEqual([...ids(got)].sort((a, b) => Number(b) - Number(a)));
  });
});

describe.skipIf(PG_URL)('search on SQLite', () => {
  it('walks the FTS5 index newest first: no sort, messages looked up by id', async () => {
    const room = await sharedRoom();
    const w = uniqueName('plan');
    for (let i = 0; i < 3; i++) await postMessage(call, ana, room.id, `${w} ${i}`);
    const sequelize = server.parley.ctx.db.sequelize;
    const captured: { sql: string; bind: unknown }[] = [];
    const stop = server.parley.ctx.db.watchQueries((sql, bind) => {
      if (sql.includes('messages_fts MATCH')) captured.push({ sql, bind });
    });
    try {
      expect(ids(await found(ana, { q: w, limit: '2' }))).toHaveLength(2);
      expect(ids(await found(ana, { q: w, limit: '2', roomId: room.id }))).toHaveLength(2);
    } finally {
      stop();
    }
    expect(captured).toHaveLength(2);
    for (const q of captured) {
      const plan = await sequelize.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${q.sql}`, {
        bind: q.bind as Record<string, unknown>,
        type: QueryTypes.SELECT,
      });
      const detail = plan.map((p) => p.detail).join(' | ');
      expect(detail, detail).toMatch(/SCAN messages_fts VIRTUAL TABLE/);
      expect(detail, detail).toMatch(/SEARCH msg USING INTEGER PRIMARY KEY/);
      expect(detail, detail).not.toMatch(/TEMP B-TREE/);
    }
  });
});

describe.skipIf(PG_URL)('the FTS5 index (migration 008)', () => {
  const ftsSql = async () => {
    const [row] = await server.parley.ctx.db.sequelize.query<{ sql: string }>(
      `SELECT sql FROM sqlite_master WHERE name = 'messages_fts'`,
      { type: QueryTypes.SELECT },
    );
    return row!.sql;
  };
  /**
   * FTS5's own check of the index's structure (throws when broken). Not against the content table (`rank` 1): the
   * index holds the live messages only, on purpose.
   */
  const integrityCheck = () =>
    server.parley.ctx.db.sequelize.query(
      `INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')`,
    );

  it('keeps rowids only, and is rebuilt from the rows already there, both ways', async () => {
    expect(await ftsSql()).toMatch(/detail = none, columnsize = 0/);
    const room = await sharedRoom();
    const w = uniqueName('rebuilt');
    const kept = await postMessage(call, ana, room.id, `${w} kept`);
    const edited = await postMessage(call, ana, room.id, `${w} soon edited`);
    const gone = await postMessage(call, ana, room.id, `${w} deleted`);
    expectStatus(await call('DELETE', `/api/messages/${gone.id}`, { token: ana.accessToken }), 204);
    expectStatus(
      await call('PATCH', `/api/messages/${edited.id}`, {
        token: ana.accessToken,
        body: { text: 'other words' },
      }),
      200,
    );
    await integrityCheck();
    const qi = { context: server.parley.ctx.db.sequelize.getQueryInterface() };
    // Down to 005's table and up again, each time over rows that exist: live ones indexed, the rest not.
    for (const step of [m008.down, m008.up]) {
      await step(qi);
      expect(ids(await found(bea, { q: w }))).toEqual([kept.id]);
      expect(ids(await found(bea, { q: 'other wor' })).includes(edited.id)).toBe(true);
      await integrityCheck();
    }
    expect(await ftsSql()).toMatch(/detail = none, columnsize = 0/);
  });
});

describe.runIf(PG_URL)('search on PostgreSQL', () => {
  it('answers from the newest 2,000 ids when they fill the page, and from the full-text index for the rest (D23)', async () => {
    const room = await sharedRoom();
    const [rare, common] = [uniqueName('rare'), uniqueName('common')];
    const old = await postMessage(call, ana, room.id, `${rare} old`);
    // More messages than the first step walks, written the way the benchmark seeds them.
    await server.parley.ctx.db.sequelize.query(
      `INSERT INTO messages ("roomId", "authorId", kind, text, "createdAt")
       SELECT :room, :author, 'text', :common || ' filler ' || n, now() FROM generate_series(1, 2100) AS n`,
      { replacements: { room: Number(room.id), author: Number(ana.user.id), common } },
    );
    const recent = await postMessage(call, ana, room.id, `${rare} new`);
    const captured: string[] = [];
    const stop = server.parley.ctx.db.watchQueries((sql) => {
      if (sql.includes('"searchVector" @@')) captured.push(sql);
    });
    try {
      const one = await found(bea, { q: rare, limit: '1' });
      expect(ids(one)).toEqual([recent.id]);
      expect(one.hasMore).toBe(true);
      expect(ids(await found(bea, { q: rare, limit: '5' }))).toEqual([recent.id, old.id]);
      expect(ids(await found(bea, { q: rare, before: recent.id }))).toEqual([old.id]);
      const page = await found(bea, { q: `${common} fil`, limit: '3' });
      expect(page.results.map((h) => h.message.text)).toEqual(
        [2100, 2099, 2098].map((n) => `${common} filler ${n}`),
      );
    } finally {
      stop();
    }
    // The common word's page came from the first step alone; the rare word needed the second step each time.
    // (Which index each step takes is the planner's call, and on a table this small a scan may be cheapest: the
    // plans on a million messages are in D23 and the search benchmark.)
    const second = captured.filter((sql) => sql.includes('msg.id + 0'));
    expect(second).toHaveLength(3);
    expect(captured).toHaveLength(7);
  });
});

describe('GET /api/chatrooms/:id/messages?around=', () => {
  it('answers the page centred on a message, with hasMoreBefore and hasMoreAfter', async () => {
    const room = await sharedRoom();
    const sent: Message[] = [];
    for (let i = 0; i < 9; i++) sent.push(await postMessage(call, ana, room.id, `around ${i}`));
    const page = async (around: string, limit: number) => {
      const res = await call('GET', `/api/chatrooms/${room.id}/messages?around=${around}&limit=${limit}`, {
        token: bea.accessToken,
      });
      expectStatus(res, 200);
      return res.body as {
        messages: Message[];
        hasMore: boolean;
        hasMoreBefore: boolean;
        hasMoreAfter: boolean;
      };
    };
    const mid = await page(sent[4]!.id, 4);
    expect(mid.messages.map((m) => m.text)).toEqual(['around 3', 'around 4', 'around 5', 'around 6']);
    expect(mid).toMatchObject({ hasMoreBefore: true, hasMoreAfter: true, hasMore: true });
    // The room's start (its system messages are before the first text) and its end.
    const end = await page(sent[8]!.id, 4);
    expect(end.messages.map((m) => m.text)).toEqual(['around 7', 'around 8']);
    expect(end).toMatchObject({ hasMoreBefore: true, hasMoreAfter: false });
    const all = await page(sent[0]!.id, 100);
    expect(all.messages.map((m) => m.id)).toEqual(expect.arrayContaining(sent.map((m) => m.id)));
    expect(all).toMatchObject({ hasMoreBefore: false, hasMoreAfter: false });
  });

  it('refuses around with before or after (400), and hides a room the caller may not read (404)', async () => {
    const room = await sharedRoom();
    const m = await postMessage(call, ana, room.id, 'hidden');
    const get = (s: Session, q: string) =>
      call('GET', `/api/chatrooms/${room.id}/messages?${q}`, { token: s.accessToken });
    expectError(await get(ana, `around=${m.id}&before=${m.id}`), 400, 'VALIDATION_ERROR');
    expectError(await get(ana, `around=${m.id}&after=${m.id}`), 400, 'VALIDATION_ERROR');
    expectError(await get(ana, 'around=abc'), 400, 'VALIDATION_ERROR');
    expectError(await get(out, `around=${m.id}`), 404, 'NOT_FOUND');
    expectError(await call('GET', `/api/chatrooms/${room.id}/messages?around=${m.id}`), 401, 'UNAUTHORIZED');
  });
});

describe('search terms and snippets', () => {
  it('folds case and accents, and splits on everything but letters and digits', () => {
    expect(fold('Ünïcödé CAFÉ')).toBe('unicode cafe');
    expect(searchTerms(' "Café"  AND  naïve* NEAR(x) ')).toEqual(['cafe', 'and', 'naive', 'near', 'x']);
    expect(searchTerms('!!! ***')).toEqual([]);
  });

  it('cuts a long text around its first hit, at word boundaries', () => {
    const text = `${'lorem '.repeat(60)}needle ${'ipsum '.repeat(60)}`;
    const s = snippet(text, ['needle']);
    expect(s.startsWith('…')).toBe(true);
    expect(s.endsWith('…')).toBe(true);
    expect(s).toContain('\u0002needle\u0003');
    expect(s.length).toBeLessThanOrEqual(202);
    expect(snippet('a\u0002b\u0003c', ['abc'])).toBe('\u0002abc\u0003');
  });
});
