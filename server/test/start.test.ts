import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { io as ioClient } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';

/*
 * The production start path, as `npm start` runs it minus the build: the real entry point in its own process,
 * NODE_ENV=production, PORT=0. It must answer health, the web client and the docs, and leave on SIGTERM with 0.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PG_ADMIN_URL = process.env.TEST_DATABASE_URL;
const DIALECT = PG_ADMIN_URL ? 'postgres' : 'sqlite';

const PARLEY_ENV =
  /^(NODE_ENV|PORT|HOST|DATA_DIR|DATABASE_URL|REDIS_URL|JWT_SECRET|ACCESS_TOKEN_TTL|REFRESH_TOKEN_TTL|ALLOW_GUESTS|CORS_ORIGINS|UPLOAD_.*|RATE_LIMIT_.*|LOGIN_MAX_FAILURES|MESSAGE_.*|TLS_.*|LOG_LEVEL|TRUST_PROXY|SQLITE_DRIVER|PASSWORD_HASH_MEMORY_KIB|TEST_.*)$/;

interface Parley {
  proc: ChildProcess;
  url: string;
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function startParley(env: Record<string, string>, timeoutMs = 45_000): Promise<Parley> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !PARLEY_ENV.test(k)));
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=parley-source', 'server/src/index.ts'],
    {
      cwd: ROOT,
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(proc);
  let out = '';
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`no "listening" line within ${timeoutMs} ms:\n${out}\n${err}`)),
      timeoutMs,
    );
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
          // not JSON: checked by the test
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`the server exited (code ${code}, signal ${signal}) before listening:\n${out}\n${err}`),
      );
    });
  });
  return { proc, url: `http://127.0.0.1:${port}`, stdout: () => out, exited };
}

async function childDatabase(): Promise<Record<string, string>> {
  if (!PG_ADMIN_URL) return {};
  const name = `parley_start_${randomBytes(6).toString('hex')}`;
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

/** Resolves with the exit of `p`, or fails after `ms`. */
async function exitWithin(p: Parley, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running ${ms} ms after SIGTERM:\n${p.stdout()}`)), ms);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function productionServer(): Promise<Parley> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-start-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  return startParley({
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(32).toString('base64'),
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    PASSWORD_HASH_MEMORY_KIB: '8192',
    ...(await childDatabase()),
  });
}

describe(`production start (${DIALECT})`, () => {
  it('serves health, the web client and the docs, then stops on SIGTERM with exit code 0', async () => {
    const p = await productionServer();

    const health = await fetch(`${p.url}/api/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', checks: { database: 'ok', realtime: 'ok' } });

    const home = await fetch(`${p.url}/`);
    expect(home.status).toBe(200);
    expect((await home.text()).length).toBeGreaterThan(0);
    // A client-side route falls back to the web client too.
    expect((await fetch(`${p.url}/rooms/anything`)).status).toBe(200);

    const docs = await fetch(`${p.url}/docs`);
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/text\/html/);
    const openapi = await fetch(`${p.url}/docs/openapi.json`);
    expect(openapi.status).toBe(200);
    expect(((await openapi.json()) as { openapi: string }).openapi).toMatch(/^3\.1\./);

    // An unknown API path is a JSON 404, not the web client.
    const nope = await fetch(`${p.url}/api/no-such-thing`);
    expect(nope.status).toBe(404);
    expect(((await nope.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');

    p.proc.kill('SIGTERM');
    expect(await exitWithin(p, 15_000)).toEqual({ code: 0, signal: null });
    // Logs are JSON lines on stdout, the shutdown among them.
    const lines = p.stdout().trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(lines.some((l) => /shutting down/.test(JSON.parse(l).msg ?? ''))).toBe(true);
    // Nothing listens any more.
    await expect(fetch(`${p.url}/api/health`)).rejects.toThrow();
  }, 90_000);

  it('leaves gracefully with a connected socket and an open keep-alive connection', async () => {
    const p = await productionServer();
    const name = `st${process.pid % 100000}`;
    const reg = await fetch(`${p.url}/api/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: name, email: `${name}@example.com`, password: 'correct-horse-9' }),
    });
    expect(reg.status).toBe(201);
    const { accessToken } = (await reg.json()) as { accessToken: string };

    const socket = ioClient(p.url, {
      auth: { token: accessToken },
      transports: ['websocket'],
      reconnection: false,
    });
    cleanups.push(() => void socket.close());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket did not connect')), 15_000);
      socket.once('connect', () => (clearTimeout(timer), resolve()));
      socket.once('connect_error', (e) => (clearTimeout(timer), reject(e)));
    });
    const disconnected = new Promise<string>((resolve) =>
      socket.once('disconnect', (reason) => resolve(reason)),
    );

    p.proc.kill('SIGTERM');
    expect(await exitWithin(p, 15_000)).toEqual({ code: 0, signal: null });
    // The server said goodbye rather than vanishing.
    expect(await disconnected).toBe('io server disconnect');
  }, 90_000);
});
