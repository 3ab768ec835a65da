import { openBenchDb, type BenchDb } from '../lib/db.js';
import { seedMessages, seedUsers } from '../lib/seed.js';
import { SocketPool } from '../lib/seed-sockets.js';
import { startParley } from '../lib/server.js';
import { eventDurations, overBound } from '../lib/server-metrics.js';
import { percentiles } from '../lib/stats.js';
import type { BenchOptions, ResultRow, Scenario } from '../lib/types.js';

/*
 * (4) History: one room seeded with a million messages (straight into the database); a 50-message page at the
 * newest end, in the middle (`before` a middle id) and at the oldest end, over the socket (`messages:fetch`) and
 * over REST, one request at a time. Baseline: the same keyset query run directly on the database from this
 * process, so the ratio is what Parley adds (auth, room and membership checks, authors, presenting, transport).
 * PostgreSQL runs in full mode only. Requests go in blocks, interleaved socket / REST / direct, so a noisy neighbour hits all three alike.
 */

const MESSAGES = { full: 1_000_000, quick: 100_000, smoke: 5_000 } as const;
const REQUESTS = { full: 500, quick: 100, smoke: 50 } as const;
const BLOCK = 25;
const WARMUP = 10;
const PAGE = 50;
const TARGET_MS = 5;
/** Authors of the seeded messages (each page then presents several users). */
const AUTHORS = 10;
/** Sockets the fetches take turns on (each is paced under the server's per-socket event limit). */
const SOCKETS = 40;

type Kind = 'socket' | 'REST' | 'direct';
type Fetcher = (before: number | undefined) => Promise<void>;

/** The keyset query the server's history() makes (Sequelize adds only column lists and aliases). */
const keysetSql = (before: number | undefined) =>
  `SELECT * FROM messages WHERE "roomId" = ?${before === undefined ? '' : ' AND id < ?'} ORDER BY id DESC LIMIT ${PAGE + 1}`;

function expectPage(what: string, messages: unknown[] | undefined): void {
  if (messages?.length !== PAGE)
    throw new Error(`${what}: expected ${PAGE} messages, got ${messages?.length}`);
}

