import type { Room, Session, User } from '@parley/protocol';
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
  emitRaw,
  rawSocket,
  generalRoomId,
  joinRoom,
  postMessage,
  sortedKeys,
  userOf,
} from './helpers/realtime.js';
import { closeAllSockets, emitAck, nextEvent, received, type ClientSocket } from './helpers/sockets.js';
import { ISO } from './helpers/http.js';

/*
 * Who is online (presence:online / presence:offline, presence:list, GET /api/users?online=true) with several tabs
 * per user, and typing indicators: relayed to the room but never to the typist's own tabs, ended by the server
 * when not refreshed, and when the typist goes away.
 */

let server: TestServer;
let call: Call;
let generalId: string;
/** Watches everything; stays connected for the whole file. */
let observer: Session;
let observerSocket: ClientSocket;

beforeAll(async () => {
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

/** A marker for `socket`: someone else connects for the first time (everyone hears `presence:online`). */
async function presenceMarker() {
  const s = await register(call, uniqueName('mark'));
  const socket = await connectReady(server, s);
  return {
    socket,
    marker: { name: 'presence:online' as const, where: (p: { user: User }) => p.user.id === s.user.id },
  };
}

async function onlineViaList(socket: ClientSocket): Promise<string[]> {
  const { users } = expectOk('presence:list', await emitAck(socket, 'presence:list', {}));
  for (const u of users) expectUser(u);
  return users.map((u) => u.id);
}

async function onlineViaRest(s: Session): Promise<string[]> {
  const res = await call('GET', '/api/users?online=true&limit=100', { token: s.accessToken });
  expectStatusOf(res, 200);
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

describe('presence', () => {
  it('two tabs: presence:online for the first socket only, presence:offline after the last one closes', async () => {
    const pia = await register(call, uniqueName('pia'));
    const isPia = (p: { user: User }) => p.user.id === pia.user.id;
    const piaGone = (p: { userId: string }) => p.userId === pia.user.id;
    expect(await onlineNow()).not.toContain(pia.user.id);

    const tab1 = await connectReady(server, pia);
    const online = await nextEvent(observerSocket, 'presence:online', isPia);
    expect(sortedKeys(online)).toEqual(['at', 'user']);
    expect(online.user).toEqual(userOf(pia));
    expect(online.at).toMatch(ISO);
    // "Everyone": her own socket hears it too.
    await nextEvent(tab1, 'presence:online', isPia);
    expect(await onlineNow()).toContain(pia.user.id);

    // The second tab: she was online already, nobody is told again.
    const tab2 = await connectReady(server, pia);
    const first = await presenceMarker();
    await expectNoneBy(observerSocket, first.marker, []);
    expect(received(observerSocket, 'presence:online', isPia)).toHaveLength(1);
    expect(received(tab1, 'presence:online', isPia)).toHaveLength(1);
    expect(received(tab2, 'presence:online', isPia)).toHaveLength(0);
    expect((await onlineNow()).filter((id) => id === pia.user.id)).toHaveLength(1);

    // One tab closes: she is still online.
    await closeAndSettle(server, tab1);
    const second = await presenceMarker();
    await expectNoneBy(observerSocket, second.marker, [['presence:offline', piaGone]]);
    await expectNoneBy(tab2, second.marker, [['presence:offline', piaGone]]);
    expect(await onlineNow()).toContain(pia.user.id);

    // The last one closes: now everyone hears it, once.
    await closeAndSettle(server, tab2);
    const offline = await nextEvent(observerSocket, 'presence:offline', piaGone);
    expect(sortedKeys(offline)).toEqual(['at', 'userId']);
    expect(offline.at).toMatch(ISO);
    expect(Date.parse(offline.at)).toBeGreaterThanOrEqual(Date.parse(online.at));
    expect(await onlineNow()).not.toContain(pia.user.id);
    const third = await presenceMarker();
    await expectNoneBy(observerSocket, third.marker, []);
    expect(received(observerSocket, 'presence:offline', piaGone)).toHaveLength(1);

    // Back again: online again.
    await connectReady(server, pia);
    await nextEvent(observerSocket, 'presence:online', isPia);
    expect(received(observerSocket, 'presence:online', isPia)).toHaveLength(2);
    for (const m of [first, second, third]) await closeAndSettle(server, m.socket);
  });

  it('two sessions of one user count as one person', async () => {
    const name = uniqueName('two');
    const s1 = await register(call, name);
    const login = await call('POST', '/api/auth/login', {
      body: { username: name, password: 'correct-horse-9' },
    });
    expectStatusOf(login, 200);
    const s2: Session = login.body;
    const isHer = (p: { user: User }) => p.user.id === s1.user.id;
    const a = await connectReady(server, s1);
    const b = await connectReady(server, s2);
    await nextEvent(observerSocket, 'presence:online', isHer);
    const { socket, marker } = await presenceMarker();
    await expectNoneBy(observerSocket, marker, []);
    expect(received(observerSocket, 'presence:online', isHer)).toHaveLength(1);
    await closeAndSettle(server, a);
    expect(await onlineNow()).toContain(s1.user.id);
    await closeAndSettle(server, b);
    await nextEvent(observerSocket, 'presence:offline', (p) => p.userId === s1.user.id);
    expect(await onlineNow()).not.toContain(s1.user.id);
    await closeAndSettle(server, socket);
  });

  it('presence:list and GET /api/users?online=true agree: exactly who is connected now, guests included', async () => {
    const regs = [await register(call, uniqueName('on')), await register(call, uniqueName('on'))];
    const g = await call('POST', '/api/auth/guest', { body: { username: uniqueName('guest') } });
    expectStatusOf(g, 201);
    const guest: Session = g.body;
    const offlineUser = await register(call, uniqueName('off'));
    const sockets = await Promise.all([...regs, guest].map((s) => connectReady(server, s)));
    const ids = await onlineNow();
    for (const s of [...regs, guest, observer]) expect(ids).toContain(s.user.id);
    expect(ids).not.toContain(offlineUser.user.id);
    // Exactly the users the server holds sockets for.
    const connected = new Set([...server.parley.io.sockets.sockets.values()].map((s) => s.data.userId));
    expect([...ids].sort()).toEqual([...connected].sort());
    // The guest appears with isGuest.
    const { users } = expectOk('presence:list', await emitAck(observerSocket, 'presence:list', {}));
    expect(users.find((u) => u.id === guest.user.id)).toEqual(userOf(guest));
    expect(users.find((u) => u.id === guest.user.id)!.isGuest).toBe(true);
    for (const s of sockets) await closeAndSettle(server, s);
    const after = await onlineNow();
    for (const s of [...regs, guest]) expect(after).not.toContain(s.user.id);
  });

  it('presence:list and room:join sent at once after connecting already count the caller as online', async () => {
    for (let i = 0; i < 5; i++) {
      const s = await register(call, uniqueName('eager'));
      const room = await createRoom(call, observer);
      // No waiting for the server's set-up: the first packets go out with the handshake.
      const socket = rawSocket(server, { auth: { token: s.accessToken } });
      const [list, join] = await Promise.all([
        emitRaw(socket, 'presence:list', [{}]),
        emitRaw(socket, 'room:join', [{ roomId: room.id }]),
      ]);
      expect(expectOk('presence:list', list).users.map((u) => u.id)).toContain(s.user.id);
      expect(expectOk('room:join', join).online.map((u) => u.id)).toContain(s.user.id);
      socket.disconnect();
    }
  });

  it('a refused handshake shows nobody online', async () => {
    const gone = await register(call, uniqueName('gone'));
    expectStatusOf(await call('POST', '/api/auth/logout', { token: gone.accessToken, body: {} }), 204);
    const err = await expectHandshakeRefused(server, { auth: { token: gone.accessToken } });
    expect(err.message).toBe('UNAUTHORIZED');
    const { socket, marker } = await presenceMarker();
    await expectNoneBy(observerSocket, marker, [['presence:online', (p) => p.user.id === gone.user.id]]);
    expect(await onlineNow()).not.toContain(gone.user.id);
    await closeAndSettle(server, socket);
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
    await closeAndSettle(server, benSocket);
    await nextEvent(miaTab1, 'typing', typingOf(ben, false));
    await nextEvent(miaTab1, 'presence:offline', (p) => p.userId === ben.user.id);
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
