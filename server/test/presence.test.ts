import type { Room, ServerPayload, Session, User } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPING_TTL_MS } from '../src/modules/presence/typing.js';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../src/test-support/server.js';
import {
  closeAndSettle,
  closeRawSockets,
  connectReady,
  createRoom,
  emitNoAck,
  expectFail,
  expectHandshakeRefused,
  expectNoneBy,
  expectOk,
  expectStatusOf,
  expectUser,
  expectValidation,
  emitRaw,
  MISSING_ID,
  rawSocket,
  generalRoomId,
  joinRoom,
  postMessage,
  sortedKeys,
  userOf,
} from './helpers/realtime.js';
import {
  closeAllSockets,
  emitAck,
  nextEvent,
  received,
  waitFor,
  type ClientSocket,
} from './helpers/sockets.js';
import { ISO } from './helpers/http.js';

/*
 * Presence, contract v2: a socket names the users it watches (`presence:subscribe`) and receives
 * `presence:changed` for them only, batched per PRESENCE_BATCH_MS; `presence:list` and GET /api/users?online=true
 * page who is online. Then typing indicators: relayed to the room but never to the typist's own tabs, ended by
 * the server when not refreshed, and when the typist goes away.
 */

let server: TestServer;
let call: Call;
let generalId: string;
/** Watches whoever a test names; stays connected for the whole file. */
let observer: Session;
let observerSocket: ClientSocket;

beforeAll(async () => {
  // The suite's config batches presence every 50 ms; the batching tests start servers of their own.
  server = await startTestServer();
  call = client(server.url);
  observer = await register(call, uniqueName('obs'));
  generalId = await generalRoomId(call, observer);
  observerSocket = await connectReady(server, observer);
});

afterAll(async () => {
  closeAllSockets();
  closeRawSockets();
  await server?.close();
});

type Changed = ServerPayload<'presence:changed'>;
const cameOnline = (userId: string) => (p: Changed) => p.online.some((u) => u.id === userId);
const wentOffline = (userId: string) => (p: Changed) => p.offline.some((o) => o.userId === userId);
const mentions = (userId: string) => (p: Changed) => cameOnline(userId)(p) || wentOffline(userId)(p);

async function subscribe(socket: ClientSocket, userIds: string[]): Promise<string[]> {
  return expectOk('presence:subscribe', await emitAck(socket, 'presence:subscribe', { userIds })).online;
}

/**
 * A marker for `socket`: it watches a new user who then connects. Changes queued before that one reach the socket
 * no later than its `presence:changed` (one batch, or an earlier one: a socket's packets arrive in order).
 */
async function presenceMarker(
  s: Server = server,
  socket: ClientSocket = observerSocket,
  keep: string[] = [],
) {
  const c = client(s.url);
  const m = await register(c, uniqueName('mark'));
  await subscribe(socket, [...keep, m.user.id]);
  const markerSocket = await connectReady(s, m);
  return {
    socket: markerSocket,
    marker: { name: 'presence:changed' as const, where: cameOnline(m.user.id) },
  };
}

async function onlineViaList(socket: ClientSocket): Promise<string[]> {
  const { users, hasMore, next } = expectOk(
    'presence:list',
    await emitAck(socket, 'presence:list', { limit: 200 }),
  );
  expect([hasMore, next]).toEqual([false, null]);
  for (const u of users) expectUser(u);
  return users.map((u) => u.id);
}

async function onlineViaRest(s: Session, c: Call = call): Promise<string[]> {
  const res = await c('GET', '/api/users?online=true&limit=200', { token: s.accessToken });
  expectStatusOf(res, 200);
  expect(sortedKeys(res.body)).toEqual(['hasMore', 'next', 'users']);
  expect([res.body.hasMore, res.body.next]).toEqual([false, null]);
  for (const u of res.body.users) expectUser(u);
  return res.body.users.map((u: User) => u.id);
}

/** presence:list and the REST filter name the same users, each once, sorted the same way. */
async function onlineNow(): Promise<string[]> {
  const [list, rest] = await Promise.all([onlineViaList(observerSocket), onlineViaRest(observer)]);
  expect(rest).toEqual(list);
  expect(new Set(list).size).toBe(list.length);
  return list;
}

type Server = TestServer;

