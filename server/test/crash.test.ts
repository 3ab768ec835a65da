import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';

/*
 * "A message acknowledged to its sender is durable (it survives a crash of the server process)."
 * A real Parley process takes concurrent sends; it is SIGKILLed mid-stream; a new process on the same data must
 * have every acknowledged message, and resending the unacknowledged ones with their clientId stores each once.
 * With TEST_DATABASE_URL set, the processes share a fresh PostgreSQL database instead of a SQLite file.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PG_ADMIN_URL = process.env.TEST_DATABASE_URL;
const DIALECT = PG_ADMIN_URL ? 'postgres' : 'sqlite';

/** Parley's own variables, never inherited from the environment the tests run in. */
const PARLEY_ENV =
  /^(NODE_ENV|PORT|HOST|DATA_DIR|DATABASE_URL|REDIS_URL|JWT_SECRET|ACCESS_TOKEN_TTL|REFRESH_TOKEN_TTL|ALLOW_GUESTS|CORS_ORIGINS|UPLOAD_.*|RATE_LIMIT_.*|LOGIN_MAX_FAILURES|MESSAGE_.*|TLS_.*|LOG_LEVEL|TRUST_PROXY|SQLITE_DRIVER|PASSWORD_HASH_MEMORY_KIB|TEST_.*)$/;

interface Parley {
  proc: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  // Only the processes this file started, by their pid.
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** Starts `server/src/index.ts` in its own process and resolves once it logs the port it listens on. */
async function startParley(env: Record<string, string>, timeoutMs = 45_000): Promise<Parley> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !PARLEY_ENV.test(k)));
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=parley-source', 'server/src/index.ts'],
    {
      cwd: ROOT,
      env: { ...inherited, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(proc);
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`no "listening" line within ${timeoutMs} ms:\n${out}`)),
      timeoutMs,
    );
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      buffered += d.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const entry = JSON.parse(line) as { msg?: string; port?: unknown };
          if (typeof entry.port === 'number' && /listening/i.test(entry.msg ?? '')) {
            clearTimeout(timer);
            resolve(entry.port);
          }
        } catch {
          // not a JSON log line
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (code ${code}, signal ${signal}) before listening:\n${out}`));
    });
  });
  return { proc, url: `http://127.0.0.1:${port}`, output: () => out, exited };
}

