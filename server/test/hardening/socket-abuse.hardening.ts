import type { Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketLimitStats } from '../../src/realtime/connection.js';
import { bufferedBytes } from '../../src/realtime/socket-limits.js';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../../src/test-support/server.js';
import {
  closeRawSockets,
  connectReady,
  connectWith,
  disconnected,
  emitNoAck,
  emitRaw,
  expectHandshakeRefused,
  expectOk,
  expectValidation,
  fullHistory,
  generalRoomId,
  newClientId,
  postMessage,
  serverDropped,
} from '../helpers/realtime.js';
import {
  closeAllSockets,
  connectSocket,
  emitAck,
  nextEvent,
  received,
  waitFor,
  type ClientSocket,
} from '../helpers/sockets.js';

/*
 * Socket abuse (docs/SECURITY.md, section "Socket abuse"): a handshake from a foreign Origin (S1), an oversize
 * packet (S2), too many sockets per user and per address (S4), a client that never reads (S5). The message flood
 * with its latency measurement (S3) has a file of its own (socket-abuse-flood.hardening.ts).
 */

afterAll(() => {
  closeAllSockets();
  closeRawSockets();
});

/** The connect_error of a handshake refused for too many sockets: RATE_LIMITED, the contract's body as data. */
function expectTooMany(err: Error & { data?: any }, what: RegExp): void {
  expect(err.message).toBe('RATE_LIMITED');
  expect(err.data).toEqual({
    error: { code: 'RATE_LIMITED', message: expect.stringMatching(what), retryAfter: expect.any(Number) },
  });
}

describe('S1 foreign Origin, S2 oversize packet', () => {
  let server: TestServer;
  let call: Call;
  let carol: Session, alice: Session;
  let carolSocket: ClientSocket;
  let generalId: string;

  beforeAll(async () => {
    server = await startTestServer();
    call = client(server.url);
    carol = await register(call, uniqueName('carol'));
    alice = await register(call, uniqueName('alice'));
    generalId = await generalRoomId(call, alice);
    carolSocket = await connectReady(server, carol);
  });
  afterAll(() => server?.close());

  it('S1a refuses a foreign Origin over websocket and over polling, and accepts the server’s own origin', async () => {
    const token = carol.accessToken;
    for (const transports of [['websocket'], ['polling']]) {
      const err = await expectHandshakeRefused(server, {
        auth: { token },
        transports,
        extraHeaders: { origin: 'http://evil.example' },
      });
      expect(err, transports[0]).toBeInstanceOf(Error);
    }
    const own = await connectWith(server, {
      auth: { token },
      extraHeaders: { origin: server.url },
    });
    expect(own.connected).toBe(true);
    own.disconnect();
  });

  it('S1b accepts an origin listed in corsOrigins, and still refuses others', async () => {
    const other = await startTestServer({ corsOrigins: ['http://app.example'] });
    try {
      const s = await register(client(other.url), uniqueName('cors'));
      for (const transports of [['websocket'], ['polling']]) {
        const ok = await connectWith(other, {
          auth: { token: s.accessToken },
          transports,
          extraHeaders: { origin: 'http://app.example' },
        });
        expect(ok.connected, transports[0]).toBe(true);
        const res = await emitAck(ok as ClientSocket, 'presence:list', {});
        expect(expectOk('presence:list', res).users.map((u) => u.id)).toContain(s.user.id);
        ok.disconnect();
        await expectHandshakeRefused(other, {
          auth: { token: s.accessToken },
          transports,
          extraHeaders: { origin: 'http://evil.example' },
        });
      }
    } finally {
      await other.close();
    }
  });

  it('S2 a packet over 64 KiB closes only that socket; a large valid one is answered normally', async () => {
    const big = await connectReady(server, carol);
    // Under the packet limit but over the text limit: an ordinary validation error.
    const long = await emitRaw(big, 'message:send', [
      { roomId: generalId, text: 'y'.repeat(40_000), clientId: newClientId() },
    ]);
    expectValidation(long, 'text');
    const gone = disconnected(big);
    const text = 'z'.repeat(70 * 1024);
    emitNoAck(big, 'message:send', { roomId: generalId, text, clientId: newClientId() });
    expect(await gone).toBe('transport close');
    // carol's other socket and everyone else carry on.
    const m = await postMessage(call, alice, generalId, `marker ${uniqueName('m')}`);
    await nextEvent(carolSocket, 'message:new', (p) => p.id === m.id);
    expect(carolSocket.connected).toBe(true);
    expect((await fullHistory(call, alice, generalId)).some((x) => x.text.startsWith('zzz'))).toBe(false);
  });
});

