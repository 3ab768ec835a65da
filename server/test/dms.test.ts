import { RoomSchema, type Room, type Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type Res,
  type TestServer,
} from '../src/test-support/server.js';
import {
  closeAllSockets,
  connectSocket,
  expectNoEventBeforeMarker,
  nextEvent,
  receivedBeforeMarker,
  type ClientSocket,
} from './helpers/sockets.js';
import { MISSING_ID, expectError, expectStatus, userOf } from './helpers/http.js';

/* Direct rooms: one per pair of users, visible to those two only, and not a room anyone manages. */

let server: TestServer;
let call: Call;
let alice: Session, bob: Session, carol: Session, dave: Session;
let aliceSocket: ClientSocket, bobSocket: ClientSocket, daveSocket: ClientSocket;
let generalId: string;

const DM_KEYS = [
  'createdAt',
  'description',
  'id',
  'isMember',
  'kind',
  'lastMessageAt',
  'memberCount',
  'mentionCount',
  'name',
  'notifications',
  'ownerId',
  'peer',
  'unreadCount',
  'updatedAt',
];

/** Exactly the contract's Room fields plus `peer`, seen by `viewer` talking to `peer`. */
function expectDm(room: any, peer: Session, expected: Partial<Room> = {}): Room {
  expect(Object.keys(room).sort()).toEqual(DM_KEYS);
  expect(() => RoomSchema.parse(room)).not.toThrow();
  expect(room).toMatchObject({
    kind: 'direct',
    ownerId: null,
    isMember: true,
    memberCount: 2,
    description: '',
    peer: userOf(peer),
    ...expected,
  });
  return room as Room;
}

async function openDm(from: Session, to: Session | string): Promise<Res> {
  const userId = typeof to === 'string' ? to : to.user.id;
  return call('POST', '/api/dms', { token: from.accessToken, body: { userId } });
}

async function listDms(s: Session): Promise<Room[]> {
  const res = await call('GET', '/api/dms', { token: s.accessToken });
  expectStatus(res, 200);
  expect(Object.keys(res.body)).toEqual(['rooms', 'hasMore', 'next']);
  expect(res.body).toMatchObject({ hasMore: false, next: null });
  return res.body.rooms;
}

async function post(s: Session, roomId: string, text: string): Promise<any> {
  const res = await call('POST', `/api/chatrooms/${roomId}/messages`, {
    token: s.accessToken,
    body: { text },
  });
  expectStatus(res, 201);
  return res.body;
}

/** A marker every socket gets: a new public room, announced to everyone. */
async function publicRoomMarker() {
  const res = await call('POST', '/api/chatrooms', {
    token: alice.accessToken,
    body: { name: uniqueName('room') },
  });
  expectStatus(res, 201);
  return { name: 'room:created' as const, where: (p: { id: string }) => p.id === res.body.id };
}

/** A marker every socket gets: a message in `general`. */
async function generalMarker() {
  const m = await post(alice, generalId, `marker ${uniqueName('m')}`);
  return { name: 'message:new' as const, where: (p: { id: string }) => p.id === m.id };
}

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  alice = await register(call, uniqueName('alice'));
  bob = await register(call, uniqueName('bob'));
  carol = await register(call, uniqueName('carol'));
  dave = await register(call, uniqueName('dave'));
  aliceSocket = await connectSocket(server, alice);
  bobSocket = await connectSocket(server, bob);
  daveSocket = await connectSocket(server, dave);
  const list = await call('GET', '/api/chatrooms', { token: alice.accessToken });
  generalId = list.body.rooms.find((r: Room) => r.name === 'general').id;
});

afterAll(async () => {
  closeAllSockets();
  await server?.close();
});

describe('authentication', () => {
  it('answers 401 to GET and POST /api/dms without a token', async () => {
    expectError(await call('GET', '/api/dms'), 401, 'UNAUTHORIZED');
    expectError(await call('POST', '/api/dms', { body: { userId: bob.user.id } }), 401, 'UNAUTHORIZED');
    expectError(
      await call('POST', '/api/dms', { body: { userId: bob.user.id }, token: 'bogus' }),
      401,
      'UNAUTHORIZED',
    );
    expect(await listDms(bob)).toEqual([]);
  });
});

