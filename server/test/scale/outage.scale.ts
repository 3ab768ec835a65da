import { randomUUID } from 'node:crypto';
import type { Message } from '@parley/protocol';
import { createClient } from 'redis';
import { afterEach, describe, expect, it } from 'vitest';
import { client, register, uniqueName, type Call, type TestServer } from '../../src/test-support/server.js';
import { createRoom, expectStatusOf, generalRoomId, joinRoom, postMessage } from '../helpers/realtime.js';
import { redisStats } from '../../src/scale/redis.js';
import { Cluster, Peer, RedisProcess, waitFor } from './support.js';

/*
 * What a node does about a Redis outage instead of disconnecting its clients (server/src/scale/recovery.ts): the
 * sockets stay; sessions revoked and rooms joined or left elsewhere meanwhile are applied to them afterwards; and
 * broadcasts that could not be published are delivered to the other nodes' sockets from the database, once.
 * The Redis instances stopped or restricted here are the tests' own (free port, ended by pid).
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup() {
  const redis = await RedisProcess.start();
  cleanups.push(() => redis.kill());
  const c = await Cluster.create({ redisUrl: redis.url });
  cleanups.push(() => c.close());
  const A = await c.inProcess();
  const B = await c.inProcess();
  return { redis, A, B, callA: client(A.url), callB: client(B.url) };
}

const health = (call: Call) => call('GET', '/api/health');

async function healthIs(calls: Call[], status: number, what: string): Promise<void> {
  for (const call of calls) await waitFor(async () => (await health(call)).status === status, what);
}

const send = (peer: Peer, roomId: string, text: string) =>
  peer.ok('message:send', { roomId, text, clientId: randomUUID() }).then((d) => d.message);

/** The server side of a peer's socket on an in-process node. */
const serverSide = (node: TestServer, peer: Peer) => node.parley.io.of('/').sockets.get(peer.socket.id!);

const textIds = (peer: Peer, roomId: string) =>
  peer.received('message:new', (m) => m.roomId === roomId && m.kind === 'text').map((m) => m.id);

describe('sessions and rooms changed on another node while Redis was down', () => {
  it('ends the sockets of revoked sessions, fixes room subscriptions, and disconnects nobody else', async () => {
    const { redis, A, B, callA, callB } = await setup();
    const alice = await register(callA, uniqueName('alice'));
    const dave = await register(callB, uniqueName('dave'));
    const erin = await register(callB, uniqueName('erin'));
    const frank = await register(callB, uniqueName('frank'));
    const room = await createRoom(callA, alice);
    await joinRoom(callB, frank, room.id);
    await joinRoom(callB, dave, room.id);
    const general = await generalRoomId(callA, alice);
    const aliceOnA = await Peer.connect(A.url, alice);
    const daveOnB = await Peer.connect(B.url, dave);
    const erinOnB = await Peer.connect(B.url, erin);
    const frankOnB = await Peer.connect(B.url, frank);

    await redis.kill('SIGKILL');
    await healthIs([callA, callB], 503, 'health to report the outage');
    // On A, while B cannot hear of it: dave signs out, erin joins the room, frank leaves it.
    expectStatusOf(
      await callA('POST', '/api/auth/logout', { body: { refreshToken: dave.refreshToken } }),
      204,
    );
    await joinRoom(callA, erin, room.id);
    expectStatusOf(
      await callA('DELETE', `/api/chatrooms/${room.id}/members/${frank.user.id}`, {
        token: frank.accessToken,
      }),
      204,
    );
    // B still believes the old state.
    expect(daveOnB.connected).toBe(true);
    expect(serverSide(B, erinOnB)!.rooms.has(`room:${room.id}`)).toBe(false);
    expect(serverSide(B, frankOnB)!.rooms.has(`room:${room.id}`)).toBe(true);

    await redis.start();
    // dave's socket on B is told why and closed, as if the logout had reached it at once.
    expect(await daveOnB.next('session:ended', undefined, 15_000)).toEqual({ reason: 'logout' });
    expect(await daveOnB.next('$disconnect')).toBe('io server disconnect');
    await waitFor(
      () =>
        serverSide(B, erinOnB)!.rooms.has(`room:${room.id}`) &&
        !serverSide(B, frankOnB)!.rooms.has(`room:${room.id}`),
      'B to apply the room changes',
      15_000,
    );
    await healthIs([callA, callB], 200, 'health to recover');

    // erin now hears the room, frank no longer does (a marker in general, after it, shows it did not come).
    const after = await send(aliceOnA, room.id, 'after the outage');
    await erinOnB.next('message:new', (m) => m.id === after.id);
    const marker = await postMessage(callA, alice, general, 'marker');
    await frankOnB.next('message:new', (m) => m.id === marker.id);
    expect(frankOnB.received('message:new', (m) => m.id === after.id)).toEqual([]);
    for (const peer of [aliceOnA, erinOnB, frankOnB]) expect(peer.connected).toBe(true);
  });
});

describe('a node whose broadcasts could not be published (its subscribers were fine)', () => {
  it('tells the other nodes once it can, and they deliver the messages from the database, once, in order', async () => {
    const { redis, A, B, callA, callB } = await setup();
    const alice = await register(callA, uniqueName('alice'));
    const bob = await register(callB, uniqueName('bob'));
    const room = await createRoom(callA, alice);
    await joinRoom(callB, bob, room.id);
    const aliceOnA = await Peer.connect(A.url, alice);
    const bobOnB = await Peer.connect(B.url, bob);
    const before = await send(aliceOnA, room.id, 'before');
    await bobOnB.next('message:new', (m) => m.id === before.id);

    // Publishing is refused (every node's), while every connection stays up and subscribed.
    const admin = createClient({ url: redis.url });
    await admin.connect();
    cleanups.push(() => admin.close());
    await admin.sendCommand(['ACL', 'SETUSER', 'default', '-spublish']);
    const failedBefore = redisStats.publishFailures;
    const lost: Message[] = [];
    for (let i = 0; i < 3; i++) lost.push(await send(aliceOnA, room.id, `unpublished ${i}`));
    const edited = await aliceOnA.ok('message:edit', { messageId: before.id, text: 'before, edited' });
    await aliceOnA.ok('message:delete', { messageId: lost[2]!.id });
    // The five broadcasts really were refused (not delivered live by chance).
    await waitFor(() => redisStats.publishFailures - failedBefore >= 5, 'the publishes to fail');
    expect(bobOnB.received('message:new', (m) => lost.some((x) => x.id === m.id))).toEqual([]);
    await admin.sendCommand(['ACL', 'SETUSER', 'default', '+spublish']);

    // B's sockets get them from B's database reads, in id order, each once; then the edit and the deletion.
    for (const m of lost) await bobOnB.next('message:new', (x) => x.id === m.id, 10_000);
    expect((await bobOnB.next('message:updated', (x) => x.id === before.id)).text).toBe(edited.message.text);
    await bobOnB.next('message:deleted', (x) => x.id === lost[2]!.id);
    const live = await send(aliceOnA, room.id, 'live again');
    await bobOnB.next('message:new', (m) => m.id === live.id);
    // (A node's own sockets get a room broadcast after its publish was tried: possibly after the ack.)
    const all = [before, ...lost, live].map((m) => m.id);
    await waitFor(() => textIds(aliceOnA, room.id).length === all.length, 'alice to hear her own messages');
    expect(textIds(bobOnB, room.id)).toEqual(all);
    expect(textIds(aliceOnA, room.id)).toEqual(all);
    expect(bobOnB.connected && aliceOnA.connected).toBe(true);
  });
});