describe('S4 sockets per user and per address', () => {
  const PER_USER = 3;
  const PER_ADDRESS = 5;
  let server: TestServer;
  let call: Call;

  beforeAll(async () => {
    server = await startTestServer({ maxSocketsPerUser: PER_USER, maxSocketsPerAddress: PER_ADDRESS });
    call = client(server.url);
  });
  afterAll(() => server?.close());

  const auth = (s: Session) => ({ auth: { token: s.accessToken } });

  it('S4a a user’s socket beyond MAX_SOCKETS_PER_USER is refused; closing one frees its slot', async () => {
    const ana = await register(call, uniqueName('ana'));
    const before = socketLimitStats.refusedPerUser;
    const open: ClientSocket[] = [];
    for (let i = 0; i < PER_USER; i++) open.push(await connectWith(server, auth(ana)));
    expectTooMany(await expectHandshakeRefused(server, auth(ana)), /user.*at most 3/);
    expect(socketLimitStats.refusedPerUser).toBe(before + 1);
    // The refusal cost the open sockets nothing.
    expectOk('presence:list', await emitAck(open[0]!, 'presence:list', {}));
    const gone = open.pop()!;
    const id = gone.id!;
    gone.disconnect();
    await serverDropped(server, id);
    const again = await connectWith(server, auth(ana));
    expect(again.connected).toBe(true);
    for (const s of [...open, again]) s.disconnect();
    await waitFor(() => server.parley.io.sockets.sockets.size === 0, 'every socket to be dropped');
  });

  it('S4b sockets beyond MAX_SOCKETS_PER_ADDRESS are refused whoever signs in; only a trusted proxy may say otherwise', async () => {
    const users = await Promise.all(
      Array.from({ length: PER_ADDRESS + 1 }, () => register(call, uniqueName('addr'))),
    );
    const before = socketLimitStats.refusedPerAddress;
    const open: ClientSocket[] = [];
    for (const u of users.slice(0, PER_ADDRESS)) open.push(await connectWith(server, auth(u)));
    const last = users[PER_ADDRESS]!;
    expectTooMany(await expectHandshakeRefused(server, auth(last)), /address.*at most 5/);
    // Without TRUST_PROXY a forged X-Forwarded-For changes nothing.
    const forged = { ...auth(last), extraHeaders: { 'x-forwarded-for': '203.0.113.9' } };
    expectTooMany(await expectHandshakeRefused(server, forged), /address/);
    expect(socketLimitStats.refusedPerAddress).toBe(before + 2);
    for (const s of open) s.disconnect();

    // Behind a trusted proxy (TRUST_PROXY=loopback) the forwarded address is the one counted.
    const proxied = await startTestServer({ maxSocketsPerAddress: 1, trustProxy: 'loopback' });
    try {
      const pcall = client(proxied.url);
      const [a, b] = [await register(pcall, uniqueName('px')), await register(pcall, uniqueName('px'))];
      const from = (ip: string, s: Session) => ({ ...auth(s), extraHeaders: { 'x-forwarded-for': ip } });
      const first = await connectWith(proxied, from('203.0.113.1', a));
      const second = await connectWith(proxied, from('203.0.113.2', b));
      expectTooMany(await expectHandshakeRefused(proxied, from('203.0.113.1', b)), /address/);
      first.disconnect();
      second.disconnect();
    } finally {
      await proxied.close();
    }
  });
});

describe('S5 a client that never reads', () => {
  const LIMIT = 512 * 1024;
  let server: TestServer;
  let call: Call;
  let sender: Session, reader: Session, sloth: Session;
  let roomId: string;

  beforeAll(async () => {
    server = await startTestServer({ socketMaxBufferedBytes: LIMIT });
    call = client(server.url);
    [sender, reader, sloth] = [
      await register(call, uniqueName('snd')),
      await register(call, uniqueName('rdr')),
      await register(call, uniqueName('slo')),
    ];
    roomId = await generalRoomId(call, sender);
  });
  afterAll(() => server?.close());

  it(
    'S5 the server queues at most SOCKET_MAX_BUFFERED_BYTES for it, then cuts it off; readers get everything',
    { timeout: 120_000 },
    async () => {
      const normal = await connectSocket(server, reader);
      const slow = await connectSocket(server, sloth);
      const serverSide = server.parley.io.sockets.sockets.get(slow.id!)!;
      const before = socketLimitStats.slowDisconnects;
      // Stop reading: the TCP socket under the websocket is paused, so the kernel buffers fill, then the server's.
      const engine = slow.io.engine as unknown as { transport: { ws: { _socket: { pause(): void } } } };
      engine.transport.ws._socket.pause();

      // Sample what the server holds for the paused socket, in-process, for as long as it exists.
      let maxQueued = 0;
      const sampler = setInterval(() => {
        if (serverSide.connected) maxQueued = Math.max(maxQueued, bufferedBytes(serverSide));
      }, 20);
      const rssBefore = process.memoryUsage().rss;

      // A heavy stream: ~4 KB messages until the server gives up on the paused socket (bounded: 4,000 messages).
      const text = 'x'.repeat(4000);
      const sentIds: string[] = [];
      const MAX_MESSAGES = 4000;
      const worker = async () => {
        while (serverSide.connected && sentIds.length < MAX_MESSAGES) {
          const res = await call('POST', `/api/chatrooms/${roomId}/messages`, {
            token: sender.accessToken,
            body: { text },
          });
          expect(res.status).toBe(201);
          sentIds.push(res.body.id);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      clearInterval(sampler);

      expect(serverSide.connected, `still connected after ${sentIds.length} messages`).toBe(false);
      expect(socketLimitStats.slowDisconnects).toBe(before + 1);
      // Checked every 250 ms: what the server held never went far past the limit (one interval of the stream).
      expect(maxQueued).toBeGreaterThan(0);
      expect(maxQueued).toBeLessThan(LIMIT + 2 * 1024 * 1024);
      const streamed = sentIds.length * text.length;
      expect(streamed).toBeGreaterThan(LIMIT);
      // The reader that keeps reading got every message, in order.
      await waitFor(
        () => received(normal, 'message:new', (m) => m.text === text).length === sentIds.length,
        'the reading client to get the whole stream',
        30_000,
      );
      const inOrder = [...sentIds].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
      expect(received(normal, 'message:new', (m) => m.text === text).map((m) => m.id)).toEqual(inOrder);
      const rssGrowth = process.memoryUsage().rss - rssBefore;
      console.warn(
        `S5 figures: streamed ${(streamed / 1e6).toFixed(1)} MB, max queued for the paused socket ${(
          maxQueued / 1024
        ).toFixed(0)} KiB (limit ${LIMIT / 1024} KiB), RSS growth ${(rssGrowth / 1e6).toFixed(1)} MB`,
      );
      normal.disconnect();
    },
  );
});
