import { clientEventSchemas, LIMITS, type Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../../src/test-support/server.js';
import { closeRawSockets, emitNoAck, emitRaw } from '../helpers/realtime.js';
import { closeAllSockets, connectSocket, emitAck, nextEvent, type ClientSocket } from '../helpers/sockets.js';
import { badPayloads, expectNoPollution, rowCounts } from './input.payloads.js';

/*
 * I2 (docs/SECURITY.md, Input): every client event (packages/protocol/src/events.ts `clientEventSchemas`) fed the
 * hostile payloads generated from its schema, under the packet limit (the packet limit itself is S2). Each must
 * be answered by an error ack in the contract's shape, or an `error` event without a callback; the socket stays
 * connected, nothing is stored, Object.prototype stays clean.
 */

let server: TestServer;
let call: Call;
let user: Session;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  user = await register(call, uniqueName('in'));
});

afterAll(async () => {
  closeAllSockets();
  closeRawSockets();
  await server?.close();
});

/**
 * Emits `event` with a payload given as JSON text, written straight to the engine as a Socket.IO EVENT packet
 * with an ack id: socket.io-client's own encoder walks payloads recursively and would overflow its stack on
 * 10,000 levels before sending anything, and an attacker's client need not use it. Resolves with the ack.
 */
function emitJson(socket: ClientSocket, event: string, rawPayload: string, timeoutMs = 5000): Promise<any> {
  const internals = socket as unknown as { ids: number; acks: Record<number, (res: unknown) => void> };
  const id = internals.ids++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event} in ${timeoutMs} ms`)), timeoutMs);
    internals.acks[id] = (res) => {
      clearTimeout(timer);
      resolve(res);
    };
    const engine = socket.io.engine as unknown as { write(packet: string): void };
    engine.write(`2${id}${JSON.stringify([event]).slice(0, -1)},${rawPayload}]`);
  });
}

const EVENTS = Object.keys(clientEventSchemas) as (keyof typeof clientEventSchemas)[];

/** An error ack in the contract's shape, or what is wrong with it. */
function problem(res: any): string | null {
  if (res?.ok !== false) return `not refused: ${JSON.stringify(res).slice(0, 120)}`;
  const e = res.error;
  if (typeof e?.code !== 'string' || typeof e.message !== 'string') return 'not in the error shape';
  if (e.code !== 'VALIDATION_ERROR') return `answered ${e.code}`;
  return null;
}

describe('I2 hostile payloads on every socket event', () => {
  it(
    'I2a every event answers VALIDATION_ERROR to oversize, empty, wrong-typed, deep and __proto__ payloads',
    { timeout: 60_000 },
    async () => {
      const before = await rowCounts(server);
      const failures: string[] = [];
      let cases = 0;
      for (const event of EVENTS) {
        // One socket per event: the per-socket event budget (60 at once) is not what this case tests.
        const socket = await connectSocket(server, user);
        for (const bad of badPayloads(clientEventSchemas[event], LIMITS.socketPacketMaxBytes - 4096)) {
          // Over the packet limit the socket is closed instead (case S2): keep under it.
          if (bad.status === 413) continue;
          cases++;
          const res = await emitJson(socket, event, bad.raw);
          const p = problem(res);
          if (p) failures.push(`${event} [${bad.name}]: ${p}`);
        }
        // No payload and extra arguments are refused too (presence:list takes none, so it is fine without).
        if (event !== 'presence:list') {
          cases++;
          const p = problem(await emitRaw(socket, event, []));
          if (p) failures.push(`${event} [no payload]: ${p}`);
        }
        if (!socket.connected) failures.push(`${event}: the socket was disconnected`);
        socket.disconnect();
      }
      expect(failures).toEqual([]);
      expect(cases).toBeGreaterThan(150);
      expect(await rowCounts(server)).toEqual(before);
      expect(expectNoPollution()).toEqual([]);
      console.warn(`I2a figures: ${cases} hostile event payloads, all VALIDATION_ERROR, 0 rows stored`);
    },
  );

  it('I2b without a callback the refusal is an `error` event; the socket and the server carry on', async () => {
    const socket = await connectSocket(server, user);
    for (const event of EVENTS.filter((e) => e !== 'presence:list')) {
      emitNoAck(socket, event, JSON.parse('{"__proto__":{"polluted":"yes"}}'));
      expect(await nextEvent(socket, 'error')).toMatchObject({ error: { code: 'VALIDATION_ERROR' } });
    }
    expect(socket.connected).toBe(true);
    const ack = await emitAck(socket, 'presence:list', {});
    expect(ack.ok).toBe(true);
    expect(expectNoPollution()).toEqual([]);
    expect((await call('GET', '/api/health')).status).toBe(200);
  });
});
