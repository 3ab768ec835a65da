import { randomBytes } from 'node:crypto';
import { openBenchDb, scalar, type BenchDb } from './db.js';
import { insertGuests } from './seed-db.js';

/*
 * Seeding for the benchmarks. People go through the API (guest sign-up, registration), so their sessions and
 * `general` memberships are exactly what the server makes; bulk history is written straight into the database,
 * because a million messages through the API would take longer than the benchmark itself.
 */

/** Where a running server listens and the environment it was started with (DATA_DIR, DATABASE_URL...). */
export interface SeedTarget {
  url: string;
  env: Record<string, string>;
}

export interface SeededUser {
  id: string;
  name: string;
  accessToken: string;
}

export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** Attempts per request when the server answers 429 (it should not: the benchmark lifts the limits). */
const MAX_ATTEMPTS = 5;
/** Longest wait honoured from a Retry-After header, so a misconfigured limit fails instead of stalling. */
const MAX_RETRY_AFTER_MS = 5_000;

/** One JSON request to the server; retries a 429 after its Retry-After, a bounded number of times. */
export async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status === 429 && attempt < MAX_ATTEMPTS) {
      const wait = Math.min(MAX_RETRY_AFTER_MS, Number(res.headers.get('retry-after') ?? '1') * 1000);
      await new Promise((resolve) => setTimeout(resolve, wait));
      continue;
    }
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>) {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A run-unique name prefix of letters only, so seeded names never clash with each other or earlier runs. */
export function namePrefix(): string {
  return Array.from(randomBytes(6), (b) => String.fromCharCode(97 + (b % 26))).join('');
}

interface SessionBody {
  user: { id: string; username: string };
  accessToken: string;
}

function sessionOf(answer: ApiAnswer, expected: number, what: string): SeededUser {
  if (answer.status !== expected) {
    throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
  }
  const s = answer.body as SessionBody;
  return { id: s.user.id, name: s.user.username, accessToken: s.accessToken };
}

/** The id of `general`, as `token`'s holder sees it in GET /api/chatrooms. */
export async function generalRoomId(url: string, token: string): Promise<string> {
  // general sorts early by name; the largest page makes sure it is on the first.
  const answer = await api(url, 'GET', '/api/chatrooms?limit=200', undefined, token);
  const rooms = (answer.body as { rooms?: { id: string; name: string }[] }).rooms ?? [];
  const general = rooms.find((r) => r.name === 'general');
  if (!general) throw new Error(`no general room (HTTP ${answer.status})`);
  return general.id;
}

/**
 * Up to this many guests sign up through the API (about 40 a second on this machine: each is a durable transaction);
 * more are written into the database (see seed-db.ts).
 */
export const API_SIGNUP_MAX = 100;

/**
 * `count` guests, each a member of `general` with a valid access token. Through POST /api/auth/guest
 * (`concurrency` sign-ups in flight) up to {@link API_SIGNUP_MAX}, or when `via: 'api'`; beyond that straight into
 * the database, because each API sign-up is a durable transaction of its own. The API path needs ALLOW_GUESTS and
 * a lifted RATE_LIMIT_AUTH_PER_MIN.
 */
export async function seedUsers(
  target: SeedTarget,
  count: number,
  opts: { concurrency?: number; prefix?: string; via?: 'api' | 'db' } = {},
): Promise<{ users: SeededUser[]; roomId: string }> {
  const prefix = opts.prefix ?? namePrefix();
  const names = Array.from({ length: count }, (_, i) => `${prefix}_${i}`);
  const via = opts.via ?? (count > API_SIGNUP_MAX ? 'db' : 'api');
  if (via === 'api' && /^(false|0|no)$/.test(target.env.ALLOW_GUESTS ?? '')) {
    throw new Error('seedUsers through the API needs ALLOW_GUESTS=true on the server');
  }
  const users =
    via === 'db'
      ? await insertGuests(target.env, names)
      : await mapLimit(names, opts.concurrency ?? 16, async (username) =>
          sessionOf(await api(target.url, 'POST', '/api/auth/guest', { username }), 201, `guest ${username}`),
        );
  const roomId = users.length ? await generalRoomId(target.url, users[0]!.accessToken) : '';
  return { users, roomId };
}

/** The password every registered benchmark user gets. */
export const BENCH_PASSWORD = 'bench-password-1';

/**
 * `count` registered users (POST /api/auth/register, so each costs one password hash on the server), members of
 * `general`. Registered users can create rooms and log in, which guests cannot.
 */
export async function registerUsers(
  target: SeedTarget,
  count: number,
  opts: { concurrency?: number; prefix?: string } = {},
): Promise<SeededUser[]> {
  const prefix = opts.prefix ?? namePrefix();
  return mapLimit(
    Array.from({ length: count }, (_, i) => `${prefix}_r${i}`),
    opts.concurrency ?? 4,
    async (username) =>
      sessionOf(
        await api(target.url, 'POST', '/api/auth/register', {
          username,
          email: `${username}@bench.invalid`,
          password: BENCH_PASSWORD,
        }),
        201,
        `register ${username}`,
      ),
  );
}

/** A public room owned by `owner`; resolves with its id. */
export async function createRoom(target: SeedTarget, owner: SeededUser, name: string): Promise<string> {
  const answer = await api(target.url, 'POST', '/api/chatrooms', { name }, owner.accessToken);
  if (answer.status !== 201) throw new Error(`create room ${name}: HTTP ${answer.status}`);
  return (answer.body as { id: string }).id;
}

export interface SeededMessages {
  /** Ids of the first and last seeded message (ids in between all belong to the room). */
  firstId: number;
  lastId: number;
  count: number;
  seconds: number;
}

/** Rows per INSERT statement: each is its own transaction, so a running server gets the write lock in between. */
const BATCH_ROWS = 100_000;

/**
 * Writes `count` text messages into room `roomId` straight into the server's database, in batched statements
 * generated inside the database (recursive CTE on SQLite, generate_series on PostgreSQL). Ids come from the
 * table's own autoincrement / sequence, exactly as the server's appends get theirs, so the server keeps appending
 * after them; the room's lastMessageId/lastMessageAt are moved to the last seeded message. Authors cycle through
 * `authorIds`. Safe while the server runs (SQLite: WAL, and a busy timeout on both sides).
 */
export async function seedMessages(
  target: Pick<SeedTarget, 'env'>,
  roomId: string | number,
  count: number,
  authorIds: (string | number)[],
): Promise<SeededMessages> {
  if (!authorIds.length) throw new Error('seedMessages needs at least one author');
  const started = performance.now();
  const db = await openBenchDb(target.env);
  try {
    const before = await scalar(db, 'SELECT coalesce(max(id), 0) FROM messages');
    const base = Date.now() - count; // one millisecond apart, the last one about now
    for (let from = 1; from <= count; from += BATCH_ROWS) {
      const to = Math.min(count, from + BATCH_ROWS - 1);
      await insertBatch(db, Number(roomId), from, to, base, authorIds.map(Number));
    }
    const room = Number(roomId);
    const firstId = await scalar(db, 'SELECT min(id) FROM messages WHERE "roomId" = ? AND id > ?', [
      room,
      before,
    ]);
    const lastId = await scalar(db, 'SELECT max(id) FROM messages WHERE "roomId" = ?', [room]);
    await db.run(
      `UPDATE rooms SET "lastMessageId" = ?, "lastMessageAt" = (SELECT "createdAt" FROM messages WHERE id = ?)
       WHERE id = ?`,
      [lastId, lastId, room],
    );
    // A real PostgreSQL table this size has been analysed by autovacuum; a just-loaded one has not.
    if (db.dialect === 'postgres') await db.run('ANALYZE messages');
    return { firstId, lastId, count, seconds: (performance.now() - started) / 1000 };
  } finally {
    await db.close();
  }
}

async function insertBatch(
  db: BenchDb,
  roomId: number,
  from: number,
  to: number,
  baseMs: number,
  authors: number[],
): Promise<void> {
  const authorRows = authors.map((_, i) => `(${i}, ?)`).join(', ');
  const text = `'seeded message ' || n || ': the quick brown fox jumps over the lazy dog'`;
  if (db.dialect === 'sqlite') {
    // Sequelize stores SQLite dates as 'YYYY-MM-DD HH:MM:SS.SSS +00:00'.
    await db.run(
      `WITH RECURSIVE c(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM c WHERE n < ?),
         a(i, id) AS (VALUES ${authorRows})
       INSERT INTO messages ("roomId", "authorId", "kind", "text", "createdAt")
       SELECT ?, a.id, 'text', ${text},
              strftime('%Y-%m-%d %H:%M:%f', (? + n) / 1000.0, 'unixepoch') || ' +00:00'
       FROM c JOIN a ON a.i = n % ? ORDER BY n`,
      [from, to, ...authors, roomId, baseMs, authors.length],
    );
  } else {
    await db.run(
      `INSERT INTO messages ("roomId", "authorId", "kind", "text", "createdAt")
       SELECT ?::int, a.id, 'text', ${text}, to_timestamp((?::bigint + n) / 1000.0)
       FROM generate_series(?::bigint, ?::bigint) AS n
       JOIN (VALUES ${authorRows.replace(/\?/g, '?::int')}) AS a(i, id) ON a.i = n % ?::int
       ORDER BY n`,
      [roomId, baseMs, from, to, ...authors, authors.length],
    );
  }
}
