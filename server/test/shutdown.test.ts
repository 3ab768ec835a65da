import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { io as ioClient, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildServers, type ParleyProcess, outputEnded, exitWithin } from '../src/test-support/process.js';
import { PG_URL } from '../src/test-support/server.js';

/*
 * Graceful shutdown of a real Parley process on SIGTERM (server/src/shutdown.ts): new connections are refused,
 * requests and socket events already received are answered, sockets are sent away with a disconnect their client
 * reconnects after, and the process exits 0 within SHUTDOWN_TIMEOUT_MS. Nothing acknowledged is lost: a second
 * process on the same data has it all, and the clients reconnect to it on their own.
 */

const servers = new ChildServers();
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await servers.cleanup();
});
const DIALECT = PG_URL ? 'postgres' : 'sqlite';

async function api(base: string, method: string, p: string, opts: { token?: string; body?: unknown } = {}) {
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

/** Resolves once the process has printed a line matching `re` (or fails after `ms`). */
function printed(p: ParleyProcess, re: RegExp, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!re.test(p.output())) return false;
      clearTimeout(timer);
      p.proc.stdout!.off('data', check);
      resolve();
      return true;
    };
    const timer = setTimeout(() => {
      p.proc.stdout!.off('data', check);
      reject(new Error(`no line matching ${re} within ${ms} ms:\n${p.output()}`));
    }, ms);
    if (!check()) p.proc.stdout!.on('data', check);
  });
}

/** A client that reconnects on its own (quickly, for the test), and records how it was disconnected. */
function reconnectingSocket(url: string, token: string, transport: 'websocket' | 'polling') {
  const socket = ioClient(url, {
    auth: { token },
    transports: [transport],
    forceNew: true,
    reconnection: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 300,
    randomizationFactor: 0,
  });
  sockets.push(socket);
  const disconnects: { reason: string; active: boolean }[] = [];
  let connects = 0;
  const waiters: (() => void)[] = [];
  socket.on('connect', () => {
    connects++;
    for (const w of waiters.splice(0)) w();
  });
  socket.on('disconnect', (reason) => disconnects.push({ reason, active: socket.active }));
  /** Resolves once the socket has connected `n` times in all. */
  const connected = (n: number, ms = 15_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${transport} socket: ${connects} connects, wanted ${n}`)),
        ms,
      );
      const check = () => {
        if (connects >= n) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  return { socket, disconnects, connected };
}

/**
 * A POST whose headers reach the server now and whose body is sent by `finish()`. It asks `Expect: 100-continue`,
 * so `started` resolves once the server has taken the request in hand.
 */
function slowPost(url: string, p: string, token: string, body: unknown) {
  const data = Buffer.from(JSON.stringify(body));
  const u = new URL(url + p);
  const req = http.request({
    host: u.hostname,
    port: u.port,
    path: u.pathname,
    method: 'POST',
    agent: false,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'content-length': data.length,
      expect: '100-continue',
    },
  });
  const started = new Promise<void>((resolve) => req.once('continue', () => resolve()));
  const response = new Promise<{ status: number; body: any; connection: string | undefined }>(
    (resolve, reject) => {
      req.once('error', reject);
      req.once('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            body: text ? JSON.parse(text) : undefined,
            connection: res.headers.connection,
          }),
        );
      });
    },
  );
  response.catch(() => undefined);
  return { started, response, finish: () => req.end(data), abort: () => req.destroy() };
}

/** Opens a fresh TCP connection with a request: resolves with the status, or with the connection error's code. */
function freshRequest(url: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/api/health`, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
  });
}

async function history(base: string, token: string, roomId: string): Promise<any[]> {
  const all: any[] = [];
  let page = await api(base, 'GET', `/api/chatrooms/${roomId}/messages?limit=100`, { token });
  all.unshift(...page.body.messages);
  for (let i = 0; page.body.hasMore; i++) {
    if (i > 50) throw new Error('history did not end after 50 pages');
    page = await api(base, 'GET', `/api/chatrooms/${roomId}/messages?limit=100&before=${all[0].id}`, {
      token,
    });
    all.unshift(...page.body.messages);
  }
  return all;
}

