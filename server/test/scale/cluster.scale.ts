import { randomUUID } from 'node:crypto';
import type { Message, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { scaleSettings } from '../../src/scale/settings.js';
import { client, register, uniqueName, type Call, type TestServer } from '../../src/test-support/server.js';
import {
  addMember,
  createRoom,
  expectStatusOf,
  generalRoomId,
  joinRoom,
  postMessage,
} from '../helpers/realtime.js';
import { cameOnline, Cluster, Peer, waitFor, wentOffline } from './support.js';

/*
 * Two nodes (A and B) of one deployment: same PostgreSQL database, same Redis, same JWT secret. Users connected to
 * different nodes must not be able to tell: rooms and messages (in order, once), presence, typing, guest names,
 * kicks and logouts, rate limits and health all behave as on one node.
 *
 * "Did not receive" is proved with a marker: the node that would have sent the unwanted event sends a later one
 * that the socket surely gets; events from one node reach a socket in the order that node published them.
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

const send = (peer: Peer, roomId: string, text: string, clientId: string = randomUUID()) =>
  peer.ok('message:send', { roomId, text, clientId }).then((d) => d.message);

/** Waits until the node has processed the socket's departure (presence removed, offline sent if it was the last). */
async function closeAndSettle(node: TestServer, peer: Peer): Promise<void> {
  const serverSocket = node.parley.io.of('/').sockets.get(peer.socket.id!);
  if (!serverSocket) throw new Error('no such socket on that node');
  peer.close();
  await waitFor(() => serverSocket.disconnected, 'the node to see the socket go');
  await node.parley.ctx.bookkeeping.settled(serverSocket);
}

const onlineIds = async (call: Call, s: Session): Promise<string[]> => {
  const res = await call('GET', '/api/users?online=true&limit=100', { token: s.accessToken });
  expectStatusOf(res, 200);
  return res.body.users.map((u: { id: string }) => u.id).sort();
};

describe('two nodes, one chat', () => {
  it('both nodes report the database and the Redis connection healthy', async () => {
    for (const call of [callA, callB]) {
      const res = await call('GET', '/api/health');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ status: 'ok', checks: { database: 'ok', realtime: 'ok' } });
    }
  });

  it('delivers every message to every member socket on both nodes, once, in stored order', async () => {
    const alice = await register(callA, uniqueName('alice'));
    const bob = await register(callB, uniqueName('bob'));
    const carol = await register(callB, uniqueName('carol'));
    const room = await createRoom(callA, alice);
    await joinRoom(callB, bob, room.id);
    await joinRoom(callA, carol, room.id);

    const aliceOnA = await Peer.connect(A.url, alice);
    const aliceOnB = await Peer.connect(B.url, alice);
    const bobOnB = await Peer.connect(B.url, bob);
    const carolOnA = await Peer.connect(A.url, carol);
    const everyone = [aliceOnA, aliceOnB, bobOnB, carolOnA];

    // Alternating senders on alternating nodes; each send waits for its ack.
    const senders = [aliceOnA, bobOnB, carolOnA, aliceOnB];
    const sent: Message[] = [];
    for (let i = 0; i < 24; i++) sent.push(await send(senders[i % senders.length]!, room.id, `m${i}`));
    // A resend of a clientId through the other node answers the stored message and is not broadcast again.
    const clientId = randomUUID();
    const once = await send(aliceOnA, room.id, 'idempotent', clientId);
    const again = await send(aliceOnB, room.id, 'idempotent', clientId);
    expect(again.id).toBe(once.id);
    sent.push(once);
    const end = await send(bobOnB, room.id, 'end');

    const ids = sent.map((m) => m.id);
    for (let i = 1; i < ids.length; i++) expect(BigInt(ids[i]!)).toBeGreaterThan(BigInt(ids[i - 1]!));
    for (const peer of everyone) {
      const got = await peer.receivedBefore(
        'message:new',
        (m) => m.roomId === room.id,
        'message:new',
        (m) => m.id === end.id,
      );
      expect(got.map((m) => m.id)).toEqual(ids);
    }

    // Stored once each, in the same order, whichever node is asked.
    for (const call of [callA, callB]) {
      const res = await call('GET', `/api/chatrooms/${room.id}/messages?limit=100`, {
        token: bob.accessToken,
      });
      expectStatusOf(res, 200);
      const userMessages = res.body.messages.filter((m: Message) => m.kind === 'text');
      expect(userMessages.map((m: Message) => m.id)).toEqual([...ids, end.id]);
    }
    for (const p of everyone) p.close();
  });

  it('shares presence: a subscriber on B hears a user connect to A, lists agree, offline only when the last socket anywhere goes', async () => {
    const watcher = await register(callB, uniqueName('watch'));
    const bystander = await register(callB, uniqueName('by'));
    const dave = await register(callA, uniqueName('dave'));
    const watcherOnB = await Peer.connect(B.url, watcher);
    const bystanderOnA = await Peer.connect(A.url, bystander);
    const bystanderOnB = await Peer.connect(B.url, bystander);
    expect(await watcherOnB.watch([dave.user.id])).toEqual([]);

    const daveOnA = await Peer.connect(A.url, dave);
    const online = await watcherOnB.next('presence:changed', cameOnline(dave.user.id));
    expect(online.online.find((u) => u.id === dave.user.id)!.username).toBe(dave.user.username);
    expect(await watcherOnB.watch([dave.user.id])).toEqual([dave.user.id]);

    // presence:list and GET /api/users?online=true agree, on both nodes.
    const listed = await watcherOnB.ok('presence:list', { limit: 200 });
    const listIds = listed.users.map((u) => u.id).sort();
    expect(listIds).toContain(dave.user.id);
    expect(listIds).toContain(watcher.user.id);
    expect(await onlineIds(callA, watcher)).toEqual(listIds);
    expect(await onlineIds(callB, dave)).toEqual(listIds);
    const daveOnAList = await daveOnA.ok('presence:list', { limit: 200 });
    expect(daveOnAList.users.map((u) => u.id).sort()).toEqual(listIds);

    // A second tab on the other node: no second online. Closing the first tab: no offline. The marker: a user the
    // watcher also watches connects to A (the node that would have sent the offline) afterwards.
    const daveOnB = await Peer.connect(B.url, dave);
    await closeAndSettle(A, daveOnA);
    const mark = await register(callA, uniqueName('mark'));
    await watcherOnB.watch([dave.user.id, mark.user.id]);
    await Peer.connect(A.url, mark);
    // (The marker's batch may carry other changes too: everything received so far counts.)
    await watcherOnB.seen('presence:changed', cameOnline(mark.user.id));
    expect(watcherOnB.received('presence:changed', wentOffline(dave.user.id))).toEqual([]);
    expect(watcherOnB.received('presence:changed', cameOnline(dave.user.id))).toHaveLength(1);
    expect(await onlineIds(callA, watcher)).toContain(dave.user.id);

    // The last tab goes (on B): the subscriber hears it, and neither node lists dave any more.
    daveOnB.close();
    const offline = await watcherOnB.next('presence:changed', wentOffline(dave.user.id));
    expect(typeof offline.offline[0]!.at).toBe('string');
    expect(await onlineIds(callA, watcher)).not.toContain(dave.user.id);
    expect(await onlineIds(callB, watcher)).not.toContain(dave.user.id);
    const after = await watcherOnB.ok('presence:list', {});
    expect(after.users.map((u) => u.id)).not.toContain(dave.user.id);

    // Sockets that subscribed to nobody heard none of it, on either node (a later subscription is the marker).
    for (const [peer, node] of [
      [bystanderOnA, A],
      [bystanderOnB, B],
    ] as const) {
      const m = await register(client(node.url), uniqueName('mark'));
      await peer.watch([m.user.id]);
      await Peer.connect(node === A ? B.url : A.url, m);
      await peer.next('presence:changed', cameOnline(m.user.id));
      expect(
        peer
          .received('presence:changed')
          .flatMap((p) => [...p.online.map((u) => u.id), ...p.offline.map((o) => o.userId)]),
      ).toEqual([m.user.id]);
    }
    watcherOnB.close();
  });

  it('decides first and last socket once across nodes, however tabs come and go at once', async () => {
    const watcher = await register(callA, uniqueName('watch'));
    const fay = await register(callA, uniqueName('fay'));
    const watcherOnA = await Peer.connect(A.url, watcher);
    const nodes = [A, B];
    const settleMarkers = async () => {
      // A user the watcher watches connects to each node: after both came online, nothing either node queued
      // before is still on its way.
      const marks = [await register(callA, uniqueName('ma')), await register(callB, uniqueName('mb'))];
      await watcherOnA.watch([fay.user.id, ...marks.map((m) => m.user.id)]);
      const peers = [await Peer.connect(A.url, marks[0]!), await Peer.connect(B.url, marks[1]!)];
      for (const m of marks) await watcherOnA.seen('presence:changed', cameOnline(m.user.id));
      for (const p of peers) p.close();
    };
    await watcherOnA.watch([fay.user.id]);

    for (let round = 0; round < 3; round++) {
      // Eight tabs open at once, half on each node: fay comes online once.
      const tabs = await Promise.all(
        Array.from({ length: 8 }, (_, i) => Peer.connect(nodes[i % 2]!.url, fay)),
      );
      await settleMarkers();
      expect(watcherOnA.received('presence:changed', cameOnline(fay.user.id))).toHaveLength(round + 1);
      expect(await onlineIds(callB, watcher)).toContain(fay.user.id);

      // Seven close at once (on both nodes): still online. The last one: offline, once.
      await Promise.all(tabs.slice(1).map((t, i) => closeAndSettle(nodes[(i + 1) % 2]!, t)));
      await settleMarkers();
      expect(watcherOnA.received('presence:changed', wentOffline(fay.user.id))).toHaveLength(round);
      await closeAndSettle(A, tabs[0]!);
      await settleMarkers();
      expect(watcherOnA.received('presence:changed', wentOffline(fay.user.id))).toHaveLength(round + 1);
      expect(await onlineIds(callA, watcher)).not.toContain(fay.user.id);
    }
    watcherOnA.close();
  });

  it('relays typing across nodes to the room, never to the typist’s own tabs', async () => {
    const ann = await register(callA, uniqueName('ann'));
    const ben = await register(callB, uniqueName('ben'));
    const room = await createRoom(callA, ann);
    await joinRoom(callB, ben, room.id);
    const annOnA = await Peer.connect(A.url, ann);
    const annOnB = await Peer.connect(B.url, ann);
    const benOnB = await Peer.connect(B.url, ben);

    await annOnA.ok('typing', { roomId: room.id, isTyping: true });
    const t = await benOnB.next('typing', (p) => p.roomId === room.id && p.user.id === ann.user.id);
    expect(t.isTyping).toBe(true);
    await annOnA.ok('typing', { roomId: room.id, isTyping: false });
    expect((await benOnB.next('typing', (p) => p.user.id === ann.user.id)).isTyping).toBe(false);

    const marker = await send(annOnA, room.id, 'marker');
    for (const own of [annOnA, annOnB]) {
      const leaked = await own.receivedBefore(
        'typing',
        () => true,
        'message:new',
        (m) => m.id === marker.id,
      );
      expect(leaked).toEqual([]);
    }
    for (const p of [annOnA, annOnB, benOnB]) p.close();
  });

  it('holds a connected guest’s name on every node, and frees it on every node once it is gone', async () => {
    const name = uniqueName('guest');
    const first = await callA('POST', '/api/auth/guest', { body: { username: name } });
    expectStatusOf(first, 201);
    const guest: Session = first.body;
    // Make the sign-in's own 60 s hold irrelevant: only the connection (shared presence) holds the name now.
    const ageOut = () =>
      A.parley.ctx.models.User.update(
        { lastSeenAt: new Date(Date.now() - 3_600_000) },
        { where: { id: Number(guest.user.id) } },
      );
    await ageOut();
    const guestOnA = await Peer.connect(A.url, guest);

    const taken = await callB('POST', '/api/auth/guest', { body: { username: name } });
    expectStatusOf(taken, 409);
    expect(taken.body.error.code).toBe('USERNAME_TAKEN');

    await closeAndSettle(A, guestOnA);
    await ageOut();
    const claimed = await callB('POST', '/api/auth/guest', { body: { username: name } });
    expectStatusOf(claimed, 201);
    expect(claimed.body.user.id).not.toBe(guest.user.id);
  });

  it('gives a fresh guest name to exactly one of two nodes claiming it at once', async () => {
    const name = uniqueName('race');
    const [a, b] = await Promise.all([
      callA('POST', '/api/auth/guest', { body: { username: name } }),
      callB('POST', '/api/auth/guest', { body: { username: name } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
  });

  it('subscribes and kicks across nodes: a member added on A hears at once on B; once kicked, hears nothing more', async () => {
    const owner = await register(callA, uniqueName('own'));
    const member = await register(callB, uniqueName('mem'));
    const generalId = await generalRoomId(callA, owner);
    const room = await createRoom(callA, owner, 'private');
    const ownerOnA = await Peer.connect(A.url, owner);
    const memberOnB = await Peer.connect(B.url, member);

    // Added through A while connected to B: the subscription travels through Redis before the next broadcast.
    await addMember(callA, owner, room.id, member);
    const hello = await send(ownerOnA, room.id, 'welcome');
    expect((await memberOnB.next('message:new', (m) => m.id === hello.id)).text).toBe('welcome');

    // Kicked through A.
    const kick = await callA('DELETE', `/api/chatrooms/${room.id}/members/${member.user.id}`, {
      token: owner.accessToken,
    });
    expectStatusOf(kick, 204);
    const left = await memberOnB.next('room:member-left', (p) => p.roomId === room.id);
    expect(left).toMatchObject({ userId: member.user.id, reason: 'kicked' });
    const secret = await send(ownerOnA, room.id, 'not for you any more');
    const marker = await postMessage(callA, owner, generalId, 'marker after the kick');
    const leaked = await memberOnB.receivedBefore(
      'message:new',
      (m) => m.id === secret.id,
      'message:new',
      (m) => m.id === marker.id,
    );
    expect(leaked).toEqual([]);
    ownerOnA.close();
    memberOnB.close();
  });

  it('a logout through A ends the session’s sockets on B, and only that session’s', async () => {
    const name = uniqueName('out');
    const s1 = await register(callB, name);
    const login = await callA('POST', '/api/auth/login', {
      body: { username: name, password: 'correct-horse-9' },
    });
    expectStatusOf(login, 200);
    const s2: Session = login.body;
    const s1OnB = await Peer.connect(B.url, s1);
    const s2OnB = await Peer.connect(B.url, s2);

    const out = await callA('POST', '/api/auth/logout', {
      token: s1.accessToken,
      body: { refreshToken: s1.refreshToken },
    });
    expectStatusOf(out, 204);
    expect(await s1OnB.next('session:ended')).toMatchObject({ reason: expect.any(String) });
    expect(await s1OnB.next('$disconnect')).toBe('io server disconnect');

    // The other session (same user) stays connected and served.
    expect(s2OnB.connected).toBe(true);
    await s2OnB.ok('presence:list', {});
    expect(s2OnB.received('session:ended')).toEqual([]);
    s2OnB.close();
  });

  it('counts failed logins per account across nodes', async () => {
    const name = uniqueName('brute');
    await register(callA, name);
    const attempt = (call: Call, password: string) =>
      call('POST', '/api/auth/login', { body: { username: name, password } });
    // LOGIN_MAX_FAILURES is 10: five wrong passwords on each node reach it together.
    for (let i = 0; i < 5; i++) {
      expectStatusOf(await attempt(callA, 'wrong-password-1'), 401);
      expectStatusOf(await attempt(callB, 'wrong-password-2'), 401);
    }
    for (const call of [callA, callB]) {
      const res = await attempt(call, 'correct-horse-9');
      expectStatusOf(res, 429);
      expect(res.body.error.code).toBe('RATE_LIMITED');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  });

  it('counts sign-in attempts before the hash is checked, across nodes: 55 in parallel, at most 10 evaluated', async () => {
    const name = uniqueName('par');
    await register(callA, name);
    // Issue 13 (docs/SECURITY.md L1), through both nodes at once: one shared count in Redis.
    const results = await Promise.all(
      Array.from({ length: 55 }, (_, i) =>
        (i % 2 ? callA : callB)('POST', '/api/auth/login', {
          body: { username: name, password: i === 54 ? 'correct-horse-9' : `wrong-password-${i}` },
        }),
      ),
    );
    const answered = results.filter((r) => r.status !== 429);
    expect(answered.length).toBeGreaterThan(0);
    expect(answered.length).toBeLessThanOrEqual(10);
    for (const r of results.filter((r) => r.status === 429)) {
      expect(r.body.error.code).toBe('RATE_LIMITED');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  });
});

describe('message rate limits are shared', () => {
  let tight: Cluster;
  beforeAll(async () => {
    tight = await Cluster.create();
  });
  afterAll(async () => {
    await tight?.close();
  });

  it('a user’s burst is one bucket, whichever node the sends go through', async () => {
    const limits = { messageBurst: 4, messageRatePerSec: 0.01 };
    const a = await tight.inProcess(limits);
    const b = await tight.inProcess(limits);
    const user = await register(client(a.url), uniqueName('fast'));
    const roomId = await generalRoomId(client(a.url), user);
    const onA = await Peer.connect(a.url, user);
    const onB = await Peer.connect(b.url, user);
    for (const peer of [onA, onB, onA, onB]) await send(peer, roomId, 'within the burst');
    for (const peer of [onA, onB]) {
      const res = await peer.ack('message:send', { roomId, text: 'one too many', clientId: randomUUID() });
      expect(res.ok).toBe(false);
      if (!res.ok) expect(res.error.code).toBe('RATE_LIMITED');
    }
    onA.close();
    onB.close();
  });
});

describe('scale settings', () => {
  it('by default a node that stops heartbeating is gone from presence well within 30 s', () => {
    const s = scaleSettings({});
    expect(s.prefix).toBe('parley');
    expect(s.nodeTtlMs + s.sweepMs).toBeLessThanOrEqual(30_000);
    expect(s.heartbeatMs).toBeLessThan(s.nodeTtlMs);
  });

  it('refuses settings that would break that promise or the key space', () => {
    expect(() => scaleSettings({ PRESENCE_NODE_TTL: '1s' })).toThrow(ConfigError);
    expect(() => scaleSettings({ PRESENCE_NODE_TTL: '5m' })).toThrow(ConfigError);
    expect(() => scaleSettings({ PRESENCE_NODE_TTL: 'soon' })).toThrow(ConfigError);
    expect(() => scaleSettings({ REDIS_KEY_PREFIX: 'has space' })).toThrow(ConfigError);
    expect(scaleSettings({ PRESENCE_NODE_TTL: '3s', REDIS_KEY_PREFIX: 'stage-1' })).toMatchObject({
      prefix: 'stage-1',
      nodeTtlMs: 3_000,
      heartbeatMs: 1_000,
    });
  });
});