describe('presence:subscribe', () => {
  it('needs a signed-in socket: a handshake without a valid token is refused', async () => {
    for (const auth of [{}, { token: 'forged' }]) {
      const err = await expectHandshakeRefused(server, { auth });
      expect(err.message).toBe('UNAUTHORIZED');
    }
  });

  it('refuses more than 500 ids, ids that are not ids, a missing list and unknown fields', async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => String(i + 1));
    expectValidation(await emitRaw(observerSocket, 'presence:subscribe', [{ userIds: ids(501) }]), 'userIds');
    for (const bad of ['abc', '0', '', '-1', '1.5', '12345678901234567890'])
      expectValidation(
        await emitRaw(observerSocket, 'presence:subscribe', [{ userIds: [bad] }]),
        'userIds.0',
      );
    expectValidation(await emitRaw(observerSocket, 'presence:subscribe', [{ userIds: [7] }]), 'userIds.0');
    expectValidation(await emitRaw(observerSocket, 'presence:subscribe', [{ userIds: '7' }]), 'userIds');
    expectFail(await emitRaw(observerSocket, 'presence:subscribe', [{}]), 'VALIDATION_ERROR');
    expectFail(await emitRaw(observerSocket, 'presence:subscribe', []), 'VALIDATION_ERROR');
    expectFail(
      await emitRaw(observerSocket, 'presence:subscribe', [{ userIds: [], extra: 1 }]),
      'VALIDATION_ERROR',
    );
    // 500 is fine, and a refused subscription left the previous one as it was.
    expect(await subscribe(observerSocket, [...ids(499), observer.user.id])).toContain(observer.user.id);
  });

  it('acks which of the users are online now (yourself included when you ask), duplicates once', async () => {
    const on = await register(call, uniqueName('on'));
    const off = await register(call, uniqueName('off'));
    const onSocket = await connectReady(server, on);
    const online = await subscribe(observerSocket, [
      off.user.id,
      on.user.id,
      on.user.id,
      MISSING_ID,
      observer.user.id,
    ]);
    expect(online).toEqual([on.user.id, observer.user.id]);
    expect(await subscribe(observerSocket, [])).toEqual([]);
    await closeAndSettle(server, onSocket);
  });

  it('a subscriber hears a watched user come online and go offline; a non-subscriber and the user’s own tabs hear nothing', async () => {
    const pia = await register(call, uniqueName('pia'));
    const bystander = await register(call, uniqueName('by'));
    const bySocket = await connectReady(server, bystander);
    expect(await subscribe(observerSocket, [pia.user.id])).toEqual([]);

    const tab1 = await connectReady(server, pia);
    const online = await nextEvent(observerSocket, 'presence:changed', cameOnline(pia.user.id));
    expect(sortedKeys(online)).toEqual(['offline', 'online']);
    expect(online).toEqual({ online: [userOf(pia)], offline: [] });
    for (const u of online.online) expectUser(u);
    expect(await subscribe(observerSocket, [pia.user.id])).toEqual([pia.user.id]);

    // A second tab: she was online already, nobody is told again; her tabs are never told about herself.
    const tab2 = await connectReady(server, pia);
    const first = await presenceMarker(server, observerSocket, [pia.user.id]);
    await expectNoneBy(observerSocket, first.marker, []);
    expect(received(observerSocket, 'presence:changed', mentions(pia.user.id))).toHaveLength(1);
    // One tab closes: she is still online.
    await closeAndSettle(server, tab1);
    const second = await presenceMarker(server, observerSocket, [pia.user.id]);
    await expectNoneBy(observerSocket, second.marker, [['presence:changed', wentOffline(pia.user.id)]]);
    expect(await onlineNow()).toContain(pia.user.id);

    // The last one closes: the subscriber hears it, once.
    await closeAndSettle(server, tab2);
    const offline = await nextEvent(observerSocket, 'presence:changed', wentOffline(pia.user.id));
    expect(offline.online).toEqual([]);
    expect(offline.offline).toHaveLength(1);
    expect(sortedKeys(offline.offline[0]!)).toEqual(['at', 'userId']);
    expect(offline.offline[0]!.at).toMatch(ISO);
    expect(await onlineNow()).not.toContain(pia.user.id);

    // The bystander (connected all along, subscribed to nobody) got no presence at all; pia's tabs neither.
    const byMarker = await presenceMarker(server, bySocket);
    await expectNoneBy(bySocket, byMarker.marker, [['presence:changed', mentions(pia.user.id)]]);
    for (const tab of [tab1, tab2]) expect(received(tab, 'presence:changed')).toEqual([]);
    for (const m of [first, second, byMarker]) await closeAndSettle(server, m.socket);
    await closeAndSettle(server, bySocket);
  });

  it('each subscription replaces the previous one; [] stops; a socket that goes is forgotten', async () => {
    const a = await register(call, uniqueName('ra'));
    const b = await register(call, uniqueName('rb'));
    const watcher = await register(call, uniqueName('w'));
    const wSocket = await connectReady(server, watcher);
    const hub = server.parley.ctx.presenceHub;
    const before = hub.size();
    await subscribe(wSocket, [a.user.id]);
    expect(hub.size().sockets).toBe(before.sockets + 1);
    await subscribe(wSocket, [b.user.id]);
    const aSocket = await connectReady(server, a);
    const bSocket = await connectReady(server, b);
    // b's change is the marker: a's, queued before it, would have come no later.
    await nextEvent(wSocket, 'presence:changed', cameOnline(b.user.id));
    expect(received(wSocket, 'presence:changed', mentions(a.user.id))).toEqual([]);

    await subscribe(wSocket, []);
    expect(hub.size()).toEqual(before);
    await closeAndSettle(server, bSocket);
    const m2 = await presenceMarker(server, wSocket);
    await expectNoneBy(wSocket, m2.marker, [['presence:changed', wentOffline(b.user.id)]]);

    await subscribe(wSocket, [a.user.id, b.user.id]);
    expect(hub.size().sockets).toBe(before.sockets + 1);
    await closeAndSettle(server, wSocket);
    // The disconnect took it out of the hub.
    await closeAndSettle(server, m2.socket);
    await closeAndSettle(server, aSocket);
    expect(hub.size()).toEqual(before);
  });

  it('two sessions of one user count as one person', async () => {
    const name = uniqueName('two');
    const s1 = await register(call, name);
    const login = await call('POST', '/api/auth/login', {
      body: { username: name, password: 'correct-horse-9' },
    });
    expectStatusOf(login, 200);
    const s2: Session = login.body;
    await subscribe(observerSocket, [s1.user.id]);
    const [a, b] = await Promise.all([connectReady(server, s1), connectReady(server, s2)]);
    await nextEvent(observerSocket, 'presence:changed', cameOnline(s1.user.id));
    const { socket, marker } = await presenceMarker(server, observerSocket, [s1.user.id]);
    await expectNoneBy(observerSocket, marker, []);
    expect(received(observerSocket, 'presence:changed', mentions(s1.user.id))).toHaveLength(1);
    await closeAndSettle(server, a);
    expect(await onlineNow()).toContain(s1.user.id);
    await closeAndSettle(server, b);
    await nextEvent(observerSocket, 'presence:changed', wentOffline(s1.user.id));
    expect(await onlineNow()).not.toContain(s1.user.id);
    await closeAndSettle(server, socket);
  });

  it('a refused handshake shows nobody online', async () => {
    const gone = await register(call, uniqueName('gone'));
    expectStatusOf(await call('POST', '/api/auth/logout', { token: gone.accessToken, body: {} }), 204);
    await subscribe(observerSocket, [gone.user.id]);
    const err = await expectHandshakeRefused(server, { auth: { token: gone.accessToken } });
    expect(err.message).toBe('UNAUTHORIZED');
    const { socket, marker } = await presenceMarker(server, observerSocket, [gone.user.id]);
    await expectNoneBy(observerSocket, marker, [['presence:changed', mentions(gone.user.id)]]);
    expect(await onlineNow()).not.toContain(gone.user.id);
    await closeAndSettle(server, socket);
  });

  it('presence:list and room:join sent at once after connecting already count the caller as online', async () => {
    for (let i = 0; i < 5; i++) {
      const s = await register(call, uniqueName('eager'));
      const room = await createRoom(call, observer);
      // No waiting for the server's set-up: the first packets go out with the handshake.
      const socket = rawSocket(server, { auth: { token: s.accessToken } });
      const [list, join, sub] = await Promise.all([
        emitRaw(socket, 'presence:list', [{ limit: 200 }]),
        emitRaw(socket, 'room:join', [{ roomId: room.id }]),
        emitRaw(socket, 'presence:subscribe', [{ userIds: [s.user.id, observer.user.id] }]),
      ]);
      expect(expectOk('presence:list', list).users.map((u) => u.id)).toContain(s.user.id);
      expect(expectOk('room:join', join).online.map((u) => u.id)).toContain(s.user.id);
      expect(expectOk('presence:subscribe', sub).online).toEqual([s.user.id, observer.user.id]);
      socket.disconnect();
    }
  });
});

