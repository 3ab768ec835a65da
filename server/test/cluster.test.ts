import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { io as ioClient, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/sockets.js';
import { workerCount } from '../src/cluster.js';
import { ConfigError } from '../src/config.js';
import {
  ChildServers,
  spawnParley,
  type ParleyProcess,
  outputEnded,
  exitWithin,
} from '../src/test-support/process.js';
import { PG_URL } from '../src/test-support/server.js';

/*
 * One host, all cores (server/src/cluster.ts): WORKERS Parley processes sharing one port through Node's cluster
 * round-robin, WebSocket transport only, and an adapter joining the workers' Socket.IO servers. The real entry
 * point runs with WORKERS=2; WebSocket clients spread over both workers must all hear each other, and a
 * long-polling handshake is refused (its requests could reach either worker).
 *
 * Telling the workers apart: without REDIS_URL, who is online is kept per worker, so `presence:list` answers the
 * users connected to the caller's worker. That groups the sockets by worker. (With TEST_REDIS_URL the suite runs
 * again with REDIS_URL, where presence is shared instead: every socket must then see every user.)
 */

const DIALECT = PG_URL ? 'postgres' : 'sqlite';
const REDIS = process.env.TEST_REDIS_URL;

const servers = new ChildServers();
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.disconnect();
  await servers.cleanup();
});

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
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

interface Peer {
  name: string;
  userId: string;
  transport: 'websocket' | 'polling';
  socket: Socket;
  /** Resolves with the first `message:new` whose text is `text`. */
  message(text: string, ms?: number): Promise<any>;
  disconnects: { reason: string; active: boolean }[];
}