function fetchers(
  url: string,
  token: string,
  socket: SocketPool,
  db: BenchDb,
  roomId: string,
): Record<Kind, Fetcher> {
  return {
    socket: async (before) => {
      const ack = await socket.emit<{ messages: unknown[] }>('messages:fetch', {
        roomId,
        limit: PAGE,
        ...(before === undefined ? {} : { before: String(before) }),
      });
      if (!ack.ok) throw new Error(`messages:fetch: ${JSON.stringify(ack.error)}`);
      expectPage('messages:fetch', ack.data?.messages);
    },
    REST: async (before) => {
      const q = before === undefined ? '' : `&before=${before}`;
      const res = await fetch(`${url}/api/chatrooms/${roomId}/messages?limit=${PAGE}${q}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await res.json()) as { messages?: unknown[] };
      if (res.status !== 200) throw new Error(`GET messages: HTTP ${res.status}`);
      expectPage('GET messages', body.messages);
    },
    direct: async (before) => {
      const rows = await db.all(keysetSql(before), before === undefined ? [roomId] : [roomId, before]);
      if (rows.length !== PAGE + 1) throw new Error(`direct query: ${rows.length} rows`);
    },
  };
}

/** The plan of the keyset query at `before`, one line. */
async function queryPlan(db: BenchDb, roomId: string, before: number): Promise<string> {
  if (db.dialect === 'sqlite') {
    const rows = await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${keysetSql(before)}`, [
      roomId,
      before,
    ]);
    return rows.map((r) => r.detail).join('; ');
  }
  const rows = await db.all<{ 'QUERY PLAN': string }>(`EXPLAIN ${keysetSql(before)}`, [roomId, before]);
  return rows.map((r) => r['QUERY PLAN'].trim()).join('; ');
}

async function historyOn(dbKind: 'sqlite' | 'postgres', opts: BenchOptions): Promise<ResultRow[]> {
  const label = dbKind === 'sqlite' ? 'SQLite' : 'PostgreSQL';
  const count = MESSAGES[opts.mode];
  const server = await startParley({ db: dbKind, pgUrl: opts.pgUrl, cpu: opts.taskset ? 0 : undefined });
  let socket: SocketPool | undefined;
  let db: BenchDb | undefined;
  try {
    const { users, roomId } = await seedUsers(server, AUTHORS, { via: 'api' });
    const seeded = await seedMessages(
      server,
      roomId,
      count,
      users.map((u) => u.id),
    );
    opts.log(`history/${label}: seeded ${count} messages in ${seeded.seconds.toFixed(1)} s`);
    socket = await SocketPool.open(
      server.url,
      users.map((u) => u.accessToken),
      SOCKETS,
    );
    db = await openBenchDb(server.env);
    const run = fetchers(server.url, users[1]!.accessToken, socket, db, roomId);
    const depths: [string, number | undefined][] = [
      ['newest', undefined],
      ['middle', Math.floor((seeded.firstId + seeded.lastId) / 2)],
      ['oldest', seeded.firstId + PAGE],
    ];
    const kinds: Kind[] = ['socket', 'REST', 'direct'];
    const samples = new Map<string, number[]>();
    for (const [, before] of depths)
      for (const k of kinds) for (let i = 0; i < WARMUP; i++) await run[k](before);
    for (let done = 0; done < REQUESTS[opts.mode]; done += BLOCK) {
      for (const [depth, before] of depths) {
        for (const k of kinds) {
          const list = samples.get(`${depth}/${k}`) ?? [];
          samples.set(`${depth}/${k}`, list);
          for (let i = 0; i < BLOCK; i++) {
            const t0 = performance.now();
            await run[k](before);
            list.push(performance.now() - t0);
          }
        }
      }
    }
    const plan = await queryPlan(db, roomId, depths[1]![1]!);
    // Every messages:fetch of the run (warm-up included, all depths), as the server timed it.
    const handled = await eventDurations(server.url, 'messages:fetch');
    const serverSide = `the server's own timing of messages:fetch (arrival to ack): ${overBound(handled, 5)}, ${overBound(handled, 10)}`;
    const out: ResultRow[] = [];
    for (const [depth] of depths) {
      const direct = percentiles(samples.get(`${depth}/direct`)!);
      for (const k of ['socket', 'REST'] as const) {
        const p = percentiles(samples.get(`${depth}/${k}`)!);
        const notes = [
          `p50 ${p.p50.toFixed(2)} ms (direct ${direct.p50.toFixed(2)} ms), ${samples.get(`${depth}/${k}`)!.length} requests`,
        ];
        if (out.length === 0) notes.push(`${count} messages; query plan: ${plan}; ${serverSide}`);
        out.push({
          scenario: '4 history',
          case: `${label}, ${depth} page, ${k === 'socket' ? 'messages:fetch' : 'GET /messages'}`,
          metric: `p99 of a ${PAGE}-message page`,
          unit: 'ms',
          higherIsBetter: false,
          parley: round2(p.p99),
          baselines: { 'direct query': round2(direct.p99) },
          target: { text: `< ${TARGET_MS} ms`, met: p.p99 < TARGET_MS },
          note: notes.join('; '),
        });
      }
    }
    return out;
  } finally {
    socket?.close();
    await db?.close();
    await server.stop();
  }
}

const round2 = (v: number) => Math.round(v * 100) / 100;

export const history: Scenario = {
  id: 'history',
  title: 'History pages in a room of 1,000,000 messages',
  async run(opts: BenchOptions): Promise<ResultRow[]> {
    const out = await historyOn('sqlite', opts);
    if (opts.pgUrl && opts.mode === 'full') out.push(...(await historyOn('postgres', opts)));
    else {
      out.push({
        scenario: '4 history',
        case: 'PostgreSQL',
        metric: `p99 of a ${PAGE}-message page`,
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