describe('POST /api/dms', () => {
  it('opens one direct room per pair, whoever opens it and however often', async () => {
    const first = await openDm(alice, bob);
    expectStatus(first, 200);
    const dm = expectDm(first.body, bob, { name: bob.user.username, unreadCount: 0, lastMessageAt: null });

    const again = await openDm(alice, bob);
    expectDm(again.body, bob, { id: dm.id });
    const fromBob = await openDm(bob, alice);
    expectDm(fromBob.body, alice, { id: dm.id, name: alice.user.username });

    // Both participants hear of it, each with the other as peer; nobody else does.
    expectDm(await nextEvent(aliceSocket, 'room:created', (r) => r.id === dm.id), bob);
    expectDm(await nextEvent(bobSocket, 'room:created', (r) => r.id === dm.id), alice);
    const marker = await publicRoomMarker();
    await expectNoEventBeforeMarker(daveSocket, 'room:created', (r) => r.id === dm.id, marker);
    // Opening it again announced nothing a second time.
    expect(await receivedBeforeMarker(bobSocket, 'room:created', (r) => r.id === dm.id, marker)).toHaveLength(
      1,
    );
  });

  it('opening a DM writes nothing into its history', async () => {
    const dm = (await openDm(carol, dave)).body as Room;
    const res = await call('GET', `/api/chatrooms/${dm.id}/messages`, { token: carol.accessToken });
    expect(res.body).toEqual({ messages: [], hasMore: false });
    const members = await call('GET', `/api/chatrooms/${dm.id}/members`, { token: dave.accessToken });
    expect(members.body.members.map((m: any) => [m.user.id, m.role]).sort()).toEqual(
      [
        [carol.user.id, 'member'],
        [dave.user.id, 'member'],
      ].sort(),
    );
  });

  it('a DM with oneself is a note-to-self', async () => {
    const res = await openDm(carol, carol);
    expectStatus(res, 200);
    expectDm(res.body, carol, { memberCount: 1 });
    expect((await openDm(carol, carol)).body.id).toBe(res.body.id);
  });

  it('answers 404 for a user who does not exist', async () => {
    for (const id of ['999999', MISSING_ID]) expectError(await openDm(alice, id), 404, 'NOT_FOUND');
  });

  it.each([
    ['an empty body', {}],
    ['a numeric userId', { userId: 2 }],
    ['a userId that is not an id', { userId: 'bob' }],
    ['an unknown field', { userId: '2', text: 'hi' }],
  ])('answers 400 VALIDATION_ERROR to %s', async (_label, body) => {
    const res = await call('POST', '/api/dms', { token: alice.accessToken, body });
    expectError(res, 400, 'VALIDATION_ERROR');
  });
});

describe('GET /api/dms', () => {
  it('lists the caller’s direct rooms with their peer, and only theirs', async () => {
    const ab = (await openDm(alice, bob)).body as Room;
    const ac = (await openDm(alice, carol)).body as Room;
    const forAlice = await listDms(alice);
    expect(forAlice.map((r) => r.id).sort()).toEqual([ab.id, ac.id].sort());
    expectDm(
      forAlice.find((r) => r.id === ab.id),
      bob,
    );
    expectDm(
      forAlice.find((r) => r.id === ac.id),
      carol,
    );
    const forBob = await listDms(bob);
    expect(forBob.map((r) => r.id)).toContain(ab.id);
    expect(forBob.map((r) => r.id)).not.toContain(ac.id);
    expectDm(
      forBob.find((r) => r.id === ab.id),
      alice,
    );
    expect((await listDms(dave)).map((r) => r.id)).not.toContain(ab.id);
    // Direct rooms are not listed among the chatrooms.
    const rooms = (await call('GET', '/api/chatrooms', { token: alice.accessToken })).body.rooms as Room[];
    expect(rooms.some((r) => r.kind === 'direct')).toBe(false);
  });

  it('lists the most recently active conversation first', async () => {
    const eve = await register(call, uniqueName('eve'));
    const quiet = (await openDm(eve, alice)).body as Room;
    const busy = (await openDm(eve, bob)).body as Room;
    const quieter = (await openDm(eve, carol)).body as Room;
    await post(eve, quiet.id, 'first');
    await post(eve, busy.id, 'second');
    const ids = (await listDms(eve)).map((r) => r.id);
    expect(ids.slice(0, 2)).toEqual([busy.id, quiet.id]);
    expect(ids).toContain(quieter.id);
    expect(ids.at(-1)).toBe(quieter.id);
  });
});

