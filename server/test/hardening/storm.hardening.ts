import type { Session } from '@parley/protocol';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECONNECT_OPTIONS } from '../../../web/src/socket/options.js';
import {
  client,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../../src/test-support/server.js';
import { generalRoomId, postMessage } from '../helpers/realtime.js';
import { waitFor } from '../helpers/sockets.js';

/*
 * F5 (docs/SECURITY.md, Faults): every client is dropped at once (the server cuts every TCP connection, as a
 * restarting load balancer would). The clients reconnect on their own with the web client's backoff
 * (web/src/socket/options.ts: randomizationFactor spreads each delay ±50 %), so the reconnections are spread out
 * rather than one spike; all of them get back in, and the server keeps working.
 */

const CLIENTS = 200;
/** The histogram bin for "all in one instant". */
const BIN_MS = 50;

let server: TestServer;
let call: Call;
const sockets: Socket[] = [];

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
});

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await server?.close();
});

/** A guest session (no password hashing: 200 of them are quick to make). */
async function guest(): Promise<Session> {
  const res = await call<Session>('POST', '/api/auth/guest', { body: { username: uniqueName('g') } });
  if (res.status !== 201) throw new Error(`guest: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

describe('F5 reconnect storm', () => {
  it(
    'F5 200 clients dropped at once reconnect with jittered backoff, spread out, all of them; the server survives',
    { timeout: 120_000 },
    async () => {
      const sessions: Session[] = [];
      for (let i = 0; i < CLIENTS; i++) sessions.push(await guest());
      const received = new Map<Socket, Set<string>>();
      // When each client first tries again after the drop: its backoff delay, as the client chose it.
      const attempts: number[] = [];
      for (const s of sessions) {
        const socket = io(server.url, {
          auth: { token: s.accessToken },
          transports: ['websocket'],
          forceNew: true,
          reconnection: true,
          ...RECONNECT_OPTIONS,
        });
        const texts = new Set<string>();
        socket.on('message:new', (m: { text: string }) => texts.add(m.text));
        received.set(socket, texts);
        socket.io.on('reconnect_attempt', (n) => {
          if (n === 1) attempts.push(Date.now());
        });
        sockets.push(socket);
      }
      const ioServer = server.parley.io;
      await waitFor(() => ioServer.sockets.sockets.size === CLIENTS, `${CLIENTS} sockets to connect`, 60_000);

      // When each socket comes back, as the server sees it.
      const back: number[] = [];
      ioServer.on('connection', () => back.push(Date.now()));
      const droppedAt = Date.now();
      for (const s of ioServer.sockets.sockets.values()) {
        const ws = (s.conn as unknown as { transport: { socket: { terminate(): void } } }).transport.socket;
        ws.terminate();
      }
      await waitFor(
        () => back.length >= CLIENTS && ioServer.sockets.sockets.size === CLIENTS,
        `all ${CLIENTS} clients to reconnect (${back.length} so far)`,
        30_000,
      );
      await waitFor(() => sockets.every((s) => s.connected), 'every client to see itself connected', 10_000);

      const tried = attempts.map((t) => t - droppedAt).sort((a, b) => a - b);
      const returned = back.map((t) => t - droppedAt).sort((a, b) => a - b);
      const bins = new Map<number, number>();
      for (const t of tried) bins.set(Math.floor(t / BIN_MS), (bins.get(Math.floor(t / BIN_MS)) ?? 0) + 1);
      const busiest = Math.max(...bins.values());
      const spread = tried.at(-1)! - tried[0]!;
      const median = (xs: number[]) => xs[Math.floor(xs.length / 2)];
      console.warn(
        `F5 figures: ${CLIENTS} clients dropped at once; first retries ${tried[0]}–${tried.at(-1)} ms after ` +
          `(spread ${spread} ms, busiest ${BIN_MS} ms window ${busiest} = ${Math.round((100 * busiest) / CLIENTS)} %); ` +
          `back in ${returned[0]}–${returned.at(-1)} ms (median ${median(returned)} ms), ${back.length} of ${CLIENTS}`,
      );
      expect(tried.length).toBe(CLIENTS);
      expect(back.length).toBe(CLIENTS);
      // Jittered: the first retry waits 500 ms ± 50 %, so the retries spread over a few hundred ms, not one spike
      // (without the jitter all 200 would fall in one window).
      expect(spread).toBeGreaterThanOrEqual(200);
      expect(busiest).toBeLessThan(CLIENTS * 0.4);
      // Nobody retried before the backoff's shortest delay.
      expect(tried[0]).toBeGreaterThanOrEqual(RECONNECT_OPTIONS.reconnectionDelay * 0.5 - 10);

      // The server survived: it answers, and a message reaches every reconnected client.
      const health = await call('GET', '/api/health');
      expect(health.status).toBe(200);
      const general = await generalRoomId(call, sessions[0]!);
      const text = `after the storm ${uniqueName('m')}`;
      await postMessage(call, sessions[0]!, general, text);
      await waitFor(
        () => [...received.values()].every((t) => t.has(text)),
        'every client to get the message sent after the storm',
        15_000,
      );
    },
  );
});
