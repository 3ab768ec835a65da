import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Session } from '@parley/protocol';
import { createApp, type ParleyApp } from '../app.js';
import { WRITE_LIMITS, type Config, type RateSpec, type WriteLimitClass } from '../config.js';
import { createLogger } from '../logger.js';
import { freshPostgresDatabase } from './postgres.js';

export { freshPostgresDatabase };

/**
 * Real servers for tests: a fresh SQLite file in a temp dir, or, when TEST_DATABASE_URL points at a PostgreSQL
 * server, a fresh database created on it for this server and dropped afterwards.
 */

export const PG_URL = process.env.TEST_DATABASE_URL;
export const DIALECT = PG_URL ? 'postgres' : 'sqlite';

/** A config fit for tests: generous limits (tests that need tight ones pass overrides). */
export function testConfig(dataDir: string, overrides: Partial<Config> = {}): Config {
  return {
    env: 'test',
    port: 0,
    host: '127.0.0.1',
    dataDir,
    databaseUrl: `sqlite:${path.join(dataDir, 'parley.db')}`,
    redisUrl: null,
    jwtSecret: randomBytes(32).toString('hex'),
    accessTokenTtlSec: 900,
    refreshTokenTtlSec: 30 * 86400,
    allowGuests: true,
    corsOrigins: [],
    uploadMaxBytes: 5 * 1024 * 1024,
    uploadTtlHours: 168,
    rateLimitAuthPerMin: 100_000,
    loginMaxFailures: 10,
    messageRatePerSec: 10_000,
    messageBurst: 10_000,
    tls: null,
    logLevel: (process.env.LOG_LEVEL as Config['logLevel']) ?? 'silent',
    trustProxy: '',
    sqliteDriver: (process.env.SQLITE_DRIVER as Config['sqliteDriver']) ?? 'appthreat',
    passwordHashMemoryKib: 8192,
    // Many tests open many sockets from 127.0.0.1; the hardening suite sets tight values where it tests them.
    maxSocketsPerUser: 1000,
    maxSocketsPerAddress: 10_000,
    socketMaxBufferedBytes: 4 * 1024 * 1024,
    socketFloodCooldownSec: 0,
    // Short, so that presence tests do not wait a second per change; the presence suite tests the batching itself.
    presenceBatchMs: 50,
    socketEventRatePerSec: 30,
    socketEventBurst: 60,
    socketHandshakesPerAddressPerSec: 10_000,
    socketConnectTimeoutSec: 10,
    uploadMaxPixels: 40_000_000,
    imageConcurrency: 1,
    passwordHashConcurrency: 2,
    // Per-user write limits out of the way; the hardening suite (abuse-limits) sets tight ones where it tests them.
    writeLimits: generousWriteLimits(),
    ...overrides,
  };
}

/** Every write class at 100,000 per second: no test but the ones about limits ever meets them. */
export function generousWriteLimits(
  tight: Partial<Record<WriteLimitClass, RateSpec>> = {},
): Record<WriteLimitClass, RateSpec> {
  const all = Object.fromEntries(
    Object.keys(WRITE_LIMITS).map((name) => [name, { points: 100_000, durationSec: 1 }]),
  ) as Record<WriteLimitClass, RateSpec>;
  return { ...all, ...tight };
}

/** The same for a server in a child process: every LIMIT_* variable at 100,000 per second. */
export const GENEROUS_LIMIT_ENV: Record<string, string> = Object.fromEntries(
  Object.values(WRITE_LIMITS).map((l) => [l.env, '100000/1s']),
);

export interface TestServer {
  parley: ParleyApp;
  url: string;
  config: Config;
  close(): Promise<void>;
}

/**
 * Starts a real Parley on 127.0.0.1 with a random port and its own database — or, given `databaseUrl`, on that
 * database (several nodes of one deployment), which it then neither creates nor drops.
 */
export async function startTestServer(
  overrides: Partial<Config> = {},
  appOpts: Pick<NonNullable<Parameters<typeof createApp>[1]>, 'webDist'> = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-test-'));
  const pgDb = PG_URL && !overrides.databaseUrl ? await freshPostgresDatabase(PG_URL) : null;
  const config = testConfig(dataDir, { ...(pgDb ? { databaseUrl: pgDb.url } : {}), ...overrides });
  const parley = await createApp(config, { ...appOpts, logger: createLogger(config.logLevel) });
  const port = await parley.listen(0, '127.0.0.1');
  return {
    parley,
    url: `http://127.0.0.1:${port}`,
    config,
    close: async () => {
      await parley.close();
      await pgDb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Res<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A tiny JSON client for one server. `token` adds the bearer header; `raw` sends a body as is. */
export function client(baseUrl: string) {
  return async function call<T = any>(
    method: string,
    path: string,
    opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<Res<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.raw !== undefined) {
      body = opts.raw;
      headers['content-type'] ??= 'application/json';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(baseUrl + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: leave the text
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
}

export type Call = ReturnType<typeof client>;

let counter = 0;
/** A unique valid username for this test process. */
export const uniqueName = (prefix = 'u') => `${prefix}${process.pid % 10000}x${++counter}`;

/** Registers a user and returns its session. */
export async function register(
  call: Call,
  name = uniqueName(),
  password = 'correct-horse-9',
): Promise<Session> {
  const res = await call<Session>('POST', '/api/auth/register', {
    body: { username: name, email: `${name}@example.com`, password },
  });
  if (res.status !== 201)
    throw new Error(`register ${name} failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
