import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Session } from '@parley/protocol';
import sharp from 'sharp';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildServers, type ParleyProcess } from '../../src/test-support/process.js';
import { client, register, uniqueName, type Call } from '../../src/test-support/server.js';
import { MAX_INPUT_PIXELS } from '../../src/modules/uploads/images.js';
import { START_ENV } from '../../src/thread-pool.js';
import { png, uploadFile } from '../helpers/images.js';

/*
 * T1 (issue 13): sharp, argon2 and the SQLite driver share libuv's thread pool. Six guests each upload the worst
 * image the server accepts (a PNG of MAX_INPUT_PIXELS, 500 px high: a few hundred KB that decode to 40 MP) while
 * 50 logins hash at once; another user's `messages:fetch` must stay fast (p99 < 200 ms) and the server's memory
 * must come back (RSS within 20 % of what it was, warmed up, before). The server is a child process started as
 * `npm start` starts it (UV_THREADPOOL_SIZE=8, production argon2 cost), so that its RSS is its own.
 */

const UPLOADS = 6;
const LOGINS = 50;
const HEIGHT = 500;
const P99_BOUND_MS = 200;
const RSS_SLACK = 0.2;

const servers = new ChildServers();
let server: ParleyProcess;
let call: Call;
let reader: Session;
let readerSocket: Socket;
let generalId: string;
let worst: Buffer;
const loginUsers: string[] = [];

/** The child's resident set, from /proc (Linux). */
const rssOf = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN) * 1024;
};
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * q) - 1]!;

/** One fetch every FETCH_EVERY_MS at most: a busy reader, well inside the per-socket event budget (30/s). */
const FETCH_EVERY_MS = 50;

async function fetchOnce(): Promise<number> {
  const t0 = performance.now();
  const ack = await readerSocket
    .timeout(30_000)
    .emitWithAck('messages:fetch', { roomId: generalId, limit: 50 });
  const ms = performance.now() - t0;
  expect(ack.ok, JSON.stringify(ack)).toBe(true);
  // Pacing (the load's shape, not a synchronisation): the next fetch starts FETCH_EVERY_MS after this one did.
  if (ms < FETCH_EVERY_MS) await new Promise((resolve) => setTimeout(resolve, FETCH_EVERY_MS - ms));
  return ms;
}

/** Fetches one after another until `done` settles; answers each fetch's latency. */
async function fetchWhile(done: Promise<unknown>): Promise<number[]> {
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  const out: number[] = [];
  while (!finished) out.push(await fetchOnce());
  return out;
}