describe('messages in a DM', () => {
  it('reach the peer, count as unread for them, and stay hidden from everyone else', async () => {
    const dm = (await openDm(alice, bob)).body as Room;
    const m = await post(alice, dm.id, 'psst');
    expect(await nextEvent(bobSocket, 'message:new', (p) => p.id === m.id)).toEqual(m);
    expect((await call('GET', `/api/chatrooms/${dm.id}`, { token: bob.accessToken })).body.unreadCount).toBe(
      1,
    );
    expect((await listDms(bob)).find((r) => r.id === dm.id)!.lastMessageAt).toBe(m.createdAt);
    await expectNoEventBeforeMarker(daveSocket, 'message:new', (p) => p.id === m.id, await generalMarker());
  });

  it('either participant edits and deletes only their own', async () => {
    const dm = (await openDm(alice, bob)).body as Room;
    const m = await post(alice, dm.id, 'mine');
    expectError(
      await call('PATCH', `/api/messages/${m.id}`, { token: bob.accessToken, body: { text: 'yours?' } }),
      403,
      'FORBIDDEN',
    );
    expectError(await call('DELETE', `/api/messages/${m.id}`, { token: bob.accessToken }), 403, 'FORBIDDEN');
    expectStatus(await call('DELETE', `/api/messages/${m.id}`, { token: alice.accessToken }), 204);
    await nextEvent(bobSocket, 'message:deleted', (p) => p.id === m.id);
  });
});

describe('outsiders', () => {
  it('get 404 for everything about a DM, exactly as for a room that does not exist', async () => {
    const dm = (await openDm(alice, bob)).body as Room;
    const m = await post(alice, dm.id, 'between us');
    const rows: [string, string, unknown?][] = [
      ['GET', `/api/chatrooms/${dm.id}`],
      ['PATCH', `/api/chatrooms/${dm.id}`, { name: 'mine' }],
      ['DELETE', `/api/chatrooms/${dm.id}`],
      ['GET', `/api/chatrooms/${dm.id}/members`],
      ['POST', `/api/chatrooms/${dm.id}/members`, {}],
      ['DELETE', `/api/chatrooms/${dm.id}/members/${bob.user.id}`],
      ['GET', `/api/chatrooms/${dm.id}/messages`],
      ['POST', `/api/chatrooms/${dm.id}/messages`, { text: 'me too' }],
    ];
    for (const [method, path, body] of rows) {
      const hidden = await call(method, path, { token: dave.accessToken, body });
      const missing = await call(method, path.replace(dm.id, MISSING_ID), { token: dave.accessToken, body });
      expect([method, path, hidden.status]).toEqual([method, path, 404]);
      expect(hidden.body).toEqual(missing.body);
    }
    for (const method of ['PATCH', 'DELETE']) {
      const body = method === 'PATCH' ? { text: 'x' } : undefined;
      const hidden = await call(method, `/api/messages/${m.id}`, { token: dave.accessToken, body });
      const missing = await call(method, `/api/messages/${MISSING_ID}`, { token: dave.accessToken, body });
      expectError(hidden, 404, 'NOT_FOUND');
      expect(hidden.body).toEqual(missing.body);
    }
    const history = await call('GET', `/api/chatrooms/${dm.id}/messages`, { token: bob.accessToken });
    expect(history.body.messages.find((x: any) => x.id === m.id)).toMatchObject({ text: 'between us' });
  });
});

describe('a DM is not a managed room', () => {
  it('cannot be left, kicked from, renamed, deleted or added to (403)', async () => {
    const dm = (await openDm(alice, bob)).body as Room;
    const tries: [string, string, unknown?][] = [
      ['DELETE', `/api/chatrooms/${dm.id}/members/${alice.user.id}`],
      ['DELETE', `/api/chatrooms/${dm.id}/members/${bob.user.id}`],
      ['PATCH', `/api/chatrooms/${dm.id}`, { name: uniqueName('renamed') }],
      ['PATCH', `/api/chatrooms/${dm.id}`, { kind: 'public' }],
      ['DELETE', `/api/chatrooms/${dm.id}`],
      ['POST', `/api/chatrooms/${dm.id}/members`, { userId: carol.user.id }],
    ];
    for (const [method, path, body] of tries) {
      const res = await call(method, path, { token: alice.accessToken, body });
      expect([method, path, res.status]).toEqual([method, path, 403]);
      expect(res.body.error.code).toBe('FORBIDDEN');
    }
    expectDm((await call('GET', `/api/chatrooms/${dm.id}`, { token: alice.accessToken })).body, bob, {
      id: dm.id,
      memberCount: 2,
    });
  });
});
