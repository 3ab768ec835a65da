import { openBenchDb, type BenchDb } from '../lib/db.js';
import { seedMessages, seedUsers } from '../lib/seed.js';
import { startParley } from '../lib/server.js';
import { percentiles } from '../lib/stats.js';
import type { BenchOptions, ResultRow, Scenario } from '../lib/types.js';

/*
 * (9) Search (issue 14): one room seeded with a million messages ("seeded message N: the quick brown fox …"),
 * `GET /api/search` one request at a time for a rare word (one message's number) and for common words with a prefix
 * (every message matches: the newest page must come without sorting the million). Baseline: the same full-text
 * query run directly on the database from this process, so the ratio is what Parley adds (auth, scope, authors,
 * snippets, transport). PostgreSQL runs in full mode only, as for history. The triggers index the seeded rows as
 * they are inserted, as they would the server's own writes.
 */

const MESSAGES = { full: 1_000_000, quick: 100_000, smoke: 5_000 } as const;
const REQUESTS = { full: 300, quick: 100, smoke: 20 } as const;
const WARMUP = 10;
const PAGE = 20;
const TARGET_MS = 50;
const AUTHORS = 10;

type Case = { name: string; q: string; fts: string; ts: string };

/**
 * The query the server's search makes, without authors, attachments or the membership scope. On PostgreSQL the
 * server asks in two steps (D23): the newest 2,000 ids first, the full-text index for the rest when the page is not
 * full; the direct query does the same, so that the ratio is what Parley adds and not a plan the server avoids.
 */
function directSql(dialect: BenchDb['dialect'], floor: number): string[] {
  if (dialect === 'sqlite')
    return [
      `SELECT m.id, m.text FROM messages_fts CROSS JOIN messages m ON m.id = messages_fts.rowid
        WHERE messages_fts MATCH ? AND m."roomId" = ? AND m.kind <> 'system' AND m."deletedAt" IS NULL
        ORDER BY messages_fts.rowid DESC LIMIT ${PAGE + 1}`,
    ];
  const where = `m."searchVector" @@ to_tsquery('simple', ?) AND m."roomId" = ?::int AND m.kind <> 'system'
          AND m."deletedAt" IS NULL`;
  return [
    `SELECT m.id, m.text FROM messages m
        WHERE ${where} AND m.id >= ${floor}
        ORDER BY m.id DESC LIMIT ${PAGE + 1}`,
    `SELECT m.id, m.text FROM messages m
        WHERE ${where} AND m.id < ${floor}
        ORDER BY m.id + 0 DESC LIMIT ${PAGE + 1}`,
  ];
}

async function searchOn(dbKind: 'sqlite' | 'postgres', opts: BenchOptions): Promise<ResultRow[]> {
  const label = dbKind === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  const count = MESSAGES[opts.mode];
  const server = await startParley({ db: dbKind, pgUrl: opts.pgUrl, cpu: opts.taskset ? 0 : undefined });
  let db: BenchDb | undefined;
  try {
    const { users, roomId } = await seedUsers(server, AUTHORS, { via: 'api' });
    const seeded = await seedMessages(
      server,
      roomId,
      count,
      users.map((u) => u.id),
    );
    opts.log(`search/${label}: seeded ${count} messages in ${seeded.seconds.toFixed(1)} s`);
    db = await openBenchDb(server.env);
    const rare = String(Math.floor(count / 2));
    const cases: Case[] = [
      { name: 'rare word', q: rare, fts: `"${rare}" *`, ts: `'${rare}':*` },
      { name: 'common words, prefix', q: 'quick bro', fts: '"quick" AND "bro" *', ts: "'quick' & 'bro':*" },
    ];
    const token = users[1]!.accessToken;
    const rest = async (c: Case) => {
      const res = await fetch(`${server.url}/api/search?q=${encodeURIComponent(c.q)}&limit=${PAGE}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await res.json()) as { results?: unknown[] };
      if (res.status !== 200 || !body.results?.length)
        throw new Error(`GET /api/search ${c.q}: HTTP ${res.status}, ${body.results?.length} results`);
    };
    const direct = async (c: Case) => {
      let found = 0;
      // As the server does: the newest id first, so that each step is planned for its own range.
      const newest =
        db!.dialect === 'sqlite' ? 0 : Number((await db!.all('SELECT max(id) AS m FROM messages'))[0]!.m);
      for (const sql of directSql(db!.dialect, newest + 1 - 2000)) {
        found += (await db!.all(sql, [db!.dialect === 'sqlite' ? c.fts : c.ts, roomId])).length;
        if (found > PAGE) break;
      }
      if (!found) throw new Error(`direct search ${c.q}: no rows`);
    };
    const out: ResultRow[] = [];
    for (const c of cases) {
      for (let i = 0; i < WARMUP; i++) {
        await rest(c);
        await direct(c);
      }
      const parley: number[] = [];
      const raw: number[] = [];
      // Interleaved, so that a noisy neighbour hits both alike.
      for (let i = 0; i < REQUESTS[opts.mode]; i++) {
        let t0 = performance.now();
        await rest(c);
        parley.push(performance.now() - t0);
        t0 = performance.now();
        await direct(c);
        raw.push(performance.now() - t0);
      }
      const p = percentiles(parley);
      const d = percentiles(raw);
      out.push({
        scenario: '9 search',
        case: `${label}, ${c.name} ("${c.q}")`,
        metric: `p99 of a ${PAGE}-result page`,
        unit: 'ms',
        higherIsBetter: false,
        parley: round2(p.p99),
        baselines: { 'direct query': round2(d.p99) },
        target: { text: `< ${TARGET_MS} ms`, met: p.p99 < TARGET_MS },
        note: `p50 ${p.p50.toFixed(2)} ms (direct ${d.p50.toFixed(2)} ms), ${parley.length} requests; ${count} messages`,
      });
    }
    return out;
  } finally {
    await db?.close();
    await server.stop();
  }
}

const round2 = (v: number) => Math.round(v * 100) / 100;

export const search: Scenario = {
  id: 'search',
  title: 'Message search in a room of 1,000,000 messages',
  async run(opts: BenchOptions): Promise<ResultRow[]> {
    const out = await searchOn('sqlite', opts);
    if (opts.pgUrl && opts.mode === 'full') out.push(...(await searchOn('postgres', opts)));
    else {
      out.push({
        scenario: '9 search',
        case: 'PostgreSQL',
        metric: `p99 of a ${PAGE}-result page`,
        unit: 'ms',
        higherIsBetter: false,
        parley: null,
        baselines: {},
        note: opts.pgUrl
          ? `skipped in ${opts.mode} mode (full mode only: seeding takes a while)`
          : 'skipped: no PostgreSQL (set BENCH_DATABASE_URL or TEST_DATABASE_URL)',
      });
    }
    return out;
  },
};
