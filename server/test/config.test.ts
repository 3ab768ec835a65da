import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnParley } from '../src/test-support/process.js';
import { ConfigError, loadConfig, parseDuration } from '../src/config.js';
import { effectiveEventBudget } from '../src/realtime/event-budget.js';

const tmpDirs: string[] = [];
function tmp(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-config-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

const SECRET = 'x'.repeat(32);

/** Asserts that `env` is refused with a ConfigError that names `variable`. */
function expectRefused(env: NodeJS.ProcessEnv, variable: string): ConfigError {
  let caught: unknown;
  try {
    loadConfig({ DATA_DIR: tmp(), JWT_SECRET: SECRET, ...env });
  } catch (err) {
    caught = err;
  }
  expect(caught, `${JSON.stringify(env)} should be refused`).toBeInstanceOf(ConfigError);
  expect((caught as ConfigError).message).toContain(variable);
  return caught as ConfigError;
}

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const dir = tmp();
    const c = loadConfig({ DATA_DIR: dir, JWT_SECRET: SECRET });
    expect(c).toMatchObject({
      env: 'development',
      port: 3000,
      host: '0.0.0.0',
      dataDir: dir,
      databaseUrl: `sqlite:${path.join(dir, 'parley.db')}`,
      redisUrl: null,
      jwtSecret: SECRET,
      accessTokenTtlSec: 15 * 60,
      refreshTokenTtlSec: 30 * 86400,
      allowGuests: true,
      corsOrigins: [],
      uploadMaxBytes: 5_242_880,
      uploadTtlHours: 168,
      rateLimitAuthPerMin: 60,
      loginMaxFailures: 10,
      messageRatePerSec: 5,
      messageBurst: 20,
      tls: null,
      logLevel: 'info',
    });
  });

  it('defaults DATA_DIR to ./data, resolved against the working directory', () => {
    const c = loadConfig({ JWT_SECRET: SECRET });
    expect(c.dataDir).toBe(path.resolve('data'));
    expect(c.databaseUrl).toBe(`sqlite:${path.resolve('data', 'parley.db')}`);
  });

  it('refuses REDIS_URL without JWT_SECRET: several nodes must share one key', () => {
    expect(() => loadConfig({ DATA_DIR: tmp(), REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(
      /JWT_SECRET: required when REDIS_URL is set/,
    );
  });

  it('reads every variable it is given', () => {
    const c = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      HOST: '127.0.0.1',
      DATA_DIR: tmp(),
      DATABASE_URL: 'postgres://u:p@db.internal:5432/parley',
      REDIS_URL: 'redis://cache:6379',
      JWT_SECRET: SECRET,
      ACCESS_TOKEN_TTL: '5m',
      REFRESH_TOKEN_TTL: '7d',
      ALLOW_GUESTS: 'false',
      CORS_ORIGINS: 'https://a.example/, https://b.example',
      UPLOAD_MAX_BYTES: '1048576',
      UPLOAD_TTL_HOURS: '24',
      RATE_LIMIT_AUTH_PER_MIN: '30',
      LOGIN_MAX_FAILURES: '3',
      MESSAGE_RATE_PER_SEC: '2.5',
      MESSAGE_BURST: '8',
      TLS_CERT_FILE: '/etc/tls/cert.pem',
      TLS_KEY_FILE: '/etc/tls/key.pem',
      LOG_LEVEL: 'warn',
    });
    expect(c).toMatchObject({
      env: 'production',
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgres://u:p@db.internal:5432/parley',
      redisUrl: 'redis://cache:6379',
      accessTokenTtlSec: 300,
      refreshTokenTtlSec: 7 * 86400,
      allowGuests: false,
      corsOrigins: ['https://a.example', 'https://b.example'],
      uploadMaxBytes: 1_048_576,
      uploadTtlHours: 24,
      rateLimitAuthPerMin: 30,
      loginMaxFailures: 3,
      messageRatePerSec: 2.5,
      messageBurst: 8,
      tls: { certFile: '/etc/tls/cert.pem', keyFile: '/etc/tls/key.pem' },
      logLevel: 'warn',
    });
  });

  it('has the documented socket defaults and reads the socket variables', () => {
    expect(loadConfig({ DATA_DIR: tmp(), JWT_SECRET: SECRET })).toMatchObject({
      socketEventRatePerSec: 30,
      socketEventBurst: 60,
      socketHandshakesPerAddressPerSec: 20,
      socketConnectTimeoutSec: 10,
    });
    const c = loadConfig({
      DATA_DIR: tmp(),
      JWT_SECRET: SECRET,
      SOCKET_EVENT_RATE_PER_SEC: '12.5',
      SOCKET_EVENT_BURST: '25',
      SOCKET_HANDSHAKES_PER_ADDRESS_PER_SEC: '5',
      SOCKET_CONNECT_TIMEOUT_SEC: '3',
    });
    expect(c).toMatchObject({
      socketEventRatePerSec: 12.5,
      socketEventBurst: 25,
      socketHandshakesPerAddressPerSec: 5,
      socketConnectTimeoutSec: 3,
    });
  });

  it('reads the per-user write limits (LIMIT_*, N/duration) with their documented defaults', () => {
    const c = loadConfig({
      DATA_DIR: tmp(),
      JWT_SECRET: SECRET,
      LIMIT_ROOM_CREATE: '20/2h',
      LIMIT_TYPING: '5 / 30',
    });
    expect(c.writeLimits).toEqual({
      roomCreate: { points: 20, durationSec: 7200 },
      roomUpdate: { points: 30, durationSec: 600 },
      membership: { points: 60, durationSec: 600 },
      messageEdit: { points: 20, durationSec: 4 },
      profile: { points: 30, durationSec: 600 },
      emailChange: { points: 10, durationSec: 900 },
      upload: { points: 30, durationSec: 60 },
      dmOpen: { points: 60, durationSec: 600 },
      readMarker: { points: 120, durationSec: 60 },
      typing: { points: 5, durationSec: 30 },
      search: { points: 120, durationSec: 60 },
    });
    for (const bad of ['10', '0/1h', '10/0', 'ten/1h', '10/1y', '-1/1m'])
      expectRefused({ LIMIT_ROOM_UPDATE: bad }, 'LIMIT_ROOM_UPDATE');
  });

  it('never lets the socket event budget refuse what the message limits allow', () => {
    const budget = (env: Record<string, string>) =>
      effectiveEventBudget(loadConfig({ DATA_DIR: tmp(), JWT_SECRET: SECRET, ...env }));
    // Defaults: the configured budget is above the message limits (5/s, 20) plus headroom.
    expect(budget({})).toEqual({ ratePerSec: 30, burst: 60, maxStrikes: 240 });
    // Generous message limits lift it: the message limit plus 10/s and 20 events of headroom.
    expect(budget({ MESSAGE_RATE_PER_SEC: '100', MESSAGE_BURST: '1000' })).toEqual({
      ratePerSec: 110,
      burst: 1020,
      maxStrikes: 4080,
    });
    expect(
      budget({ SOCKET_EVENT_RATE_PER_SEC: '500', SOCKET_EVENT_BURST: '2000', MESSAGE_BURST: '1000' }),
    ).toEqual({ ratePerSec: 500, burst: 2000, maxStrikes: 8000 });
    // A tiny configured budget is lifted to the message limits (5/s, 1) plus headroom; a socket is cut off only
    // after at least 120 refusals however small the budget.
    expect(budget({ SOCKET_EVENT_BURST: '1', SOCKET_EVENT_RATE_PER_SEC: '1', MESSAGE_BURST: '1' })).toEqual({
      ratePerSec: 15,
      burst: 21,
      maxStrikes: 120,
    });
  });

  it('has the documented thread-pool and image defaults and reads those variables (issue 13)', () => {
    expect(loadConfig({ DATA_DIR: tmp(), JWT_SECRET: SECRET })).toMatchObject({
      uploadMaxPixels: 40_000_000,
      imageConcurrency: 1,
      passwordHashConcurrency: 2,
    });
    const c = loadConfig({
      DATA_DIR: tmp(),
      JWT_SECRET: SECRET,
      UPLOAD_MAX_PIXELS: '24000000',
      IMAGE_CONCURRENCY: '2',
      PASSWORD_HASH_CONCURRENCY: '3',
    });
    expect(c).toMatchObject({ uploadMaxPixels: 24_000_000, imageConcurrency: 2, passwordHashConcurrency: 3 });
  });

  it('treats an empty variable as unset', () => {
    const c = loadConfig({ DATA_DIR: tmp(), JWT_SECRET: SECRET, PORT: '', ALLOW_GUESTS: '', LOG_LEVEL: '' });
    expect(c.port).toBe(3000);
    expect(c.allowGuests).toBe(true);
    expect(c.logLevel).toBe('info');
  });

  it('accepts PORT=0 (pick a free port)', () => {
    expect(loadConfig({ DATA_DIR: tmp(), JWT_SECRET: SECRET, PORT: '0' }).port).toBe(0);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['ACCESS_TOKEN_TTL', 'soon'],
    ['ACCESS_TOKEN_TTL', '0'],
    ['REFRESH_TOKEN_TTL', '30 days'],
    ['DATABASE_URL', 'mysql://u:p@localhost/parley'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['ALLOW_GUESTS', 'maybe'],
    ['NODE_ENV', 'staging'],
    ['LOG_LEVEL', 'loud'],
    ['UPLOAD_MAX_BYTES', 'lots'],
    ['UPLOAD_TTL_HOURS', '0'],
    ['RATE_LIMIT_AUTH_PER_MIN', '0'],
    ['LOGIN_MAX_FAILURES', 'ten'],
    ['MESSAGE_RATE_PER_SEC', '-5'],
    ['MESSAGE_BURST', '0'],
    ['SOCKET_EVENT_RATE_PER_SEC', '0'],
    ['SOCKET_EVENT_BURST', '1.5'],
    ['SOCKET_HANDSHAKES_PER_ADDRESS_PER_SEC', 'many'],
    ['SOCKET_CONNECT_TIMEOUT_SEC', '0'],
    ['SOCKET_CONNECT_TIMEOUT_SEC', '301'],
    ['UPLOAD_MAX_PIXELS', '500000'],
    ['IMAGE_CONCURRENCY', '0'],
    ['PASSWORD_HASH_CONCURRENCY', 'two'],
  ])('refuses %s=%s, naming the variable', (variable, value) => {
    const err = expectRefused({ [variable]: value }, variable);
    // The message says what is wrong, not only where.
    expect(err.message.length).toBeGreaterThan(variable.length + 10);
  });

  it('names every bad variable at once', () => {
    const err = expectRefused({ PORT: 'abc', ALLOW_GUESTS: 'maybe' }, 'PORT');
    expect(err.message).toContain('ALLOW_GUESTS');
  });

  it('refuses one TLS file without the other', () => {
    expectRefused({ TLS_CERT_FILE: '/etc/tls/cert.pem' }, 'TLS_KEY_FILE');
    expectRefused({ TLS_KEY_FILE: '/etc/tls/key.pem' }, 'TLS_CERT_FILE');
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['no', false],
  ])('reads ALLOW_GUESTS=%s as %s', (value, expected) => {
    expect(loadConfig({ DATA_DIR: tmp(), JWT_SECRET: SECRET, ALLOW_GUESTS: value }).allowGuests).toBe(
      expected,
    );
  });

  it('accepts postgresql:// as well as postgres://, and explicit sqlite: paths', () => {
    const base = { DATA_DIR: tmp(), JWT_SECRET: SECRET };
    expect(loadConfig({ ...base, DATABASE_URL: 'postgresql://h/db' }).databaseUrl).toBe('postgresql://h/db');
    expect(loadConfig({ ...base, DATABASE_URL: 'sqlite:/var/lib/p.db' }).databaseUrl).toBe(
      'sqlite:/var/lib/p.db',
    );
  });
});

