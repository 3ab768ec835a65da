import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Socket as EngineSocket } from 'engine.io-client';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { countRedisErrors, metricsAllowed, parseMetricsAllow } from '../src/http/metrics.js';
import { ChildServers, spawnParley } from '../src/test-support/process.js';
import {
  client,
  DIALECT,
  generousWriteLimits,
  register,
  startTestServer,
  type Call,
  type TestServer,
} from '../src/test-support/server.js';
import { closeAllSockets, connectSocket, emitAck, waitFor } from './helpers/sockets.js';

/*
 * GET /metrics (Prometheus text format): what it counts, and who may read it.
 * The registry is per process and this file runs in a process of its own: the tests read differences.
 */

/** The value of one sample (`name` with exactly these labels) in a Prometheus text exposition; 0 if absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[l[1]!] = l[2]!;
    const want = Object.entries(labels);
    if (want.length !== Object.keys(found).length) continue;
    if (want.every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return 0;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe(`metrics (${DIALECT})`, () => {
  let server: TestServer;
  let call: Call;

  beforeAll(async () => {
    server = await startTestServer();
    call = client(server.url);
  });
  afterAll(async () => {
    closeAllSockets();
    await server?.close();
  });

  it('serves the default process metrics, event-loop lag included, to loopback', async () => {
    const text = await scrape(server.url);
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
    expect(text).toContain('# TYPE parley_connected_sockets gauge');
    expect(text).toContain('# TYPE parley_socket_event_duration_seconds histogram');
    expect(text).toContain('# TYPE parley_messages_stored_total counter');
    expect(text).toContain('# TYPE parley_db_errors_total counter');
    expect(text).toContain('# TYPE parley_redis_errors_total counter');
    // Never cached, never the web client's fallback page.
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('counts connected sockets, up and down', async () => {
    const local = server.parley.io.of('/').sockets.size;
    const before = sample(await scrape(server.url), 'parley_connected_sockets');
    const a = await register(call);
    const b = await register(call);
    const sa = await connectSocket(server, a);
    const sb = await connectSocket(server, b);
    expect(sample(await scrape(server.url), 'parley_connected_sockets')).toBe(before + 2);
    sa.disconnect();
    sb.disconnect();
    await waitFor(() => server.parley.io.of('/').sockets.size === local, 'the server to see both sockets go');
    expect(sample(await scrape(server.url), 'parley_connected_sockets')).toBe(before);
  });

  it('counts engine connections refused at the door, CONNECT floods and event-budget refusals', async () => {
    // One socket per address, and a handshake bucket that does not refill within the test.
    const tight = await startTestServer({ maxSocketsPerAddress: 1, socketHandshakesPerAddressPerSec: 0.001 });
    try {
      const before = await scrape(tight.url);
      const refused = (text: string, limit: string) =>
        sample(text, 'parley_socket_handshakes_refused_total', { limit });
      const open = () => new EngineSocket(tight.url, { transports: ['websocket'], path: '/socket.io/' });
      // The one handshake the bucket allows floods CONNECT packets: the server closes it.
      const flooder = open();
      await new Promise<void>((resolve) => flooder.once('open', () => resolve()));
      const closed = new Promise<void>((resolve) => flooder.once('close', () => resolve()));
      for (let i = 0; i < 5; i++) flooder.send('0{}');
      await closed;
      // The next is refused: the address has used its handshakes.
      const next = open();
      await new Promise<void>((resolve) => next.once('error', () => resolve()));
      next.close();
      const after = await scrape(tight.url);
      expect(sample(after, 'parley_socket_connect_flood_closes_total')).toBe(
        sample(before, 'parley_socket_connect_flood_closes_total') + 1,
      );
      expect(refused(after, 'handshake_rate')).toBe(refused(before, 'handshake_rate') + 1);
      expect(refused(after, 'engine_address')).toBe(refused(before, 'engine_address'));
      expect(after).toContain('# TYPE parley_socket_events_refused_total counter');
    } finally {
      await tight.close();
    }
  });

  it('counts refusals of the per-user limits by limit (parley_rate_limited_total)', async () => {
    const tight = await startTestServer({
      writeLimits: generousWriteLimits({ roomCreate: { points: 1, durationSec: 3600 } }),
    });
    try {
      const c = client(tight.url);
      const owner = await register(c);
      const create = () =>
        c('POST', '/api/chatrooms', { token: owner.accessToken, body: { name: `m-${randomUUID()}` } });
      const before = await scrape(tight.url);
      expect((await create()).status).toBe(201);
      expect((await create()).status).toBe(429);
      const after = await scrape(tight.url);
      const refused = (text: string, limit: string) => sample(text, 'parley_rate_limited_total', { limit });
      expect(refused(after, 'roomCreate')).toBe(refused(before, 'roomCreate') + 1);
      expect(refused(after, 'roomUpdate')).toBe(refused(before, 'roomUpdate'));
    } finally {
      await tight.close();
    }
  });

  it('counts stored messages by kind, over the socket and over REST, once per message', async () => {
    const owner = await register(call);
    const room = await call('POST', '/api/chatrooms', {
      token: owner.accessToken,
      body: { name: `metrics-${randomUUID().slice(0, 8)}` },
    });
    expect(room.status).toBe(201);
    const roomId: string = room.body.id;
    // Every new user joins `general` (a stored system message): the joiner signs up before counting starts.
    const joiner = await register(call);
    const before = await scrape(server.url);

    const socket = await connectSocket(server, owner);
    const clientId = randomUUID();
    const sent = await emitAck(socket, 'message:send', { roomId, text: 'over the socket', clientId });
    expect(sent.ok).toBe(true);
    // A resend with the same clientId stores nothing new.
    expect((await emitAck(socket, 'message:send', { roomId, text: 'over the socket', clientId })).ok).toBe(
      true,
    );
    const rest = await call('POST', `/api/chatrooms/${roomId}/messages`, {
      token: owner.accessToken,
      body: { text: 'over REST', clientId: randomUUID() },
    });
    expect(rest.status).toBe(201);
    // A join is stored as a system message.
    expect(
      (await call('POST', `/api/chatrooms/${roomId}/members`, { token: joiner.accessToken, body: {} }))
        .status,
    ).toBe(200);

    const after = await scrape(server.url);
    const diff = (kind: string) =>
      sample(after, 'parley_messages_stored_total', { kind }) -
      sample(before, 'parley_messages_stored_total', { kind });
    expect(diff('text')).toBe(2);
    expect(diff('system')).toBe(1);
  });

  it('times acknowledged events by event and outcome', async () => {
    const user = await register(call);
    const socket = await connectSocket(server, user);
    const before = await scrape(server.url);
    const count = (text: string, event: string, ok: string) =>
      sample(text, 'parley_socket_event_duration_seconds_count', { event, ok });

    const rooms = await call('GET', '/api/chatrooms', { token: user.accessToken });
    const general = rooms.body.rooms.find((r: any) => r.name === 'general');
    expect((await emitAck(socket, 'messages:fetch', { roomId: general.id })).ok).toBe(true);
    expect((await emitAck(socket, 'messages:fetch', { roomId: general.id })).ok).toBe(true);
    // Refused: a room that does not exist.
    expect((await emitAck(socket, 'messages:fetch', { roomId: '9999999' })).ok).toBe(false);
    // Refused by validation before any work: timed all the same.
    expect((await emitAck(socket, 'message:send', { roomId: general.id } as any)).ok).toBe(false);

    const after = await scrape(server.url);
    expect(count(after, 'messages:fetch', 'true') - count(before, 'messages:fetch', 'true')).toBe(2);
    expect(count(after, 'messages:fetch', 'false') - count(before, 'messages:fetch', 'false')).toBe(1);
    expect(count(after, 'message:send', 'false') - count(before, 'message:send', 'false')).toBe(1);
    // The histogram is whole: the +Inf bucket holds every observation, and time was spent.
    const inf = sample(after, 'parley_socket_event_duration_seconds_bucket', {
      le: '+Inf',
      event: 'messages:fetch',
      ok: 'true',
    });
    expect(inf).toBe(count(after, 'messages:fetch', 'true'));
    expect(
      sample(after, 'parley_socket_event_duration_seconds_sum', { event: 'messages:fetch', ok: 'true' }),
    ).toBeGreaterThan(0);
  });

  it('counts Redis client errors', async () => {
    const before = sample(await scrape(server.url), 'parley_redis_errors_total', { client: 'test' });
    // Nothing listens on port 1: a real client, refused.
    const redis = createClient({ url: 'redis://127.0.0.1:1', socket: { reconnectStrategy: false } });
    countRedisErrors(redis, 'test');
    await expect(redis.connect()).rejects.toThrow();
    expect(sample(await scrape(server.url), 'parley_redis_errors_total', { client: 'test' })).toBeGreaterThan(
      before,
    );
  });

  it('counts failed queries by error class, reads and writes (a table that went missing answers 500 and is counted)', async () => {
    const doomed = await startTestServer();
    try {
      const dcall = client(doomed.url);
      const user = await register(dcall);
      const rooms = await dcall('GET', '/api/chatrooms', { token: user.accessToken });
      const general = rooms.body.rooms.find((r: any) => r.name === 'general');
      const errors = (text: string) =>
        sample(text, 'parley_db_errors_total', { type: 'SequelizeDatabaseError' });
      const before = errors(await scrape(doomed.url));
      // This server's own database, broken for real: its messages table is renamed away.
      await doomed.parley.ctx.db.sequelize.query('ALTER TABLE messages RENAME TO messages_gone');
      const history = await dcall('GET', `/api/chatrooms/${general.id}/messages`, {
        token: user.accessToken,
      });
      expect(history.status).toBe(500);
      expect(history.body.error.code).toBe('INTERNAL');
      const afterRead = errors(await scrape(doomed.url));
      expect(afterRead).toBeGreaterThan(before);
      // A write fails in Sequelize's own statements (the group commit's transaction), not on the read connection.
      const sent = await dcall('POST', `/api/chatrooms/${general.id}/messages`, {
        token: user.accessToken,
        body: { text: 'into the void' },
      });
      expect(sent.status).toBe(500);
      expect(errors(await scrape(doomed.url))).toBeGreaterThan(afterRead);
    } finally {
      await doomed.close().catch(() => undefined);
    }
  });
});

describe('who may read /metrics (METRICS_ALLOW)', () => {
  it('parses addresses and ranges; loopback only by default; * for anyone', () => {
    const loopback = parseMetricsAllow(undefined);
    expect(metricsAllowed(loopback, '127.0.0.1')).toBe(true);
    expect(metricsAllowed(loopback, '127.8.9.10')).toBe(true);
    expect(metricsAllowed(loopback, '::1')).toBe(true);
    expect(metricsAllowed(loopback, '::ffff:127.0.0.1')).toBe(true);
    expect(metricsAllowed(loopback, '10.0.0.1')).toBe(false);
    expect(metricsAllowed(loopback, '::ffff:10.0.0.1')).toBe(false);
    expect(metricsAllowed(loopback, undefined)).toBe(false);

    const list = parseMetricsAllow(' 10.1.0.0/16, 192.168.1.7 ,fd00::/8');
    expect(metricsAllowed(list, '10.1.200.3')).toBe(true);
    expect(metricsAllowed(list, '10.2.0.1')).toBe(false);
    expect(metricsAllowed(list, '192.168.1.7')).toBe(true);
    expect(metricsAllowed(list, '192.168.1.8')).toBe(false);
    expect(metricsAllowed(list, 'fd12::1')).toBe(true);
    // A list replaces the default: loopback is not in this one.
    expect(metricsAllowed(list, '127.0.0.1')).toBe(false);

    expect(metricsAllowed(parseMetricsAllow('*'), '203.0.113.9')).toBe(true);
    for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '1.2.3', '10.0.0.0/8/1', '10.0.0.0/x']) {
      expect(() => parseMetricsAllow(bad), bad).toThrow(ConfigError);
    }
  });

  const servers = new ChildServers();
  afterEach(() => servers.cleanup());

  it('answers 403 to an address that is not allowed, and the API is unaffected', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-metrics-'));
    servers.onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
    const p = await servers.start({
      DATA_DIR: dataDir,
      METRICS_ALLOW: '10.0.0.0/8',
      PASSWORD_HASH_MEMORY_KIB: '8192',
      ...(await servers.database()),
    });
    const res = await fetch(`${p.url}/metrics`);
    expect(res.status).toBe(403);
    const body: any = await res.json();
    expect(body.error.code).toBe('FORBIDDEN');
    expect(JSON.stringify(body)).not.toContain('nodejs_');
    expect((await fetch(`${p.url}/api/health`)).status).toBe(200);
    p.proc.kill('SIGTERM');
    expect(await p.exited).toEqual({ code: 0, signal: null });
  });

  it('refuses to start with a malformed METRICS_ALLOW, naming the variable', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-metrics-'));
    const child = spawnParley({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', METRICS_ALLOW: 'everyone' });
    try {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code).toBe(1);
      expect(out).toContain('METRICS_ALLOW');
      expect(out).not.toMatch(/listening/i);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
