import type { Message } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, register, uniqueName, type Call, type TestServer } from '../../src/test-support/server.js';
import {
  createRoom,
  expectStatusOf,
  generalRoomId,
  joinRoom,
  postMessage,
  sendBurst,
} from '../helpers/realtime.js';
import { Cluster, Peer } from './support.js';

/*
 * `messages:new` across two nodes (realtime/fanout.ts): a commit's several messages of a room cross Redis as one
 * publish; on every node the sockets that opted in get them as one frame, the others one `message:new` each (the
 * node expands the batch for them itself), in id order; a member kicked on one node gets nothing after the kick
 * on the other.
 */

let cluster: Cluster;
let A: TestServer;
let B: TestServer;
let callA: Call;
let callB: Call;

beforeAll(async () => {
  cluster = await Cluster.create();
  A = await cluster.inProcess();
  B = await cluster.inProcess();
  callA = client(A.url);
  callB = client(B.url);
});

afterAll(async () => {
  await cluster?.close();
});

const BATCHES = { messageBatches: true };
const ids = (ms: { id: string }[]) => ms.map((m) => m.id);

describe('messages:new on two nodes', () => {
  it('both kinds of socket on both nodes get every message once, in id order', async () => {
    const alice = await register(callA, uniqueName('alice'));
    const room = await createRoom(callA, alice);
    const others = await Promise.all(['bob', 'carol', 'dave'].map((n) => register(callB, uniqueName(n))));
    for (const s of others) await joinRoom(callB, s, room.id);
    const [bob, carol, dave] = others as [(typeof others)[0], (typeof others)[0], (typeof others)[0]];
    const aliceOnA = await Peer.connect(A.url, alice, BATCHES);
    const bobOnB = await Peer.connect(B.url, bob, BATCHES);
    const carolOnB = await Peer.connect(B.url, carol);
    const daveOnA = await Peer.connect(A.url, dave);

    const sent: Message[] = [];
    sent.push(...(await sendBurst(A, aliceOnA.socket, room.id, ['a1', 'a2', 'a3', 'a4'])));
    sent.push(await postMessage(callB, bob, room.id, 'single from B'));
    sent.push(...(await sendBurst(A, aliceOnA.socket, room.id, ['a5', 'a6', 'a7'])));
    const marker = await postMessage(callA, alice, room.id, 'marker');
    const isSent = (m: Message) => sent.some((x) => x.id === m.id);

    for (const peer of [aliceOnA, bobOnB, carolOnB, daveOnA]) {
      await peer.next('message:new', (m) => m.id === marker.id);
      expect(ids(peer.messages(isSent))).toEqual(ids(sent));
    }
    for (const peer of [aliceOnA, bobOnB])
      expect(
        peer.received('messages:new', (b) => b.roomId === room.id).some((b) => b.messages.length >= 2),
      ).toBe(true);
    for (const peer of [carolOnB, daveOnA]) expect(peer.received('messages:new')).toEqual([]);
    expect(bobOnB.messages(isSent)).toEqual(sent);
  });

  it('a member kicked through one node gets nothing after the kick on the other', async () => {
    const owner = await register(callA, uniqueName('own'));
    const room = await createRoom(callA, owner);
    const eve = await register(callB, uniqueName('eve'));
    await joinRoom(callB, eve, room.id);
    const ownerOnA = await Peer.connect(A.url, owner, BATCHES);
    const eveOnB = await Peer.connect(B.url, eve, BATCHES);

    const before = await sendBurst(A, ownerOnA.socket, room.id, ['b1', 'b2', 'b3']);
    const kick = await callA('DELETE', `/api/chatrooms/${room.id}/members/${eve.user.id}`, {
      token: owner.accessToken,
    });
    expectStatusOf(kick, 204);
    await eveOnB.next('room:member-left', (p) => p.roomId === room.id && p.userId === eve.user.id);
    await sendBurst(A, ownerOnA.socket, room.id, ['after 1', 'after 2', 'after 3']);

    const marker = await postMessage(callA, owner, await generalRoomId(callA, owner), 'marker in general');
    await eveOnB.next('message:new', (m) => m.id === marker.id);
    expect(eveOnB.messages((m) => m.roomId === room.id && m.kind === 'text')).toEqual(before);
  });
});