describe('presence:changed batching', () => {
  /** A server of its own with the given batch window, a watcher socket, and users to watch. */
  async function setup(batchMs: number, users: number) {
    const s = await startTestServer({ presenceBatchMs: batchMs });
    const c = client(s.url);
    const watcher = await register(c, uniqueName('w'));
    const socket = await connectReady(s, watcher);
    const watched = await Promise.all(Array.from({ length: users }, () => register(c, uniqueName('u'))));
    await subscribe(
      socket,
      watched.map((u) => u.user.id),
    );
    return { s, c, socket, watched };
  }

  it('changes within one window arrive as ONE event (default PRESENCE_BATCH_MS, 1000 ms)', async () => {
    const { s, socket, watched } = await setup(1000, 5);
    try {
      const sockets = await Promise.all(watched.map((u) => connectReady(s, u)));
      const ev = await nextEvent(socket, 'presence:changed', () => true, 5_000);
      expect(ev.online.map((u) => u.id).sort()).toEqual(watched.map((u) => u.user.id).sort());
      expect(ev.offline).toEqual([]);
      // The next batch (these users going) is another event: there were exactly two.
      for (const x of sockets) x.disconnect();
      const gone = await nextEvent(socket, 'presence:changed', () => true, 5_000);
      expect(gone.offline.map((o) => o.userId).sort()).toEqual(watched.map((u) => u.user.id).sort());
      expect(received(socket, 'presence:changed')).toHaveLength(2);
    } finally {
      await s.close();
    }
  });

  it('a socket gets at most one presence:changed per PRESENCE_BATCH_MS', { timeout: 20_000 }, async () => {
    const batchMs = 250;
    const { s, socket, watched } = await setup(batchMs, 3);
    try {
      const times: number[] = [];
      socket.on('presence:changed', () => times.push(Date.now()));
      // Keep the watched users coming and going for ~1.5 s: changes are due all the time.
      const end = Date.now() + 1_500;
      let i = 0;
      while (Date.now() < end) {
        const u = watched[i++ % watched.length]!;
        await closeAndSettle(s, await connectReady(s, u));
      }
      await waitFor(() => times.length >= 3, 'three batches');
      // The server sends them >= batchMs apart; the client's clock sees them within a few ms of that.
      for (let k = 1; k < times.length; k++)
        expect(times[k]! - times[k - 1]!).toBeGreaterThanOrEqual(batchMs - 30);
    } finally {
      await s.close();
    }
  });

  it('an online and an offline of one user within a window collapse to the final state', async () => {
    const { s, socket, watched } = await setup(1000, 2);
    const [flash, stays] = watched as [Session, Session];
    try {
      // Both come online, flash leaves again at once: one event, stays online, flash only as offline.
      const staysSocket = await connectReady(s, stays);
      await closeAndSettle(s, await connectReady(s, flash));
      const ev = await nextEvent(socket, 'presence:changed', () => true, 5_000);
      expect(ev.online.map((u) => u.id)).toEqual([stays.user.id]);
      expect(ev.offline.map((o) => o.userId)).toEqual([flash.user.id]);
      await closeAndSettle(s, staysSocket);
      await nextEvent(socket, 'presence:changed', wentOffline(stays.user.id), 5_000);
      expect(received(socket, 'presence:changed')).toHaveLength(2);
    } finally {
      await s.close();
    }
  });
});