/** A signed-in guest with a connected socket on `transport` (no upgrade from polling). */
async function peer(url: string, transport: 'websocket' | 'polling'): Promise<Peer> {
  const name = `c${randomBytes(4).toString('hex')}`;
  const session = await api(url, 'POST', '/api/auth/guest', { body: { username: name } });
  expect(session.status, JSON.stringify(session.body)).toBe(201);
  const socket = ioClient(url, {
    auth: { token: session.body.accessToken },
    transports: [transport],
    upgrade: false,
    forceNew: true,
    reconnection: false,
  });
  sockets.push(socket);
  const messages: any[] = [];
  const waiters = new Set<() => void>();
  socket.on('message:new', (m: any) => {
    messages.push(m);
    for (const w of [...waiters]) w();
  });
  const disconnects: Peer['disconnects'] = [];
  socket.on('disconnect', (reason) => disconnects.push({ reason, active: socket.active }));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${transport} socket did not connect`)), 10_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  return {
    name,
    userId: session.body.user.id,
    transport,
    socket,
    disconnects,
    message: (text, ms = 10_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.find((x) => x.text === text);
          if (!m) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `${name} (${transport}) never got "${text}"; got ${JSON.stringify(messages.map((x) => x.text))}`,
            ),
          );
        }, ms);
        waiters.add(check);
        check();
      }),
  };
}

/** `presence:list` as `p` sees it: the ids of the users online. Also waits for the socket's set-up to finish. */
async function online(p: Peer): Promise<string[]> {
  const res: any = await p.socket.timeout(10_000).emitWithAck('presence:list', {});
  expect(res.ok, JSON.stringify(res)).toBe(true);
  return res.data.users.map((u: any) => u.id).sort();
}

function sample(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function startCluster(extra: Record<string, string> = {}): Promise<ParleyProcess> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-cluster-'));
  servers.onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  return servers.start(
    {
      WORKERS: '2',
      DATA_DIR: dataDir,
      PASSWORD_HASH_MEMORY_KIB: '8192',
      ...(await servers.database()),
      ...extra,
    },
    60_000,
  );
}

/** The shared part: both transports work, and every message reaches every socket, whichever worker holds it. */
async function everyoneHearsEveryone(url: string, peers: Peer[]): Promise<void> {
  for (const from of peers) {
    const text = `from ${from.name} over ${from.transport} ${randomUUID().slice(0, 6)}`;
    const general = await generalRoomId(url, from);
    const ack: any = await from.socket
      .timeout(10_000)
      .emitWithAck('message:send', { roomId: general, text, clientId: randomUUID() });
    expect(ack.ok, JSON.stringify(ack)).toBe(true);
    const got = await Promise.all(peers.map((p) => p.message(text)));
    for (const m of got) expect(m.id).toBe(ack.data.message.id);
  }
}

const generalIds = new Map<string, string>();
async function generalRoomId(url: string, p: Peer): Promise<string> {
  const known = generalIds.get(url);
  if (known) return known;
  const token = (p.socket.auth as { token: string }).token;
  const rooms = await api(url, 'GET', '/api/chatrooms', { token });
  const id: string = rooms.body.rooms.find((r: any) => r.name === 'general').id;
  generalIds.set(url, id);
  return id;
}

describe(`cluster: WORKERS=2 on one port (${DIALECT}, ${REDIS ? 'with and without' : 'without'} Redis)`, () => {
  it('spreads clients over both workers; they all hear each other; REST too; polling is refused; /metrics sums the workers; SIGTERM stops all with 0', async () => {
    const p = await startCluster();
    expect(p.output()).toContain('REDIS_URL is not set');
    expect(p.output()).toMatch(/"workers":2/);

    // Round-robin places consecutive connections on alternate workers.
    const peers: Peer[] = [];
    for (let i = 0; i < 4; i++) peers.push(await peer(p.url, 'websocket'));
    // A long-polling handshake is refused by whichever worker gets it: no session can outlive its first request.
    for (let i = 0; i < 2; i++) {
      const polling = await fetch(`${p.url}/socket.io/?EIO=4&transport=polling`);
      expect(polling.status).toBe(400);
      expect(await polling.json()).toEqual({ code: 0, message: 'Transport unknown' });
    }

    // Group the sockets by worker (presence is per worker without Redis). A worker counts a socket in presence
    // just after its handshake, so ask until the views settle into a partition of the four users.
    let views: string[][] = [];
    await waitFor(async () => {
      views = await Promise.all(peers.map(online));
      const distinct = new Set(views.map((v) => v.join(',')));
      const covered = [...distinct].flatMap((v) => v.split(','));
      return covered.length === peers.length && new Set(covered).size === peers.length;
    }, 'each worker to count exactly its own sockets');
    const groups = new Map<string, Peer[]>();
    peers.forEach((peer, i) => {
      const key = views[i]!.join(',');
      groups.set(key, [...(groups.get(key) ?? []), peer]);
    });
    expect(groups.size, `sockets by worker: ${[...groups.keys()].join(' | ')}`).toBe(2);
    for (const [key, members] of groups) {
      // Each worker's view is exactly the users connected to it.
      expect(key).toBe(
        members
          .map((m) => m.userId)
          .sort()
          .join(','),
      );
    }

    await everyoneHearsEveryone(p.url, peers);

    // A REST send (a request with a body, to whichever worker) reaches every socket too.
    const token = (peers[0]!.socket.auth as { token: string }).token;
    const general = await generalRoomId(p.url, peers[0]!);
    const text = `over REST ${randomUUID().slice(0, 6)}`;
    const sent = await api(p.url, 'POST', `/api/chatrooms/${general}/messages`, {
      token,
      body: { text, clientId: randomUUID() },
    });
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    for (const m of await Promise.all(peers.map((x) => x.message(text)))) expect(m.id).toBe(sent.body.id);

    for (const x of peers) {
      expect(x.socket.connected).toBe(true);
      expect(x.socket.io.engine.transport.name).toBe(x.transport);
    }

    // One scrape covers the host: the sum over both workers, whichever one answers.
    for (let i = 0; i < 3; i++) {
      const metrics = await fetch(`${p.url}/metrics`);
      expect(metrics.status).toBe(200);
      const body = await metrics.text();
      expect(sample(body, 'parley_connected_sockets')).toBe(4);
      expect(sample(body, 'parley_messages_stored_total', '{kind="text"}')).toBe(5);
    }

    // Presence by subscription reaches the subscribers on both workers (the cluster adapter's serverSideEmit),
    // whichever worker the watched user's socket lands on.
    const watched = await api(p.url, 'POST', '/api/auth/guest', {
      body: { username: `w${randomBytes(4).toString('hex')}` },
    });
    expect(watched.status).toBe(201);
    const watchedId: string = watched.body.user.id;
    const heard = peers.map(
      (x) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${x.name} never heard the watched user`)), 10_000);
          x.socket.on('presence:changed', (c: any) => {
            if (!c.online.some((u: any) => u.id === watchedId)) return;
            clearTimeout(timer);
            resolve();
          });
        }),
    );
    for (const x of peers) {
      const ack: any = await x.socket
        .timeout(10_000)
        .emitWithAck('presence:subscribe', { userIds: [watchedId] });
      expect(ack).toEqual({ ok: true, data: { online: [] } });
    }
    const watchedSocket = ioClient(p.url, {
      auth: { token: watched.body.accessToken },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
    });
    sockets.push(watchedSocket);
    await Promise.all(heard);

    p.proc.kill('SIGTERM');
    expect(await exitWithin(p, 15_000)).toEqual({ code: 0, signal: null });
    // Every socket was sent away with a disconnect its client would reconnect after.
    for (const x of peers) {
      expect(x.disconnects.length, `${x.name} (${x.transport}) saw no disconnect`).toBe(1);
      expect(['transport close', 'transport error']).toContain(x.disconnects[0]!.reason);
    }
    await outputEnded(p);
    expect(p.output().match(/"msg":"worker stopped"/g)?.length).toBe(2);
  }, 120_000);

  it('hands every connection over whole: WebSocket clients right after request bodies, clients that hang up early', async () => {
    const p = await startCluster();
    // Each round: a request with a body, then a WebSocket whose first frame follows the handshake at once. (A
    // primary that keeps reading a connection it is handing over, as @socket.io/sticky's setupMaster does, loses
    // that frame now and then.)
    for (let i = 0; i < 25; i++) {
      const x = await peer(p.url, 'websocket');
      await online(x);
      x.socket.disconnect();
    }
    // Clients that hang up after part of a request, or right after sending one, harm nobody.
    const { port } = new URL(p.url);
    for (let i = 0; i < 15; i++) {
      await new Promise<void>((resolve) => {
        const c = net.connect(Number(port), '127.0.0.1', () => {
          c.write(
            [
              'GET /api/hea',
              'POST /api/auth/guest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"user',
              'POST /api/auth/guest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
            ][i % 3]!,
          );
          c.destroy();
          resolve();
        });
        c.on('error', () => resolve());
      });
    }
    const health = await api(p.url, 'GET', '/api/health');
    expect(health.status).toBe(200);
    const last = await peer(p.url, 'websocket');
    await online(last);
    p.proc.kill('SIGTERM');
    expect(await exitWithin(p, 15_000)).toEqual({ code: 0, signal: null });
  }, 120_000);

  it("replaces a worker that dies; the other worker's clients carry on", async () => {
    const p = await startCluster();
    // The primary names its workers in its "listening" line.
    const listening = p
      .output()
      .split('\n')
      .find((l) => l.includes('Parley listening'))!;
    const pids: number[] = JSON.parse(listening).pids;
    expect(pids).toHaveLength(2);
    const a = await peer(p.url, 'websocket');
    const b = await peer(p.url, 'websocket');
    const views = await Promise.all([online(a), online(b)]);
    expect(views[0], 'the two sockets should be on different workers').not.toEqual(views[1]);

    // A crash, not a shutdown: SIGKILL one worker (a process this test started, through the primary).
    process.kill(pids[0]!, 'SIGKILL');
    const gone = await new Promise<Peer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no socket saw its worker die')), 10_000);
      for (const x of [a, b])
        x.socket.once('disconnect', () => {
          clearTimeout(timer);
          resolve(x);
        });
    });
    const survivor = gone === a ? b : a;
    expect(gone.disconnects[0]!.reason).toBe('transport close');
    expect(survivor.socket.connected).toBe(true);

    // A replacement starts; new clients are served, and they and the survivor hear each other.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no replacement worker:\n${p.output()}`)), 30_000);
      const check = () => {
        if (!p.output().includes('"msg":"replacement worker ready"')) return;
        clearTimeout(timer);
        p.proc.stdout!.off('data', check);
        resolve();
      };
      p.proc.stdout!.on('data', check);
      check();
    });
    expect(p.output()).toContain('worker died; starting another');
    const fresh = await peer(p.url, 'websocket');
    await online(fresh);
    await everyoneHearsEveryone(p.url, [survivor, fresh]);

    p.proc.kill('SIGTERM');
    expect(await exitWithin(p, 15_000)).toEqual({ code: 0, signal: null });
  }, 120_000);

  it.runIf(REDIS)(
    'with REDIS_URL: workers share presence and broadcasts through Redis',
    async () => {
      const p = await startCluster({
        REDIS_URL: REDIS!,
        // Nodes sharing Redis must share the secret too.
        JWT_SECRET: randomBytes(32).toString('base64'),
        REDIS_KEY_PREFIX: `parley-cluster-${randomBytes(4).toString('hex')}`,
      });
      expect(p.output()).not.toContain('REDIS_URL is not set');
      const peers: Peer[] = [];
      for (let i = 0; i < 4; i++) peers.push(await peer(p.url, 'websocket'));
      const everyone = peers.map((x) => x.userId).sort();
      for (const x of peers) {
        // Shared presence: each socket sees every user, whichever worker it is on.
        const seen = await online(x);
        for (const id of everyone) expect(seen).toContain(id);
      }
      await everyoneHearsEveryone(p.url, peers);
      p.proc.kill('SIGTERM');
      expect(await exitWithin(p, 15_000)).toEqual({ code: 0, signal: null });
    },
    120_000,
  );

  it('WORKERS: a number or auto; --cluster means auto', () => {
    expect(workerCount({}, [])).toBe(1);
    expect(workerCount({ WORKERS: '3' }, [])).toBe(3);
    expect(workerCount({}, ['node', 'index.js', '--cluster'])).toBe(Math.max(1, os.availableParallelism()));
    expect(workerCount({ WORKERS: '2' }, ['--cluster'])).toBe(2);
    expect(workerCount({ WORKERS: 'auto' }, [])).toBe(Math.max(1, os.availableParallelism()));
    for (const bad of ['0', '-1', '1.5', 'many', '257'])
      expect(() => workerCount({ WORKERS: bad }, [])).toThrow(ConfigError);
  });

  it('refuses a bad WORKERS value at start, naming the variable', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-cluster-'));
    const child = spawnParley({ DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', WORKERS: 'lots' });
    try {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      expect(code).toBe(1);
      expect(out).toContain('WORKERS');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