describe('parseDuration', () => {
  it.each([
    ['45s', 45],
    ['15m', 900],
    ['2h', 7200],
    ['30d', 2_592_000],
    ['3600', 3600],
    [' 10m ', 600],
  ])('%s is %i seconds', (value, seconds) => {
    expect(parseDuration(value)).toBe(seconds);
  });

  it.each(['soon', '', '0', '0m', '-5m', '1.5h', '10w', 'm'])('"%s" is not a duration', (value) => {
    expect(parseDuration(value)).toBeNull();
  });
});

describe('JWT_SECRET', () => {
  it('is required in production', () => {
    const dir = tmp();
    const err = expectRefused({ NODE_ENV: 'production', JWT_SECRET: undefined, DATA_DIR: dir }, 'JWT_SECRET');
    expect(err.message).toMatch(/production/);
    // Production never falls back to a generated secret.
    expect(existsSync(path.join(dir, 'jwt-secret'))).toBe(false);
  });

  it('must be at least 32 bytes in production', () => {
    expectRefused({ NODE_ENV: 'production', JWT_SECRET: 'short' }, 'JWT_SECRET');
    expectRefused({ NODE_ENV: 'production', JWT_SECRET: 'y'.repeat(31) }, 'JWT_SECRET');
    // Bytes, not characters: 16 two-byte characters are 32 bytes.
    expect(
      loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp(), JWT_SECRET: 'é'.repeat(16) }).jwtSecret,
    ).toBe('é'.repeat(16));
    expect(loadConfig({ NODE_ENV: 'production', DATA_DIR: tmp(), JWT_SECRET: SECRET }).jwtSecret).toBe(
      SECRET,
    );
  });

  it('is generated once in development, kept in DATA_DIR/jwt-secret (mode 0600), and reused', () => {
    const dir = path.join(tmp(), 'not', 'yet', 'there');
    const first = loadConfig({ DATA_DIR: dir });
    const file = path.join(dir, 'jwt-secret');
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.byteLength(first.jwtSecret)).toBeGreaterThanOrEqual(32);
    expect(readFileSync(file, 'utf8').trim()).toBe(first.jwtSecret);

    const second = loadConfig({ DATA_DIR: dir });
    expect(second.jwtSecret).toBe(first.jwtSecret);
    expect(loadConfig({ DATA_DIR: dir, NODE_ENV: 'test' }).jwtSecret).toBe(first.jwtSecret);

    // Another data directory is another installation with its own secret.
    expect(loadConfig({ DATA_DIR: tmp() }).jwtSecret).not.toBe(first.jwtSecret);
  });

  it('replaces a kept secret that is too short to be safe', () => {
    const dir = tmp();
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'jwt-secret'), 'weak\n', { mode: 0o600 });
    const c = loadConfig({ DATA_DIR: dir });
    expect(Buffer.byteLength(c.jwtSecret)).toBeGreaterThanOrEqual(32);
    expect(readFileSync(path.join(dir, 'jwt-secret'), 'utf8').trim()).toBe(c.jwtSecret);
  });

  it('prefers an explicit JWT_SECRET over the kept one in development', () => {
    const dir = tmp();
    const generated = loadConfig({ DATA_DIR: dir }).jwtSecret;
    expect(loadConfig({ DATA_DIR: dir, JWT_SECRET: SECRET }).jwtSecret).toBe(SECRET);
    expect(generated).not.toBe(SECRET);
  });
});

/** Runs the real entry point with `env` (on top of a clean environment) until it exits; bounded. */
function runServer(env: Record<string, string>, timeoutMs = 30_000) {
  const child = spawnParley(env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(
          new Error(`the server did not exit within ${timeoutMs} ms; stdout: ${stdout} stderr: ${stderr}`),
        );
      }, timeoutMs);
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    },
  );
}

describe('the server process with a bad environment', () => {
  it('exits 1 naming the variable, before touching the data directory', async () => {
    const dir = path.join(tmp(), 'data');
    const r = await runServer({ PORT: 'abc', DATA_DIR: dir, HOST: '127.0.0.1' });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('PORT');
    expect(r.stderr).not.toMatch(/\n\s+at /); // a sentence, not a stack trace
    expect(r.stdout).not.toContain('listening');
    expect(existsSync(path.join(dir, 'parley.db'))).toBe(false);
  });

  it('refuses to start in production without JWT_SECRET', async () => {
    const r = await runServer({ NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1', DATA_DIR: tmp() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('JWT_SECRET');
    expect(r.stdout).not.toContain('listening');
  });
});