async function baseEnv(extra: Record<string, string> = {}) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-shutdown-'));
  servers.onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  return {
    DATA_DIR: dataDir,
    MESSAGE_RATE_PER_SEC: '100000',
    MESSAGE_BURST: '100000',
    PASSWORD_HASH_MEMORY_KIB: '8192',
    ...(await servers.database()),
    ...extra,
  };
}

describe(`graceful shutdown (${DIALECT})`, () => {
  it('answers what it received, refuses new connections, sends sockets away to reconnect, exits 0; nothing acknowledged is lost', async () => {
    const env = await baseEnv({ SHUTDOWN_TIMEOUT_MS: '10000' });
    const first = await servers.start(env);
    const port = new URL(first.url).port;
    const name = `shut${process.pid % 100000}`;
    const reg = await api(first.url, 'POST', '/api/auth/register', {
      body: { username: name, email: `${name}@example.com`, password: 'correct-horse-9' },
    });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const token: string = reg.body.accessToken;
    const room = await api(first.url, 'POST', '/api/chatrooms', { token, body: { name: 'shutdown-room' } });
    expect(room.status).toBe(201);
    const roomId: string = room.body.id;

    const ws = reconnectingSocket(first.url, token, 'websocket');
    const polling = reconnectingSocket(first.url, token, 'polling');
    await Promise.all([ws.connected(1), polling.connected(1)]);

    // An HTTP request the server has in hand, whose body is still to come.
    const slowClientId = randomUUID();
    const slow = slowPost(first.url, `/api/chatrooms/${roomId}/messages`, token, {
      text: 'sent across the shutdown',
      clientId: slowClientId,
    });
    await slow.started;

    // A burst of socket sends, all on the wire before the signal; the server works through them in order.
    const BURST = 30;
    const burst = Array.from({ length: BURST }, (_, i) => ({ clientId: randomUUID(), text: `burst ${i}` }));
    const acks = new Map<string, any>();
    const firstAck = new Promise<void>((resolve) => {
      for (const m of burst) {
        ws.socket.emit('message:send', { roomId, text: m.text, clientId: m.clientId }, (res: any) => {
          acks.set(m.clientId, res);
          resolve();
        });
      }
    });
    await firstAck;

    // REST senders that keep going until the server stops answering.
    const restAcked = new Map<string, string>(); // clientId -> id
    const restOutcomes: string[] = [];
    let stopRest = false;
    let restUnderway = () => {};
    const restSender = async (w: number) => {
      for (let n = 0; n < 2_000 && !stopRest; n++) {
        const clientId = randomUUID();
        try {
          const r = await api(first.url, 'POST', `/api/chatrooms/${roomId}/messages`, {
            token,
            body: { text: `rest ${w}.${n}`, clientId },
          });
          restOutcomes.push(String(r.status));
          if (r.status === 201) restAcked.set(clientId, r.body.id);
          if (restAcked.size >= 3) restUnderway();
        } catch {
          // Refused or cut: the server is going away; the outcome of this one is unknown to the client.
          return;
        }
      }
    };
    const restSenders = Promise.all([0, 1, 2].map(restSender));
    // Let them be under way before the signal.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('REST sends did not get going')), 10_000);
      restUnderway = () => {
        clearTimeout(timer);
        resolve();
      };
      if (restAcked.size >= 3) restUnderway();
    });

    first.proc.kill('SIGTERM');
    await printed(first, /"msg":"shutting down"/);

    // New connections are not served: refused once the listening socket is closed (reset if one slipped into the
    // accept queue just before), so a proxy passes them to another node.
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(await freshRequest(first.url));

    // The request in hand completes (its connection closes after the answer).
    slow.finish();
    const slowRes = await slow.response;
    expect(slowRes.status, JSON.stringify(slowRes.body)).toBe(201);
    expect(slowRes.connection).toBe('close');

    const exit = await exitWithin(first, 12_000);
    stopRest = true;
    await restSenders;
    expect(exit).toEqual({ code: 0, signal: null });
    await outputEnded(first);
    expect(first.output()).toContain('shutdown complete');

    // Every socket send that was on the wire was answered, and answered well.
    expect(acks.size).toBe(BURST);
    for (const [, res] of acks) expect(res.ok, JSON.stringify(res)).toBe(true);
    // REST answers were all successes: nothing failed because the database closed under it.
    expect(restOutcomes.filter((s) => s !== '201')).toEqual([]);

    // Both sockets were sent away with a disconnect their client reconnects after.
    expect(ws.disconnects[0]).toEqual({ reason: 'transport close', active: true });
    expect(polling.disconnects[0]!.active).toBe(true);
    expect(['transport close', 'transport error']).toContain(polling.disconnects[0]!.reason);

    // ---- a new process on the same data and port: the clients come back by themselves ----
    const second = await servers.start({ ...env, PORT: port });
    expect(second.url).toBe(first.url);
    await Promise.all([ws.connected(2), polling.connected(2)]);

    const stored = await history(second.url, token, roomId);
    const byClientId = new Map(stored.filter((m) => m.clientId).map((m) => [m.clientId, m]));
    for (const [clientId, res] of acks) expect(byClientId.get(clientId)?.id).toBe(res.data.message.id);
    for (const [clientId, id] of restAcked) expect(byClientId.get(clientId)?.id).toBe(id);
    expect(byClientId.get(slowClientId)?.id).toBe(slowRes.body.id);
    // In the order they were sent.
    const burstIds = burst.map((m) => BigInt(byClientId.get(m.clientId).id));
    expect(burstIds).toEqual([...burstIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

    // The reconnected socket works.
    const again = await ws.socket.timeout(5_000).emitWithAck('message:send', {
      roomId,
      text: 'after the restart',
      clientId: randomUUID(),
    });
    expect(again.ok).toBe(true);

    second.proc.kill('SIGTERM');
    expect(await exitWithin(second, 12_000)).toEqual({ code: 0, signal: null });
  }, 90_000);

  it('is bounded: a request that never completes is cut at the deadline, and the process still exits 0', async () => {
    const env = await baseEnv({ SHUTDOWN_TIMEOUT_MS: '1500' });
    const p = await servers.start(env);
    const name = `stuck${process.pid % 100000}`;
    const reg = await api(p.url, 'POST', '/api/auth/register', {
      body: { username: name, email: `${name}@example.com`, password: 'correct-horse-9' },
    });
    expect(reg.status).toBe(201);
    const rooms = await api(p.url, 'GET', '/api/chatrooms', { token: reg.body.accessToken });
    const general = rooms.body.rooms.find((r: any) => r.name === 'general');
    const ws = reconnectingSocket(p.url, reg.body.accessToken, 'websocket');
    await ws.connected(1);

    const stuck = slowPost(p.url, `/api/chatrooms/${general.id}/messages`, reg.body.accessToken, {
      text: 'never finished',
      clientId: randomUUID(),
    });
    await stuck.started;

    const t0 = Date.now();
    p.proc.kill('SIGTERM');
    expect(await exitWithin(p, 6_000)).toEqual({ code: 0, signal: null });
    // 80% of SHUTDOWN_TIMEOUT_MS for draining, then the rest is cut.
    expect(Date.now() - t0).toBeLessThan(4_000);
    await outputEnded(p);
    expect(p.output()).toContain('closing connections still open at the deadline');
    await expect(stuck.response).rejects.toThrow();
    expect(ws.disconnects[0]?.active).toBe(true);
  }, 60_000);
});