describe('presence:list and GET /api/users paging', () => {
  let s: TestServer;
  let c: Call;
  let viewer: Session;
  let viewerSocket: ClientSocket;
  /** 105 guests online (members of general) and the viewer. */
  let guests: Session[];

  beforeAll(async () => {
    s = await startTestServer();
    c = client(s.url);
    viewer = await register(c, uniqueName('viewer'));
    viewerSocket = await connectReady(s, viewer);
    guests = [];
    for (let i = 0; i < 105; i++) {
      const g = await c('POST', '/api/auth/guest', { body: { username: uniqueName('g') } });
      expectStatusOf(g, 201);
      guests.push(g.body);
    }
    for (let i = 0; i < guests.length; i += 15)
      await Promise.all(guests.slice(i, i + 15).map((g) => connectReady(s, g)));
  }, 60_000);

  afterAll(async () => {
    await s?.close();
  });

  const byName = (a: User, b: User) => (a.username.toLowerCase() < b.username.toLowerCase() ? -1 : 1);

  /** Every page of presence:list (socket) or GET /api/users (REST), with `limit`. */
  async function allPages(
    page: (after: string | undefined) => Promise<{ users: User[]; hasMore: boolean; next: string | null }>,
  ) {
    const pages: { users: User[]; hasMore: boolean; next: string | null }[] = [];
    let after: string | undefined;
    for (;;) {
      const p = await page(after);
      pages.push(p);
      if (!p.hasMore) break;
      expect(typeof p.next).toBe('string');
      after = p.next!;
    }
    return pages;
  }

  it('presence:list: default 100, then the rest; in username order; no payload still works', async () => {
    const first = expectOk('presence:list', await emitRaw(viewerSocket, 'presence:list', []));
    expect(first.users).toHaveLength(100);
    expect(first.hasMore).toBe(true);
    expect(first.next).toEqual(expect.any(String));
    const rest = expectOk(
      'presence:list',
      await emitAck(viewerSocket, 'presence:list', { after: first.next! }),
    );
    expect(rest).toMatchObject({ hasMore: false, next: null });
    const all = [...first.users, ...rest.users];
    expect(all).toHaveLength(106);
    expect(new Set(all.map((u) => u.id)).size).toBe(106);
    expect(all).toEqual([...all].sort(byName));
    expect(all.map((u) => u.id).sort()).toEqual([viewer, ...guests].map((x) => x.user.id).sort());
  });

  it('limit and after page presence:list and GET /api/users?online=true the same way', async () => {
    const viaSocket = await allPages(async (after) =>
      expectOk(
        'presence:list',
        await emitAck(viewerSocket, 'presence:list', { limit: 40, ...(after ? { after } : {}) }),
      ),
    );
    const viaRest = await allPages(async (after) => {
      const res = await c('GET', `/api/users?online=true&limit=40${after ? `&after=${after}` : ''}`, {
        token: viewer.accessToken,
      });
      expectStatusOf(res, 200);
      return res.body;
    });
    expect(viaSocket.map((p) => p.users.length)).toEqual([40, 40, 26]);
    expect(viaRest).toEqual(viaSocket);
    expect(viaSocket.map((p) => p.hasMore)).toEqual([true, true, false]);
    expect(viaSocket[2]!.next).toBeNull();
  });

  it('a user going offline between two pages is neither repeated nor makes another one skipped', async () => {
    const first = expectOk('presence:list', await emitAck(viewerSocket, 'presence:list', { limit: 10 }));
    const leaving = first.users.slice(0, 9).find((u) => u.id !== viewer.user.id)!;
    const leavingSocket = [...s.parley.io.sockets.sockets.values()].find(
      (x) => x.data.userId === leaving.id,
    )!;
    leavingSocket.disconnect(true);
    await waitFor(async () => !(await s.parley.ctx.presence.isOnline(leaving.id)), 'offline');
    const rest = await allPages(async (after) =>
      expectOk(
        'presence:list',
        await emitAck(viewerSocket, 'presence:list', { limit: 50, after: after ?? first.next! }),
      ),
    );
    const ids = [...first.users, ...rest.flatMap((p) => p.users)].map((u) => u.id);
    expect(ids).toHaveLength(106);
    expect(new Set(ids).size).toBe(106);
  });

  it('refuses a limit outside 1–200 and a cursor no page handed out', async () => {
    for (const limit of [0, 201, 1.5, '10'])
      expectValidation(await emitRaw(viewerSocket, 'presence:list', [{ limit }]), 'limit');
    for (const after of ['', 'has space', Buffer.from('nope').toString('base64url'), 5])
      expectFail(await emitRaw(viewerSocket, 'presence:list', [{ after }]), 'VALIDATION_ERROR');
    expectFail(await emitRaw(viewerSocket, 'presence:list', [{ extra: 1 }]), 'VALIDATION_ERROR');
    for (const q of [
      'limit=0',
      'limit=201',
      'after=' + Buffer.from('nope').toString('base64url'),
      'after=a%20b',
    ]) {
      const res = await c('GET', `/api/users?online=true&${q}`, { token: viewer.accessToken });
      expectStatusOf(res, 400);
      expect(res.body.error.code).toBe('VALIDATION_ERROR');
    }
    expectStatusOf(await c('GET', '/api/users?online=true'), 401);
  });

  it('GET /api/users?q= pages by name too, with and without online=true', async () => {
    const prefix = guests[0]!.user.username.slice(0, 2);
    const expected = (await c('GET', `/api/users?q=${prefix}&limit=200`, { token: viewer.accessToken })).body;
    expect(expected.hasMore).toBe(false);
    const paged = await allPages(
      async (after) =>
        (
          await c('GET', `/api/users?q=${prefix}&limit=7${after ? `&after=${after}` : ''}`, {
            token: viewer.accessToken,
          })
        ).body,
    );
    expect(paged.flatMap((p) => p.users)).toEqual(expected.users);
    const onlinePaged = await allPages(
      async (after) =>
        (
          await c('GET', `/api/users?q=${prefix}&online=true&limit=7${after ? `&after=${after}` : ''}`, {
            token: viewer.accessToken,
          })
        ).body,
    );
    const online = new Set(await s.parley.ctx.presence.filterOnline(expected.users.map((u: User) => u.id)));
    expect(onlinePaged.flatMap((p) => p.users).map((u) => u.id)).toEqual(
      expected.users.map((u: User) => u.id).filter((id: string) => online.has(id)),
    );
  });

  it('room:join answers at most 100 online members', async () => {
    const { online } = expectOk(
      'room:join',
      await emitAck(viewerSocket, 'room:join', { roomId: await generalRoomId(c, viewer) }),
    );
    expect(online).toHaveLength(100);
    expect(online).toEqual([...online].sort(byName));
  });
});

