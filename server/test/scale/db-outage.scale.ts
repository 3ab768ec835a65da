import { randomUUID } from 'node:crypto';
import type { Message } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivatePostgres } from '../../src/test-support/postgres.js';
import { client, register, uniqueName, type Call } from '../../src/test-support/server.js';
import { createRoom, expectStatusOf, joinRoom } from '../helpers/realtime.js';
import { Cluster, Peer, waitFor } from './support.js';

/*
 * PostgreSQL stopped for 10 s under a deployment of two nodes (one a real child process, one in this process):
 * every send in the outage is refused with a clear error and nothing is acknowledged that is not stored; once the
 * database is back both nodes work again without a restart. The PostgreSQL server stopped here is the test's own.
 */

const OUTAGE_MS = 10_000;

let pg: PrivatePostgres;
let c: Cluster;
beforeAll(async () => {
  pg = await PrivatePostgres.create();
  c = await Cluster.create({ pgAdminUrl: pg.url });
}, 60_000);
afterAll(async () => {
  await c?.close();
  await pg?.destroy();
});

const health = (call: Call) => call('GET', '/api/health');

// `fast` is an operator's stop (connections told to go); `immediate` is a crash (connections just drop).
describe.each(['fast', 'immediate'] as const)('PostgreSQL stopped for 10 s (%s)', (mode) => {
  it('refuses sends with UNAVAILABLE (no false ack), then works again without a restart', async () => {
    const A = await c.child();
    const B = await c.inProcess();
    const callA = client(A.url);
    const callB = client(B.url);
    const alice = await register(callA, uniqueName('alice'));
    const bob = await register(callB, uniqueName('bob'));
    const room = await createRoom(callA, alice);
    await joinRoom(callB, bob, room.id);
    const aliceOnA = await Peer.connect(A.url, alice);
    const bobOnB = await Peer.connect(B.url, bob);

    const before = await aliceOnA.ok('message:send', {
      roomId: room.id,
      text: 'before',
      clientId: randomUUID(),
    });
    await bobOnB.next('message:new', (m) => m.id === before.message.id);

    await pg.stop(mode);
    const stoppedAt = Date.now();
    const refused: { clientId: string; text: string }[] = [];
    const falseAcks: Message[] = [];
    let restStatus: { status: number; retryAfter: string | undefined; code: unknown } | null = null;
    // Keep sending through the whole outage, on both nodes, over the socket and over REST.
    for (let i = 0; Date.now() - stoppedAt < OUTAGE_MS && i < 200; i++) {
      const attempt = { clientId: randomUUID(), text: `during ${i}` };
      const t0 = Date.now();
      const res = await aliceOnA.ack('message:send', { roomId: room.id, ...attempt }, 15_000);
      // A clear answer, promptly: not a hang until the client gives up.
      expect(Date.now() - t0).toBeLessThan(12_000);
      if (res.ok) falseAcks.push(res.data.message);
      else {
        expect(res.error.code).toBe('UNAVAILABLE');
        expect(res.error.message).toMatch(/\S/);
        refused.push(attempt);
      }
      const rest = await callB('POST', `/api/chatrooms/${room.id}/messages`, {
        token: bob.accessToken,
        body: { text: `rest during ${i}`, clientId: randomUUID() },
      });
      if (rest.status !== 503) falseAcks.push(rest.body);
      restStatus = {
        status: rest.status,
        retryAfter: rest.headers.get('retry-after') ?? undefined,
        code: rest.body.error?.code,
      };
      await new Promise((r) => setTimeout(r, 250)); // pacing through the outage, not synchronisation
    }
    expect(falseAcks).toEqual([]);
    expect(refused.length).toBeGreaterThan(3);
    expect(restStatus).toEqual({
      status: 503,
      retryAfter: expect.stringMatching(/^\d+$/),
      code: 'UNAVAILABLE',
    });
    for (const call of [callA, callB]) {
      const h = await health(call);
      expectStatusOf(h, 503);
      expect(h.body.checks.database).toBe('fail');
    }
    // Nobody heard of a message that was refused.
    expect(bobOnB.received('message:new', (m) => m.text.startsWith('during'))).toEqual([]);

    await pg.start();
    const restartedAt = Date.now();
    // The same nodes, not restarted: their pools reconnect on the next request.
    await waitFor(
      async () => (await health(callA)).status === 200,
      'node A to report the database back',
      20_000,
    );
    await waitFor(
      async () => (await health(callB)).status === 200,
      'node B to report the database back',
      20_000,
    );
    // The client resends what was refused, with the same clientIds: each is stored exactly once.
    const resent: Message[] = [];
    for (const r of refused)
      resent.push((await aliceOnA.ok('message:send', { roomId: room.id, ...r })).message);
    console.warn(
      `scale: ${refused.length} sends refused during a ${OUTAGE_MS / 1000} s PostgreSQL outage (${mode}); ` +
        `working again ${Date.now() - restartedAt} ms after it restarted`,
    );
    const last = resent.at(-1)!;
    await bobOnB.next('message:new', (m) => m.id === last.id);
    const history = await callB(
      'GET',
      `/api/chatrooms/${room.id}/messages?limit=100&after=${before.message.id}`,
      {
        token: bob.accessToken,
      },
    );
    expectStatusOf(history, 200);
    expect(history.body.messages.map((m: Message) => m.text)).toEqual(refused.map((r) => r.text));
    expect(A.proc.exitCode).toBeNull(); // the child node survived the outage
  }, 90_000);
});
