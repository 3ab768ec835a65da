import type { Ack, Session } from '@parley/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { eventBudgetStats, socketStats } from '../../src/realtime/connection.js';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type TestServer,
} from '../../src/test-support/server.js';
import {
  closeRawSockets,
  disconnected,
  emitNoAck,
  fullHistory,
  generalRoomId,
  newClientId,
  rawSocket,
} from '../helpers/realtime.js';
import { closeAllSockets, type ClientSocket } from '../helpers/sockets.js';

/*
 * S8 (docs/SECURITY.md, Socket abuse): the per-socket event budget (SOCKET_EVENT_RATE_PER_SEC, SOCKET_EVENT_BURST)
 * never refuses what the message limits allow, answers a burst over it with RATE_LIMITED acks carrying
 * `retryAfter`, and disconnects only a socket that keeps flooding.
 */

const QUEUED = 200;
const servers: TestServer[] = [];

afterAll(async () => {
  closeAllSockets();
  closeRawSockets();
  for (const s of servers) await s.close();
});

type SendAck = Ack<{ message: { id: string } }>;

/**
 * A client that was offline with QUEUED sends waiting: every send is emitted before the socket connects (Socket.IO
 * queues them), so they all reach the server in one flush the moment the handshake completes.
 */
async function flushQueue(server: TestServer, who: Session, roomId: string, tag: string) {
  const socket = rawSocket(server, { auth: { token: who.accessToken }, autoConnect: false }) as ClientSocket;
  // Each emit gets its own timeout (the flag applies to the next emit only).
  const acks = Array.from(
    { length: QUEUED },
    (_, i) =>
      socket.timeout(30_000).emitWithAck('message:send', {
        roomId,
        text: `${tag} ${i}`,
        clientId: newClientId(),
      }) as Promise<SendAck>,
  );
  let disconnects = 0;
  socket.on('disconnect', () => disconnects++);
  socket.connect();
  const results = await Promise.all(acks);
  return { socket, results, disconnects: () => disconnects };
}

async function setUp(overrides: Parameters<typeof startTestServer>[0]) {
  const server = await startTestServer(overrides);
  servers.push(server);
  const call = client(server.url);
  const who = await register(call, uniqueName('queue'));
  const roomId = await generalRoomId(call, who);
  return { server, call, who, roomId };
}

describe('S8 per-socket event budget', () => {
  it(
    'S8a 200 queued sends flushed at once under MESSAGE_BURST=1000: every one stored, the socket kept',
    { timeout: 60_000 },
    async () => {
      // The event budget is left at its defaults (burst 60, 30/s): the message limits lift it.
      const { server, call, who, roomId } = await setUp({ messageBurst: 1000, messageRatePerSec: 100 });
      const refusedBefore = eventBudgetStats.refused;
      const { socket, results, disconnects } = await flushQueue(server, who, roomId, 'queued');
      expect(results.filter((r) => !r.ok)).toEqual([]);
      expect(eventBudgetStats.refused).toBe(refusedBefore);
      expect(socket.connected).toBe(true);
      expect(disconnects()).toBe(0);
      const stored = (await fullHistory(call, who, roomId)).filter((m) => m.text.startsWith('queued '));
      expect(stored).toHaveLength(QUEUED);
      socket.disconnect();
    },
  );

  it(
    'S8b a burst over the budget is answered RATE_LIMITED with retryAfter, not disconnected; a flood still is',
    { timeout: 60_000 },
    async () => {
      // Budget 60 at once (message limits 20 at once, 5/s): 200 at once is more than three times it.
      const { server, call, who, roomId } = await setUp({
        messageBurst: 20,
        messageRatePerSec: 5,
        socketEventBurst: 60,
        socketEventRatePerSec: 30,
      });
      const refusedBefore = eventBudgetStats.refused;
      const floodsBefore = socketStats.floodDisconnects;
      const { socket, results, disconnects } = await flushQueue(server, who, roomId, 'burst');
      const ok = results.filter((r) => r.ok);
      const refused = results.filter((r) => !r.ok);
      for (const r of refused) {
        expect(r).toEqual({
          ok: false,
          error: { code: 'RATE_LIMITED', message: expect.any(String), retryAfter: expect.any(Number) },
        });
        expect((r as { error: { retryAfter: number } }).error.retryAfter).toBeGreaterThanOrEqual(1);
      }
      // The budget admitted ~60 (of which the message limit stored ~20); the rest were refused by the budget.
      expect(ok.length).toBeGreaterThanOrEqual(20);
      expect(ok.length).toBeLessThan(40);
      expect(eventBudgetStats.refused - refusedBefore).toBeGreaterThanOrEqual(QUEUED - 70);
      expect(socket.connected).toBe(true);
      expect(disconnects()).toBe(0);
      expect(socketStats.floodDisconnects).toBe(floodsBefore);
      // Exactly what was acknowledged was stored.
      const stored = (await fullHistory(call, who, roomId)).filter((m) => m.text.startsWith('burst '));
      expect(stored.map((m) => m.id).sort()).toEqual(
        ok.map((r) => (r as { data: { message: { id: string } } }).data.message.id).sort(),
      );

      // A client that ignores the answers and keeps going is cut off: 1,000 more at once.
      const gone = disconnected(socket, 15_000);
      for (let i = 0; i < 1000; i++)
        emitNoAck(socket, 'message:send', { roomId, text: `flood ${i}`, clientId: newClientId() });
      expect(await gone).toBe('io server disconnect');
      expect(socketStats.floodDisconnects).toBe(floodsBefore + 1);
    },
  );
});