beforeAll(async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-threadpool-'));
  servers.onCleanup(() => rmSync(dataDir, { recursive: true, force: true }));
  server = await servers.start({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    // As `npm start` and the Dockerfile run it: libuv's pool and glibc's allocator set before it starts.
    ...START_ENV,
    // Generous request limits: this case is about what the logins cost, not about refusing them.
    RATE_LIMIT_AUTH_PER_MIN: '100000',
    LOGIN_MAX_FAILURES: '100000',
    ...(await servers.database()),
  });
  call = client(server.url);
  reader = await register(call, uniqueName('reader'));
  for (let i = 0; i < LOGINS; i++) loginUsers.push((await register(call, uniqueName('login'))).user.username);
  const rooms = await call('GET', '/api/chatrooms', { token: reader.accessToken });
  generalId = rooms.body.rooms.find((r: { name: string }) => r.name === 'general').id;
  for (let i = 0; i < 20; i++) {
    await call('POST', `/api/chatrooms/${generalId}/messages`, {
      token: reader.accessToken,
      body: { text: `history ${i}` },
    });
  }
  readerSocket = io(server.url, {
    auth: { token: reader.accessToken },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  await new Promise<void>((resolve, reject) => {
    readerSocket.once('connect', () => resolve());
    readerSocket.once('connect_error', reject);
  });
  // The worst image accepted: the pixel cap in one long strip. Zeros, so it compresses to a few hundred KB.
  const width = Math.floor(MAX_INPUT_PIXELS / HEIGHT);
  worst = await sharp({ create: { width, height: HEIGHT, channels: 3, background: { r: 0, g: 0, b: 0 } } })
    .png({ compressionLevel: 9 })
    .toBuffer();
}, 180_000);

afterAll(async () => {
  readerSocket?.disconnect();
  await servers.cleanup();
});

describe('T1 thread pool and memory under image and login floods', () => {
  it(`T1 ${UPLOADS} worst-case uploads + ${LOGINS} logins at once: another user's messages:fetch p99 < ${P99_BOUND_MS} ms; RSS comes back within 20 %`, async () => {
    const guests: Session[] = [];
    for (let i = 0; i < UPLOADS; i++) {
      const res = await call<Session>('POST', '/api/auth/guest', { body: { username: uniqueName('guest') } });
      expect(res.status).toBe(201);
      guests.push(res.body);
    }
    // Warm-up, so that what is loaded once (sharp and libvips, the argon2 dummy) is in the baseline, not the bill.
    expect((await uploadFile(server.url, reader.accessToken, await png(64, 48))).status).toBe(201);
    await call('POST', '/api/auth/login', {
      body: { username: loginUsers[0], password: 'wrong-password-0' },
    });
    const quiet: number[] = [];
    for (let i = 0; i < 20; i++) quiet.push(await fetchOnce());
    const rssBefore = rssOf(server.proc.pid!);

    let peak = rssBefore;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssOf(server.proc.pid!));
      } catch {
        // the child is gone: the assertions below say so
      }
    }, 50);
    const t0 = performance.now();
    const flood = Promise.all([
      ...guests.map((g) => uploadFile(server.url, g.accessToken, worst, { filename: 'strip.png' })),
      ...loginUsers.map((username, i) =>
        call('POST', '/api/auth/login', { body: { username, password: `wrong-password-${i}` } }),
      ),
    ]);
    const during = await fetchWhile(flood);
    const results = await flood;
    const floodMs = Math.round(performance.now() - t0);
    clearInterval(sampler);

    const uploads = results.slice(0, UPLOADS);
    const logins = results.slice(UPLOADS);
    // The uploads are legitimate (under every cap): all accepted, however long they queue.
    expect(uploads.map((r) => r.status)).toEqual(Array(UPLOADS).fill(201));
    expect(logins.every((r) => r.status === 401)).toBe(true);

    // Memory comes back: polled (GC and the allocator return it over a few hundred ms), bounded at 15 s.
    let rssAfter = rssOf(server.proc.pid!);
    const deadline = Date.now() + 15_000;
    while (rssAfter > rssBefore * (1 + RSS_SLACK) && Date.now() < deadline) {
      await fetchOnce(); // something to do meanwhile, and a reason for the server to collect
      await new Promise((resolve) => setTimeout(resolve, 250));
      rssAfter = rssOf(server.proc.pid!);
    }
    const p99 = pct(during, 0.99);
    console.warn(
      `T1 figures: ${UPLOADS} uploads of ${worst.length >> 10} KiB (${Math.floor(MAX_INPUT_PIXELS / HEIGHT)}×${HEIGHT}) ` +
        `+ ${LOGINS} failed logins took ${floodMs} ms; messages:fetch during: ${during.length} fetches, ` +
        `p50 ${Math.round(pct(during, 0.5))} ms, p99 ${Math.round(p99)} ms, max ${Math.round(Math.max(...during))} ms ` +
        `(quiet p99 ${Math.round(pct(quiet, 0.99))} ms); RSS ${mb(rssBefore)} MB before, peak ${mb(peak)} MB, ` +
        `${mb(rssAfter)} MB after`,
    );
    expect(during.length).toBeGreaterThanOrEqual(10);
    expect(p99).toBeLessThan(P99_BOUND_MS);
    expect(rssAfter).toBeLessThanOrEqual(rssBefore * (1 + RSS_SLACK));
  }, 180_000);

  it('T1b the 100000×500 strip of the report (50 MP, 144 KiB) is refused 413 before it is decoded', async () => {
    const strip = await sharp({
      create: { width: 100_000, height: HEIGHT, channels: 3, background: { r: 0, g: 0, b: 0 } },
    })
      .png({ compressionLevel: 9 })
      .toBuffer();
    const t0 = performance.now();
    const res = await uploadFile(server.url, reader.accessToken, strip, { filename: 'strip.png' });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    // Refused from its header: far quicker than decoding 50 MP (several seconds on this machine).
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
