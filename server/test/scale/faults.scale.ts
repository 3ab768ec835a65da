import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Message, Session } from '@parley/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { createLogger } from '../../src/logger.js';
import { RateLimits } from '../../src/limits/rate-limits.js';
import { RedisConnections } from '../../src/scale/redis.js';
import { client, register, testConfig, uniqueName, type Call } from '../../src/test-support/server.js';
import { createRoom, expectStatusOf, fullHistory, joinRoom } from '../helpers/realtime.js';
import type { RedisPresenceStore } from '../../src/scale/presence.js';
import { cameOnline, Cluster, Peer, RedisProcess, waitFor, wentOffline } from './support.js';

/*
 * Faults of a deployment of several nodes: Redis restarted mid-conversation, a node killed with SIGKILL, a node
 * shut down gracefully, and the shared rate limits with Redis gone and back. The Redis instances killed here
 * are the tests' own (started on a free port, ended by pid); nothing else is touched.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function cluster(opts: Parameters<typeof Cluster.create>[0] = {}): Promise<Cluster> {
  const c = await Cluster.create(opts);
  cleanups.push(() => c.close());
  return c;
}

async function ownRedis(): Promise<RedisProcess> {
  const r = await RedisProcess.start();
  cleanups.push(() => r.kill());
  return r;
}

const send = (peer: Peer, roomId: string, text: string) =>
  peer.ok('message:send', { roomId, text, clientId: randomUUID() }).then((d) => d.message);

const health = (call: Call) => call('GET', '/api/health');

const byNumber = (a: string, b: string) => Number(a) - Number(b);

const onlineIds = async (call: Call, s: Session): Promise<string[]> => {
  const res = await call('GET', '/api/users?online=true&limit=100', { token: s.accessToken });
  expectStatusOf(res, 200);
  return res.body.users.map((u: { id: string }) => u.id).sort();
};

describe('Redis restarted mid-conversation', () => {
  it('disconnects nobody, delivers what was missed exactly once, and live delivery resumes within 5 s', async () => {
    const redis = await ownRedis();
    const c = await cluster({ redisUrl: redis.url });
    const A = await c.child(); // a real process: it must survive the outage without crashing
    const B = await c.inProcess();
    const callA = client(A.url);
    const callB = client(B.url);
    const alice = await register(callA, uniqueName('alice'));
    const bob = await register(callB, uniqueName('bob'));
    const room = await createRoom(callA, alice);
    await joinRoom(callB, bob, room.id);
    const aliceOnA = await Peer.connect(A.url, alice);
    const bobOnB = await Peer.connect(B.url, bob);
    // A second member on B, who sends nothing: what reaches it is only what the nodes deliver.
    const carol = await register(callB, uniqueName('carol'));
    await joinRoom(callB, carol, room.id);
    const carolOnB = await Peer.connect(B.url, carol);
    // A guest whose name is held only by presence (its sign-in hold aged out; it is not connected here).
    const guestName = uniqueName('guest');
    const guest = await callA('POST', '/api/auth/guest', { body: { username: guestName } });
    expectStatusOf(guest, 201);
    await B.parley.ctx.models.User.update(
      { lastSeenAt: new Date(Date.now() - 3_600_000) },
      { where: { id: Number(guest.body.user.id) } },
    );

    const before = await send(aliceOnA, room.id, 'before the outage');
    await bobOnB.next('message:new', (m) => m.id === before.id);

    await redis.kill('SIGKILL');
    // Both nodes notice and say so; both keep serving their own sockets and storing what they acknowledge.
    for (const call of [callA, callB]) {
      await waitFor(async () => (await health(call)).status === 503, 'health to report the outage');
      expect((await health(call)).body).toEqual({
        status: 'fail',
        checks: { database: 'ok', realtime: 'fail' },
      });
    }
    const during: Message[] = [];
    during.push(await send(aliceOnA, room.id, 'during the outage, on A'));
    during.push(await send(bobOnB, room.id, 'during the outage, on B'));
    during.push(await send(aliceOnA, room.id, 'during the outage, on A again'));
    // Whether a guest is connected somewhere is unknown now: its name is neither given away nor kept silently.
    const claim = await callB('POST', '/api/auth/guest', { body: { username: guestName } });
    expectStatusOf(claim, 503);
    expect(claim.body.error.code).toBe('UNAVAILABLE');
    // Local delivery goes on: alice's own socket heard her messages.
    for (const m of during.filter((m) => m.author?.id === alice.user.id))
      await aliceOnA.next('message:new', (x) => x.id === m.id);

    const restartedAt = Date.now();
    await redis.start();

    // No socket is asked to reconnect: each node delivers what its sockets missed, from the database.
    const [onA, onB] = [during.filter((m) => m.author?.id === alice.user.id), [during[1]!]];
    for (const peer of [bobOnB, carolOnB])
      for (const m of onA) await peer.next('message:new', (x) => x.id === m.id, 15_000);
    for (const m of onB) await aliceOnA.next('message:new', (x) => x.id === m.id, 15_000);

    // Live again: both nodes healthy, then a message from A reaches B.
    for (const call of [callA, callB])
      await waitFor(async () => (await health(call)).status === 200, 'health to recover');
    const afterward = await send(aliceOnA, room.id, 'after the outage');
    await bobOnB.next('message:new', (m) => m.id === afterward.id, 5_000);
    const resumedInMs = Date.now() - restartedAt;
    console.warn(`scale: live delivery across nodes resumed ${resumedInMs} ms after Redis restarted`);
    expect(resumedInMs).toBeLessThan(5_000);
    await carolOnB.next('message:new', (m) => m.id === afterward.id);
    // (A room broadcast reaches the sender's own node after its publish: it may come after the ack.)
    await aliceOnA.next('message:new', (m) => m.id === afterward.id);

    // Each socket got every message once: its own node's live, then the others' from the fill, in id order.
    const ids = (peer: Peer) =>
      peer.received('message:new', (m) => m.roomId === room.id && m.kind === 'text').map((m) => m.id);
    const [d0, d1, d2] = during.map((m) => m.id);
    expect(ids(bobOnB)).toEqual([before.id, d1, d0, d2, afterward.id]);
    expect(ids(carolOnB)).toEqual([before.id, d1, d0, d2, afterward.id]);
    expect(ids(aliceOnA)).toEqual([before.id, d0, d2, d1, afterward.id]);
    // Not one disconnect (the peers do not reconnect by themselves: a disconnect would leave them closed).
    for (const peer of [aliceOnA, bobOnB, carolOnB]) expect(peer.connected).toBe(true);

    // Nothing acknowledged was lost, nothing was stored twice.
    const history = await callB('GET', `/api/chatrooms/${room.id}/messages?limit=100`, {
      token: bob.accessToken,
    });
    expectStatusOf(history, 200);
    const texts = history.body.messages.filter((m: Message) => m.kind === 'text').map((m: Message) => m.id);
    expect(texts).toEqual([before, ...during, afterward].map((m) => m.id));

    // Presence was re-registered in the emptied Redis: both users are online again on both nodes.
    for (const call of [callA, callB]) {
      await waitFor(async () => {
        const ids = await onlineIds(call, alice);
        return ids.includes(alice.user.id) && ids.includes(bob.user.id);
      }, 'presence to be rebuilt');
    }
    expect(A.proc.exitCode).toBeNull();
    expect(A.proc.signalCode).toBeNull();
    expect(A.output()).toMatch(/redis connection restored/);
  });
});

describe('a node started while Redis is down', () => {
  it('starts and serves its own users, then joins the others once Redis is up', async () => {
    const redis = await ownRedis();
    await redis.kill('SIGKILL');
    const c = await cluster({ redisUrl: redis.url });
    const startedAt = Date.now();
    const A = await c.inProcess();
    expect(Date.now() - startedAt).toBeLessThan(15_000);
    const callA = client(A.url);
    expect((await health(callA)).status).toBe(503);
    const alice = await register(callA, uniqueName('alice'));
    const room = await createRoom(callA, alice);
    const aliceOnA = await Peer.connect(A.url, alice);
    const alone = await send(aliceOnA, room.id, 'nobody else can hear this yet');
    await aliceOnA.next('message:new', (m) => m.id === alone.id);

    await redis.start();
    await waitFor(async () => (await health(callA)).status === 200, 'health to recover');

    const B = await c.inProcess();
    const callB = client(B.url);
    const bob = await register(callB, uniqueName('bob'));
    await joinRoom(callB, bob, room.id);
    const bobOnB = await Peer.connect(B.url, bob);
    const listed = (await bobOnB.ok('presence:list', {})).users.map((u) => u.id);
    expect(listed).toContain(alice.user.id);
    const hello = await send(aliceOnA, room.id, 'now everyone can');
    await bobOnB.next('message:new', (m) => m.id === hello.id);
    // And the other way: this node hears the others (its subscription, asked for while Redis was down, works).
    const back = await send(bobOnB, room.id, 'and back');
    await aliceOnA.next('message:new', (m) => m.id === back.id);
    // Its socket was kept, and heard each message of the room once (bob's "joined" included: B sent it while A
    // may not have been subscribed yet; A's gap fill then delivers it).
    expect(aliceOnA.connected).toBe(true);
    const stored = (await fullHistory(callA, alice, room.id)).filter((m) => Number(m.id) >= Number(alone.id));
    const heard = () => aliceOnA.received('message:new', (m) => m.roomId === room.id).map((m) => m.id);
    await waitFor(() => stored.every((m) => heard().includes(m.id)), 'every message to reach alice');
    expect(heard().sort(byNumber)).toEqual(stored.map((m) => m.id));
  });
});

describe('a node killed with SIGKILL', () => {
  it('its clients reconnect to another node and catch up; its users drop out of presence within 30 s', async () => {
    const c = await cluster({ nodeTtl: '5s' });
    const A = await c.child();
    // Two survivors, both sweeping: A's users must be announced offline once, not once per survivor.
    const B = await c.inProcess();
    const C = await c.inProcess();
    const callB = client(B.url);
    const callC = client(C.url);
    const bob = await register(callB, uniqueName('bob'));
    const wes = await register(callC, uniqueName('wes'));
    const alice = await register(callB, uniqueName('alice'));
    const carol = await register(callB, uniqueName('carol'));
    const room = await createRoom(callB, bob);
    await joinRoom(callB, alice, room.id);
    await joinRoom(callB, carol, room.id);

    const bobOnB = await Peer.connect(B.url, bob);
    const wesOnC = await Peer.connect(C.url, wes);
    await bobOnB.watch([alice.user.id, carol.user.id]);
    await wesOnC.watch([carol.user.id]);
    const aliceOnA = await Peer.connect(A.url, alice);
    await bobOnB.next('presence:changed', cameOnline(alice.user.id));
    const carolOnA = await Peer.connect(A.url, carol);
    await bobOnB.next('presence:changed', cameOnline(carol.user.id));
    await wesOnC.next('presence:changed', cameOnline(carol.user.id));
    const seen = await send(aliceOnA, room.id, 'from A before it dies');
    await bobOnB.next('message:new', (m) => m.id === seen.id);

    const killedAt = Date.now();
    A.proc.kill('SIGKILL');
    expect((await A.exited).signal).toBe('SIGKILL');
    await aliceOnA.next('$disconnect');
    await carolOnA.next('$disconnect');

    const missed = [
      await send(bobOnB, room.id, 'while A is gone 1'),
      await send(bobOnB, room.id, 'while A is gone 2'),
    ];

    // Alice's client reconnects — to B, the node that is left — and fills the gap.
    const aliceOnB = await Peer.connect(B.url, alice);
    const gap = await aliceOnB.ok('messages:fetch', { roomId: room.id, after: seen.id });
    expect(gap.messages.map((m) => m.id)).toEqual(missed.map((m) => m.id));
    const live = await send(bobOnB, room.id, 'live again');
    await aliceOnB.next('message:new', (m) => m.id === live.id);

    // Carol never comes back: a survivor finds A's heartbeat gone and announces her offline, to her subscribers
    // on every node.
    await bobOnB.next('presence:changed', wentOffline(carol.user.id), 30_000);
    const droppedInMs = Date.now() - killedAt;
    console.warn(`scale: a SIGKILLed node's users were announced offline after ${droppedInMs} ms (TTL 5 s)`);
    expect(droppedInMs).toBeLessThan(30_000);
    await wesOnC.next('presence:changed', wentOffline(carol.user.id), 5_000);
    // Alice kept a socket (on B) throughout: she was never announced offline.
    expect(bobOnB.received('presence:changed', wentOffline(alice.user.id))).toEqual([]);

    const listed = (await bobOnB.ok('presence:list', {})).users.map((u) => u.id).sort();
    expect(listed).toEqual([alice.user.id, bob.user.id, wes.user.id].sort());
    expect(await onlineIds(callB, bob)).toEqual(listed);
    expect(await onlineIds(callC, wes)).toEqual(listed);

    // Announced once: both survivors sweep again, then a user both watchers watch connects to each survivor:
    // once both came online, nothing queued before is on its way; one offline only.
    await Promise.all([B, C].map((n) => (n.parley.ctx.presence as RedisPresenceStore).sweep()));
    const marks = [await register(callB, uniqueName('mb')), await register(callC, uniqueName('mc'))];
    for (const watcher of [bobOnB, wesOnC])
      await watcher.watch([carol.user.id, ...marks.map((m) => m.user.id)]);
    await Peer.connect(B.url, marks[0]!);
    await Peer.connect(C.url, marks[1]!);
    for (const watcher of [bobOnB, wesOnC]) {
      for (const m of marks) await watcher.seen('presence:changed', cameOnline(m.user.id));
      expect(watcher.received('presence:changed', wentOffline(carol.user.id))).toHaveLength(1);
    }
    // Carol's guest-style hold starts when she was found gone.
    const carolRow = await B.parley.ctx.models.User.findByPk(Number(carol.user.id));
    expect(carolRow!.lastSeenAt!.getTime()).toBeGreaterThanOrEqual(killedAt);
  });
});

describe('a node killed with SIGKILL, production defaults', () => {
  it('its users are announced offline within 30 s with the default PRESENCE_NODE_TTL', async () => {
    const c = await cluster(); // no PRESENCE_NODE_TTL: what production runs with
    const A = await c.child();
    const B = await c.inProcess();
    const callB = client(B.url);
    const watcher = await register(callB, uniqueName('watch'));
    const carol = await register(callB, uniqueName('carol'));
    const watcherOnB = await Peer.connect(B.url, watcher);
    await watcherOnB.watch([carol.user.id]);
    await Peer.connect(A.url, carol);
    await watcherOnB.next('presence:changed', cameOnline(carol.user.id));

    const killedAt = Date.now();
    A.proc.kill('SIGKILL');
    await A.exited;
    await watcherOnB.next('presence:changed', wentOffline(carol.user.id), 30_000);
    const droppedInMs = Date.now() - killedAt;
    console.warn(
      `scale: with default settings, a SIGKILLed node's users went offline after ${droppedInMs} ms`,
    );
    expect(droppedInMs).toBeLessThan(30_000);
    expect(await onlineIds(callB, watcher)).toEqual([watcher.user.id]);
  });
});

describe('a node swept while still alive (paused past its TTL)', () => {
  it('has its users announced offline, then re-registers them at its next heartbeat', async () => {
    const c = await cluster();
    const A = await c.inProcess();
    const B = await c.inProcess();
    const callA = client(A.url);
    const watcher = await register(callA, uniqueName('watch'));
    const gil = await register(callA, uniqueName('gil'));
    const watcherOnA = await Peer.connect(A.url, watcher);
    await watcherOnA.watch([gil.user.id]);
    const gilOnB = await Peer.connect(B.url, gil);
    await watcherOnA.next('presence:changed', cameOnline(gil.user.id));

    // B's alive key expires as if B had been frozen for longer than its TTL; A's sweep finds it.
    const presenceA = A.parley.ctx.presence as RedisPresenceStore;
    const presenceB = B.parley.ctx.presence as RedisPresenceStore;
    const redis = createClient({ url: c.spec.redisUrl });
    await redis.connect();
    cleanups.push(() => redis.close());
    // (B's own heartbeat may land between the two steps and save it: then try again.)
    await waitFor(async () => {
      await redis.del(`${c.spec.prefix}:presence:node:${presenceB.nodeId}`);
      await presenceA.sweep();
      return !(await redis.sIsMember(`${c.spec.prefix}:presence:nodes`, presenceB.nodeId));
    }, 'A to sweep B');
    await watcherOnA.next('presence:changed', wentOffline(gil.user.id));
    expect(await onlineIds(callA, watcher)).not.toContain(gil.user.id);

    // B wakes up: its heartbeat finds itself unregistered and registers its sockets again.
    await presenceB.heartbeat();
    await watcherOnA.next('presence:changed', cameOnline(gil.user.id));
    expect(await onlineIds(callA, watcher)).toContain(gil.user.id);
    expect(gilOnB.connected).toBe(true);
    // And the next regular departure is counted right: closing gil's only socket makes him offline.
    gilOnB.close();
    await watcherOnA.next('presence:changed', wentOffline(gil.user.id));
    expect(await onlineIds(callA, watcher)).not.toContain(gil.user.id);
  });
});

describe('a node shut down gracefully', () => {
  it('announces its users offline at once, without waiting for the heartbeat to expire', async () => {
    const c = await cluster({ nodeTtl: '60s' });
    const A = await c.inProcess();
    const B = await c.inProcess();
    const callB = client(B.url);
    const watcher = await register(callB, uniqueName('watch'));
    const dave = await register(callB, uniqueName('dave'));
    const eve = await register(callB, uniqueName('eve'));
    const watcherOnB = await Peer.connect(B.url, watcher);
    await watcherOnB.watch([dave.user.id, eve.user.id]);
    await Peer.connect(A.url, dave);
    await Peer.connect(A.url, eve);
    const eveOnB = await Peer.connect(B.url, eve); // eve also has a tab on B: she stays online
    await watcherOnB.next('presence:changed', cameOnline(dave.user.id));

    const closingAt = Date.now();
    await A.close();
    await watcherOnB.next('presence:changed', wentOffline(dave.user.id), 5_000);
    expect(Date.now() - closingAt).toBeLessThan(5_000);
    const listed = (await watcherOnB.ok('presence:list', {})).users.map((u) => u.id).sort();
    expect(listed).toEqual([eve.user.id, watcher.user.id].sort());
    expect(watcherOnB.received('presence:changed', wentOffline(eve.user.id))).toEqual([]);
    expect(eveOnB.connected).toBe(true);
  });
});

describe('the shared rate limits', () => {
  // Only the limit sizes are read from it: a message window of 20 (then 3) and 4 sign-in attempts.
  const config = (messageBurst: number) =>
    testConfig(os.tmpdir(), { messageBurst, messageRatePerSec: 0.001, loginMaxFailures: 4 });

  async function nodes(url: string, prefix: string, messageBurst: number) {
    const conns = [new RedisConnections(url, logger), new RedisConnections(url, logger)];
    cleanups.push(async () => {
      for (const conn of conns) await conn.close();
    });
    for (const conn of conns) expect(await conn.connect(5_000)).toBe(true);
    const [s1, s2] = conns.map((conn) => new RateLimits(config(messageBurst), { redis: conn.cmd, prefix }));
    return { s1: s1!, s2: s2!, conns };
  }
  const logger = createLogger('silent');

  it('counts in one window atomically, whichever node asks, and shares sign-in counts', async () => {
    const redis = await ownRedis();
    const { s1, s2 } = await nodes(redis.url, `t${randomUUID().slice(0, 8)}`, 20);
    const takes = Array.from({ length: 60 }, (_, i) => (i % 2 ? s1 : s2).consume('message', 'u1'));
    const results = await Promise.all(takes);
    expect(results.filter((r) => r.ok)).toHaveLength(20);
    const refused = results.find((r) => !r.ok)!;
    expect(refused.retryAfterSec).toBeGreaterThanOrEqual(1);

    for (let i = 0; i < 3; i++) expect((await s1.consume('loginAccount', 'acct')).ok).toBe(true);
    expect((await s2.consume('loginAccount', 'acct')).ok).toBe(true);
    const blocked = await s1.consume('loginAccount', 'acct');
    expect(blocked.ok).toBe(false);
    expect(blocked.retryAfterSec).toBeGreaterThan(800);
    expect(blocked.retryAfterSec).toBeLessThanOrEqual(900);
    await s2.reset('loginAccount', 'acct');
    expect((await s1.consume('loginAccount', 'acct')).ok).toBe(true);
  });

  it('keeps limiting, per node, while Redis is down, and shares again once it is back', async () => {
    const redis = await ownRedis();
    const { s1, s2, conns } = await nodes(redis.url, `t${randomUUID().slice(0, 8)}`, 3);
    await redis.kill('SIGKILL');
    // Each node falls back to its own in-memory insurance limiter: 3 each, not 3 in all.
    for (const s of [s1, s2]) {
      for (let i = 0; i < 3; i++) expect((await s.consume('message', 'down')).ok).toBe(true);
      expect((await s.consume('message', 'down')).ok).toBe(false);
    }
    await redis.start();
    await waitFor(() => conns.every((conn) => conn.ready()), 'both connections to come back');
    // Back in Redis: one window again, whichever node takes.
    expect((await s1.consume('message', 'up')).ok).toBe(true);
    expect((await s2.consume('message', 'up')).ok).toBe(true);
    expect((await s1.consume('message', 'up')).ok).toBe(true);
    expect((await s2.consume('message', 'up')).ok).toBe(false);
  });
});