/** A database for the child processes: a fresh PostgreSQL database, or (default) SQLite in DATA_DIR. */
async function childDatabase(): Promise<Record<string, string>> {
  if (!PG_ADMIN_URL) return {};
  const name = `parley_crash_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  cleanups.push(async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return { DATABASE_URL: url.toString() };
}

async function api(
  base: string,
  method: string,
  p: string,
  opts: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(base + p, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** The whole history of a room, oldest first, walking back page by page (bounded). */
async function wholeHistory(base: string, token: string, roomId: string): Promise<any[]> {
  let page = await api(base, 'GET', `/api/chatrooms/${roomId}/messages?limit=100`, { token });
  expect(page.status).toBe(200);
  const all: any[] = [...page.body.messages];
  for (let i = 0; page.body.hasMore; i++) {
    if (i > 200) throw new Error('history did not end after 200 pages');
    page = await api(base, 'GET', `/api/chatrooms/${roomId}/messages?limit=100&before=${all[0].id}`, {
      token,
    });
    expect(page.status).toBe(200);
    all.unshift(...page.body.messages);
  }
  return all;
}

describe(`crash safety (${DIALECT})`, () => {
  it('every acknowledged message survives SIGKILL; resends with the same clientId store each message once', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-crash-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const env = {
      DATA_DIR: dataDir,
      // Generous limits: this test is about durability, not rate limiting.
      MESSAGE_RATE_PER_SEC: '100000',
      MESSAGE_BURST: '100000',
      PASSWORD_HASH_MEMORY_KIB: '8192',
      ...(await childDatabase()),
    };

    // ---- first process: sign up, then send concurrently until it is killed ----
    const first = await startParley(env);
    const username = `crash${process.pid % 100000}`;
    const reg = await api(first.url, 'POST', '/api/auth/register', {
      body: { username, email: `${username}@example.com`, password: 'correct-horse-9' },
    });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const token: string = reg.body.accessToken;
    const room = await api(first.url, 'POST', '/api/chatrooms', { token, body: { name: 'crash-room' } });
    expect(room.status, JSON.stringify(room.body)).toBe(201);
    const roomId: string = room.body.id;

    const WORKERS = 8;
    const KILL_AFTER = 40; // acknowledged messages before the kill
    const MAX_PER_WORKER = 500; // bound, should the kill never come
    const attempted = new Map<string, string>(); // clientId -> text
    const acked = new Map<string, { id: string; text: string }>(); // clientId -> stored message
    const unexpected: string[] = [];
    let killScheduled = false;
    let killed = false;
    let inFlight = 0;
    let inFlightAtKill = -1;

    const worker = async (w: number) => {
      for (let n = 0; n < MAX_PER_WORKER && !killed; n++) {
        const clientId = randomUUID();
        const text = `w${w} n${n} ${clientId.slice(0, 8)}`;
        attempted.set(clientId, text);
        inFlight++;
        try {
          const r = await api(first.url, 'POST', `/api/chatrooms/${roomId}/messages`, {
            token,
            body: { text, clientId },
          });
          if (r.status === 201) acked.set(clientId, { id: r.body.id, text: r.body.text });
          else if (!killed) unexpected.push(`${r.status} ${JSON.stringify(r.body)}`);
        } catch (err) {
          // After the kill, a request in flight fails: that is its outcome being unknown, as for a real client.
          if (!killed) unexpected.push(String(err));
        } finally {
          inFlight--;
        }
        if (!killScheduled && acked.size >= KILL_AFTER) {
          killScheduled = true;
          // The kill lands at a random point of the stream (not a wait for anything): sometimes between a
          // commit and its answer, so that the resend path meets messages stored but never acknowledged.
          setTimeout(
            () => {
              killed = true;
              inFlightAtKill = inFlight;
              first.proc.kill('SIGKILL');
            },
            Math.floor(Math.random() * 30),
          );
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));

    expect(unexpected, 'failures before the kill').toEqual([]);
    expect(killed, 'the kill never happened').toBe(true);
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The kill really was mid-stream: other sends were waiting for their answer.
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER);
    const unacked = [...attempted.keys()].filter((c) => !acked.has(c));
    expect(unacked.length).toBeGreaterThan(0);

    // ---- second process on the same data: nothing acknowledged is missing ----
    const second = await startParley(env);
    // The development JWT secret was kept in DATA_DIR, so the old access token still works.
    const history = await wholeHistory(second.url, token, roomId);
    const byClientId = new Map<string, any>();
    for (const m of history) if (m.clientId) byClientId.set(m.clientId, m);
    const missing = [...acked].filter(([clientId, m]) => byClientId.get(clientId)?.id !== m.id);
    expect(missing, `${missing.length} of ${acked.size} acknowledged messages lost`).toEqual([]);
    for (const [clientId, m] of acked) expect(byClientId.get(clientId).text).toBe(m.text);
    // Nothing appears that was never sent, and history is in storage order.
    for (const clientId of byClientId.keys()) expect(attempted.has(clientId)).toBe(true);
    const ids = history.map((m) => BigInt(m.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

    // ---- resend everything whose outcome the client did not learn, and some that it did ----
    for (const clientId of unacked) {
      const r = await api(second.url, 'POST', `/api/chatrooms/${roomId}/messages`, {
        token,
        body: { text: attempted.get(clientId), clientId },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      expect(r.body.clientId).toBe(clientId);
      // A send that had been stored before the kill answers with the stored message.
      const before = byClientId.get(clientId);
      if (before) expect(r.body.id).toBe(before.id);
    }
    for (const [clientId, m] of [...acked].slice(0, 10)) {
      const r = await api(second.url, 'POST', `/api/chatrooms/${roomId}/messages`, {
        token,
        body: { text: m.text, clientId },
      });
      expect(r.status).toBe(201);
      expect(r.body.id).toBe(m.id);
    }

    const final = await wholeHistory(second.url, token, roomId);
    const sent = final.filter((m) => m.clientId);
    const counts = new Map<string, number>();
    for (const m of sent) counts.set(m.clientId, (counts.get(m.clientId) ?? 0) + 1);
    const duplicated = [...counts].filter(([, n]) => n > 1);
    expect(duplicated, 'clientIds stored more than once').toEqual([]);
    expect(new Set(counts.keys())).toEqual(new Set(attempted.keys()));
    expect(sent.length).toBe(attempted.size);

    second.proc.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  }, 120_000);
});