describe('typing', () => {
  /** tom types in `room` with two tabs; mia is a member with two tabs; nico is connected but not a member. */
  let tom: Session, mia: Session, nico: Session;
  let tomTab1: ClientSocket, tomTab2: ClientSocket, miaTab1: ClientSocket, miaTab2: ClientSocket;
  let nicoSocket: ClientSocket;
  let room: Room;

  /** A message in the room (every member's socket gets it after whatever came before). */
  async function roomMarker(by: Session = mia) {
    const m = await postMessage(call, by, room.id, `marker ${uniqueName('m')}`);
    return { name: 'message:new' as const, where: (p: { id: string }) => p.id === m.id };
  }

  async function generalMarker() {
    const m = await postMessage(call, mia, generalId, `marker ${uniqueName('m')}`);
    return { name: 'message:new' as const, where: (p: { id: string }) => p.id === m.id };
  }

  const typingOf =
    (s: Session, isTyping?: boolean) => (p: { roomId: string; user: User; isTyping: boolean }) =>
      p.roomId === room.id && p.user.id === s.user.id && (isTyping === undefined || p.isTyping === isTyping);

  beforeAll(async () => {
    tom = await register(call, uniqueName('tom'));
    mia = await register(call, uniqueName('mia'));
    nico = await register(call, uniqueName('nico'));
    room = await createRoom(call, mia);
    await joinRoom(call, tom, room.id);
    [tomTab1, tomTab2, miaTab1, miaTab2, nicoSocket] = await Promise.all([
      connectReady(server, tom),
      connectReady(server, tom),
      connectReady(server, mia),
      connectReady(server, mia),
      connectReady(server, nico),
    ]);
  });

  it('is relayed to the room’s other members, not to the typist’s other tab, not to non-members', async () => {
    const ack = await emitAck(tomTab1, 'typing', { roomId: room.id, isTyping: true });
    expect(ack).toEqual({ ok: true, data: {} });
    for (const s of [miaTab1, miaTab2]) {
      const t = await nextEvent(s, 'typing', typingOf(tom, true));
      expect(sortedKeys(t)).toEqual(['isTyping', 'roomId', 'user']);
      expect(t).toEqual({ roomId: room.id, user: userOf(tom), isTyping: true });
    }
    // Stopping is relayed at once.
    expect(await emitAck(tomTab1, 'typing', { roomId: room.id, isTyping: false })).toEqual({
      ok: true,
      data: {},
    });
    for (const s of [miaTab1, miaTab2]) await nextEvent(s, 'typing', typingOf(tom, false));
    const marker = await roomMarker();
    await expectNoneBy(tomTab2, marker, [['typing', () => true]]);
    await expectNoneBy(tomTab1, marker, [['typing', () => true]]);
    await expectNoneBy(nicoSocket, await generalMarker(), [['typing', () => true]]);
  });

  it('a stop with nothing showing is not relayed; typing may be sent without a callback', async () => {
    const before = received(miaTab1, 'typing', typingOf(tom)).length;
    expect(await emitAck(tomTab2, 'typing', { roomId: room.id, isTyping: false })).toEqual({
      ok: true,
      data: {},
    });
    await expectNoneBy(miaTab1, await roomMarker(), []);
    expect(received(miaTab1, 'typing', typingOf(tom))).toHaveLength(before);
    emitNoAck(tomTab2, 'typing', { roomId: room.id, isTyping: true });
    await nextEvent(miaTab1, 'typing', typingOf(tom, true));
    emitNoAck(tomTab2, 'typing', { roomId: room.id, isTyping: false });
    await nextEvent(miaTab1, 'typing', typingOf(tom, false));
    await expectNoneBy(tomTab2, await roomMarker(), [['error', () => true]]);
  });

  it(
    'an indicator that is not refreshed is ended by the server after ~5 s',
    { timeout: 20_000 },
    async () => {
      const sentAt = Date.now();
      expectOk('typing', await emitAck(tomTab1, 'typing', { roomId: room.id, isTyping: true }));
      await nextEvent(miaTab1, 'typing', typingOf(tom, true));
      const stop = await nextEvent(miaTab1, 'typing', typingOf(tom, false), TYPING_TTL_MS + 3_000);
      const elapsed = Date.now() - sentAt;
      expect(stop).toEqual({ roomId: room.id, user: userOf(tom), isTyping: false });
      expect(elapsed).toBeGreaterThanOrEqual(TYPING_TTL_MS - 100);
      expect(elapsed).toBeLessThan(TYPING_TTL_MS + 3_000);
      // mia's other tab hears the stop too, tom's tabs do not.
      await nextEvent(miaTab2, 'typing', typingOf(tom, false));
      const marker = await roomMarker();
      await expectNoneBy(tomTab1, marker, [['typing', () => true]]);
      await expectNoneBy(tomTab2, marker, [['typing', () => true]]);
    },
  );

  it('ends when the typist’s last socket goes away', async () => {
    const ben = await register(call, uniqueName('ben'));
    await joinRoom(call, ben, room.id);
    const benSocket = await connectReady(server, ben);
    expectOk('typing', await emitAck(benSocket, 'typing', { roomId: room.id, isTyping: true }));
    await nextEvent(miaTab1, 'typing', typingOf(ben, true));
    await subscribe(miaTab1, [ben.user.id]);
    await closeAndSettle(server, benSocket);
    await nextEvent(miaTab1, 'typing', typingOf(ben, false));
    await nextEvent(miaTab1, 'presence:changed', wentOffline(ben.user.id));
  });

  it('a public room not joined is FORBIDDEN; a private room of others is NOT_FOUND; nobody hears it', async () => {
    expectFail(await emitAck(nicoSocket, 'typing', { roomId: room.id, isTyping: true }), 'FORBIDDEN');
    const secret = await createRoom(call, mia, 'private');
    expectFail(await emitAck(nicoSocket, 'typing', { roomId: secret.id, isTyping: true }), 'NOT_FOUND');
    emitNoAck(nicoSocket, 'typing', { roomId: room.id, isTyping: true });
    expect((await nextEvent(nicoSocket, 'error')).error.code).toBe('FORBIDDEN');
    const nicoTyping = (p: { user: User }) => p.user.id === nico.user.id;
    await expectNoneBy(miaTab1, await roomMarker(), [['typing', nicoTyping]]);
  });

  it('after leaving the room, typing there is FORBIDDEN at once', async () => {
    const zoe = await register(call, uniqueName('zoe'));
    await joinRoom(call, zoe, room.id);
    const zoeSocket = await connectReady(server, zoe);
    expectOk('typing', await emitAck(zoeSocket, 'typing', { roomId: room.id, isTyping: false }));
    expect(await emitAck(zoeSocket, 'room:leave', { roomId: room.id })).toEqual({ ok: true, data: {} });
    expectFail(await emitAck(zoeSocket, 'typing', { roomId: room.id, isTyping: true }), 'FORBIDDEN');
    await expectNoneBy(miaTab1, await roomMarker(), [['typing', (p) => p.user.id === zoe.user.id]]);
  });
});
