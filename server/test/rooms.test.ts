import { RoomSchema, type Room, type Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
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
import { ISO, MISSING_ID, expectError, expectStatus, userOf } from './helpers/http.js';
import { messageMarker, ROOM_KEYS } from './helpers/realtime.js';

/*
 * Rooms and members over real HTTP and real sockets: every contract row for /api/chatrooms and its members, what
 * the other clients hear, and that a private room never shows itself to outsiders.
 */

let server: TestServer;
let call: Call;
/** alice owns most rooms; bob and carol join them; dave is the outsider. */
let alice: Session, bob: Session, carol: Session, dave: Session, guest: Session;
let aliceSocket: ClientSocket, bobSocket: ClientSocket, carolSocket: ClientSocket, daveSocket: ClientSocket;
let generalId: string;

/** Exactly the contract's Room fields (no more, no fewer), with the right types. */
function expectRoom(room: any, expected: Partial<Room> = {}): Room {
  expect(Object.keys(room).sort()).toEqual(ROOM_KEYS);
  expect(() => RoomSchema.parse(room)).not.toThrow();
  expect(room.createdAt).toMatch(ISO);
  expect(room.updatedAt).toMatch(ISO);
  if (room.lastMessageAt !== null) expect(room.lastMessageAt).toMatch(ISO);
  expect(room).toMatchObject(expected);
  return room as Room;
}

async function createRoom(owner: Session, body: Record<string, unknown> = {}): Promise<Room> {
  const res = await call('POST', '/api/chatrooms', {
    token: owner.accessToken,
    body: { name: uniqueName('room'), ...body },
  });
  expectStatus(res, 201);
  return res.body;
}

async function join(s: Session, roomId: string): Promise<Room> {
  const res = await call('POST', `/api/chatrooms/${roomId}/members`, { token: s.accessToken, body: {} });
  expectStatus(res, 200);
  return res.body;
}

async function addTo(owner: Session, roomId: string, user: Session): Promise<Room> {
  const res = await call('POST', `/api/chatrooms/${roomId}/members`, {
    token: owner.accessToken,
    body: { userId: user.user.id },
  });
  expectStatus(res, 200);
  return res.body;
}

async function historyOf(s: Session, roomId: string): Promise<any[]> {
  const res = await call('GET', `/api/chatrooms/${roomId}/messages?limit=100`, { token: s.accessToken });
  expectStatus(res, 200);
  return res.body.messages;
}

/** Every member, on one page of the largest size (paging itself: paging.test.ts). */
async function membersOf(s: Session, roomId: string): Promise<any[]> {
  const res = await call('GET', `/api/chatrooms/${roomId}/members?limit=200`, { token: s.accessToken });
  expectStatus(res, 200);
  expect(res.body.hasMore).toBe(false);
  return res.body.members;
}

async function postMessage(s: Session, roomId: string, text: string): Promise<any> {
  const res = await call('POST', `/api/chatrooms/${roomId}/messages`, {
    token: s.accessToken,
    body: { text },
  });
  expectStatus(res, 201);
  return res.body;
}

/** A marker every socket gets: a message in `general`, where every user is a member. */
const generalMarker = () => messageMarker(call, alice, generalId);

/** A marker every socket gets: a new public room, announced to everyone. */
async function publicRoomMarker() {
  const room = await createRoom(alice);
  return { name: 'room:created' as const, where: (p: { id: string }) => p.id === room.id };
}

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  [alice, bob, carol, dave] = [
    await register(call, uniqueName('alice')),
    await register(call, uniqueName('bob')),
    await register(call, uniqueName('carol')),
    await register(call, uniqueName('dave')),
  ];
  const g = await call('POST', '/api/auth/guest', { body: { username: uniqueName('guest') } });
  expectStatus(g, 201);
  guest = g.body;
  const sockets = await Promise.all([alice, bob, carol, dave].map((s) => connectSocket(server, s)));
  [aliceSocket, bobSocket, carolSocket, daveSocket] = sockets as [
    ClientSocket,
    ClientSocket,
    ClientSocket,
    ClientSocket,
  ];
  const list = await call('GET', '/api/chatrooms', { token: alice.accessToken });
  generalId = list.body.rooms.find((r: Room) => r.name === 'general').id;
});

afterAll(async () => {
  closeAllSockets();
  await server?.close();
});

describe('authentication', () => {
  it('answers 401 to every room route without a token, or with a forged one', async () => {
    const room = await createRoom(alice);
    const rows: [string, string, unknown?][] = [
      ['GET', '/api/chatrooms'],
      ['POST', '/api/chatrooms', { name: uniqueName('room') }],
      ['GET', `/api/chatrooms/${room.id}`],
      ['PATCH', `/api/chatrooms/${room.id}`, { description: 'x' }],
      ['DELETE', `/api/chatrooms/${room.id}`],
      ['GET', `/api/chatrooms/${room.id}/members`],
      ['POST', `/api/chatrooms/${room.id}/members`, {}],
      ['DELETE', `/api/chatrooms/${room.id}/members/${alice.user.id}`],
    ];
    for (const [method, path, body] of rows) {
      expectError(await call(method, path, { body }), 401, 'UNAUTHORIZED');
      expectError(await call(method, path, { body, token: 'forged.token.value' }), 401, 'UNAUTHORIZED');
    }
    // Nothing happened on the way.
    expectRoom((await call('GET', `/api/chatrooms/${room.id}`, { token: alice.accessToken })).body, {
      description: '',
      memberCount: 1,
    });
  });
});

describe('general', () => {
  it('exists, is public, has no owner and every user is a member', async () => {
    const res = await call('GET', `/api/chatrooms/${generalId}`, { token: dave.accessToken });
    expectStatus(res, 200);
    expectRoom(res.body, { name: 'general', kind: 'public', ownerId: null, isMember: true });
    const members = await membersOf(dave, generalId);
    for (const s of [alice, bob, carol, dave, guest])
      expect(members.some((m) => m.user.id === s.user.id)).toBe(true);
  });

  it('cannot be left (403), renamed or deleted (403), and nobody can kick from it', async () => {
    const leave = await call('DELETE', `/api/chatrooms/${generalId}/members/${bob.user.id}`, {
      token: bob.accessToken,
    });
    expectError(leave, 403, 'FORBIDDEN');
    expectError(
      await call('PATCH', `/api/chatrooms/${generalId}`, { token: bob.accessToken, body: { name: 'x' } }),
      403,
      'FORBIDDEN',
    );
    expectError(
      await call('DELETE', `/api/chatrooms/${generalId}`, { token: bob.accessToken }),
      403,
      'FORBIDDEN',
    );
    expectError(
      await call('DELETE', `/api/chatrooms/${generalId}/members/${carol.user.id}`, {
        token: bob.accessToken,
      }),
      403,
      'FORBIDDEN',
    );
    expect((await membersOf(bob, generalId)).some((m) => m.user.id === bob.user.id)).toBe(true);
  });
});

describe('POST /api/chatrooms', () => {
  it('creates a public room owned by its creator, announced to everyone', async () => {
    const name = uniqueName('Room');
    const res = await call('POST', '/api/chatrooms', {
      token: alice.accessToken,
      body: { name: `  ${name}  `, description: 'Design reviews' },
    });
    expectStatus(res, 201);
    const room = expectRoom(res.body, {
      name,
      description: 'Design reviews',
      kind: 'public',
      ownerId: alice.user.id,
      memberCount: 1,
      isMember: true,
      unreadCount: 0,
    });
    // The creator's join is the first entry of the activity log.
    const history = await historyOf(alice, room.id);
    expect(history).toEqual([
      expect.objectContaining({ kind: 'system', event: 'joined', author: userOf(alice) }),
    ]);
    expect(room.lastMessageAt).toBe(history[0].createdAt);

    // The room is announced before its first entry, so a client knows the room its first message belongs to.
    const [mine] = await receivedBeforeMarker(aliceSocket, 'room:created', (r) => r.id === room.id, {
      name: 'message:new',
      where: (m) => m.id === history[0].id,
    });
    expectRoom(mine, { name, isMember: true, ownerId: alice.user.id });
    for (const other of [bobSocket, daveSocket]) {
      const theirs = await nextEvent(other, 'room:created', (r) => r.id === room.id);
      expectRoom(theirs, { name, isMember: false, kind: 'public', memberCount: 1 });
    }
  });

  it('creates a private room announced only to its member', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    expectRoom(room, { kind: 'private', ownerId: alice.user.id, memberCount: 1, isMember: true });
    expectRoom(await nextEvent(aliceSocket, 'room:created', (r) => r.id === room.id), { kind: 'private' });
    const marker = await publicRoomMarker();
    for (const outsider of [bobSocket, daveSocket])
      await expectNoEventBeforeMarker(outsider, 'room:created', (r) => r.id === room.id, marker);
  });

  it('refuses a name taken case-insensitively (409 ROOM_NAME_TAKEN), general included', async () => {
    const name = uniqueName('Design');
    await createRoom(alice, { name });
    for (const clash of [name.toLowerCase(), name.toUpperCase(), ` ${name} `, 'General', 'GENERAL']) {
      const res = await call('POST', '/api/chatrooms', { token: bob.accessToken, body: { name: clash } });
      expectError(res, 409, 'ROOM_NAME_TAKEN');
    }
  });

  it('refuses guests (403)', async () => {
    const res = await call('POST', '/api/chatrooms', {
      token: guest.accessToken,
      body: { name: uniqueName('room') },
    });
    expectError(res, 403, 'FORBIDDEN');
  });

  it.each([
    ['no name', {}],
    ['an empty name', { name: '' }],
    ['a blank name', { name: '   ' }],
    ['a name of 65 characters', { name: 'n'.repeat(65) }],
    ['a name that is not a string', { name: 42 }],
    ['a description of 501 characters', { name: 'ok', description: 'd'.repeat(501) }],
    ['a description that is not a string', { name: 'ok', description: ['x'] }],
    ['kind "direct"', { name: 'ok', kind: 'direct' }],
    ['an unknown kind', { name: 'ok', kind: 'secret' }],
    ['an unknown field', { name: 'ok', ownerId: '1' }],
    ['a bidi override in the name', { name: 'ab\u202Ecd' }],
  ])('answers 400 VALIDATION_ERROR to %s', async (_label, body) => {
    const res = await call('POST', '/api/chatrooms', { token: alice.accessToken, body });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(res.body.error.details.length).toBeGreaterThan(0);
  });

  it('answers 400 to malformed JSON', async () => {
    const res = await call('POST', '/api/chatrooms', { token: alice.accessToken, raw: '{"name": ' });
    expectError(res, 400, 'VALIDATION_ERROR');
  });

  it('accepts the longest name and description', async () => {
    const name = `${uniqueName('x')}`.padEnd(64, 'z');
    const room = await createRoom(alice, { name, description: 'd'.repeat(500) });
    expectRoom(room, { name, description: 'd'.repeat(500) });
  });
});

describe('GET /api/chatrooms', () => {
  it('lists every public room and only the private rooms the caller belongs to', async () => {
    const pub = await createRoom(alice);
    const priv = await createRoom(alice, { kind: 'private' });
    await addTo(alice, priv.id, bob);

    const forDave = (await call('GET', '/api/chatrooms?limit=200', { token: dave.accessToken })).body
      .rooms as Room[];
    const forBob = (await call('GET', '/api/chatrooms?limit=200', { token: bob.accessToken })).body
      .rooms as Room[];
    for (const r of [...forDave, ...forBob]) expectRoom(r);
    expect(forDave.find((r) => r.id === pub.id)).toMatchObject({ isMember: false, memberCount: 1 });
    expect(forDave.find((r) => r.id === priv.id)).toBeUndefined();
    expect(forDave.find((r) => r.id === generalId)).toMatchObject({ isMember: true, ownerId: null });
    expect(forBob.find((r) => r.id === priv.id)).toMatchObject({ isMember: true, memberCount: 2 });
    expect(forDave.every((r) => r.kind !== 'direct')).toBe(true);
  });
});

describe('GET /api/chatrooms/:id', () => {
  it('shows a public room to anyone, with isMember from the caller’s view', async () => {
    const room = await createRoom(alice, { description: 'about' });
    const res = await call('GET', `/api/chatrooms/${room.id}`, { token: dave.accessToken });
    expectStatus(res, 200);
    expectRoom(res.body, {
      id: room.id,
      name: room.name,
      description: 'about',
      isMember: false,
      memberCount: 1,
      ownerId: alice.user.id,
      unreadCount: 0,
    });
  });

  it('shows a private room to members only; outsiders get the same 404 as for a missing room', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    await addTo(alice, room.id, bob);
    expectRoom((await call('GET', `/api/chatrooms/${room.id}`, { token: bob.accessToken })).body, {
      isMember: true,
      memberCount: 2,
    });
    const hidden = await call('GET', `/api/chatrooms/${room.id}`, { token: dave.accessToken });
    const missing = await call('GET', `/api/chatrooms/${MISSING_ID}`, { token: dave.accessToken });
    expectError(hidden, 404, 'NOT_FOUND');
    expect(hidden.body).toEqual(missing.body);
  });

  it('answers 404 to ids that are not ids', async () => {
    for (const id of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
      expectError(await call('GET', `/api/chatrooms/${id}`, { token: dave.accessToken }), 404, 'NOT_FOUND');
    }
  });
});

describe('PATCH /api/chatrooms/:id', () => {
  it('lets the owner rename and describe; the rename is logged and everyone hears of it', async () => {
    const room = await createRoom(alice);
    await join(bob, room.id);
    const name = uniqueName('Renamed');
    const res = await call('PATCH', `/api/chatrooms/${room.id}`, {
      token: alice.accessToken,
      body: { name, description: 'new words' },
    });
    expectStatus(res, 200);
    expectRoom(res.body, { id: room.id, name, description: 'new words', memberCount: 2, isMember: true });
    expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(room.updatedAt));

    const log = await historyOf(bob, room.id);
    const renamed = log.filter((m) => m.event === 'room_renamed');
    expect(renamed).toEqual([
      expect.objectContaining({ kind: 'system', author: userOf(alice), text: expect.stringContaining(name) }),
    ]);

    for (const member of [aliceSocket, bobSocket]) {
      expectRoom(await nextEvent(member, 'room:updated', (r) => r.id === room.id), { name, isMember: true });
      await nextEvent(member, 'message:new', (m) => m.id === renamed[0].id);
    }
    expectRoom(await nextEvent(carolSocket, 'room:updated', (r) => r.id === room.id), {
      name,
      isMember: false,
    });
    // Non-members see the room change but are not sent its messages.
    await expectNoEventBeforeMarker(
      carolSocket,
      'message:new',
      (m) => m.roomId === room.id,
      await generalMarker(),
    );
  });

  it('a description-only change writes no rename entry', async () => {
    const room = await createRoom(alice);
    const res = await call('PATCH', `/api/chatrooms/${room.id}`, {
      token: alice.accessToken,
      body: { description: 'only this' },
    });
    expectRoom(res.body, { name: room.name, description: 'only this' });
    expect((await historyOf(alice, room.id)).some((m) => m.event === 'room_renamed')).toBe(false);
  });

  it('tells only members of a private room that it changed', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    await addTo(alice, room.id, bob);
    const name = uniqueName('Secret');
    expectStatus(
      await call('PATCH', `/api/chatrooms/${room.id}`, { token: alice.accessToken, body: { name } }),
      200,
    );
    expectRoom(await nextEvent(bobSocket, 'room:updated', (r) => r.id === room.id), { name });
    const marker = await publicRoomMarker();
    await expectNoEventBeforeMarker(daveSocket, 'room:updated', (r) => r.id === room.id, marker);
  });

  it('a room made private disappears for outsiders, and reappears when made public', async () => {
    const room = await createRoom(alice);
    await join(bob, room.id);
    const toPrivate = await call('PATCH', `/api/chatrooms/${room.id}`, {
      token: alice.accessToken,
      body: { kind: 'private' },
    });
    expectRoom(toPrivate.body, { kind: 'private' });
    expectRoom(await nextEvent(bobSocket, 'room:updated', (r) => r.id === room.id), { kind: 'private' });
    expect(await nextEvent(daveSocket, 'room:deleted', (p) => p.roomId === room.id)).toEqual({
      roomId: room.id,
    });
    expectError(
      await call('GET', `/api/chatrooms/${room.id}`, { token: dave.accessToken }),
      404,
      'NOT_FOUND',
    );

    await call('PATCH', `/api/chatrooms/${room.id}`, { token: alice.accessToken, body: { kind: 'public' } });
    expectRoom(await nextEvent(daveSocket, 'room:created', (r) => r.id === room.id), {
      kind: 'public',
      isMember: false,
    });
    expectStatus(await call('GET', `/api/chatrooms/${room.id}`, { token: dave.accessToken }), 200);
  });

  it('refuses a name another room holds, whatever its case (409); a case change of its own name is fine', async () => {
    const taken = await createRoom(alice, { name: uniqueName('Taken') });
    const room = await createRoom(alice, { name: uniqueName('Mine') });
    const clash = await call('PATCH', `/api/chatrooms/${room.id}`, {
      token: alice.accessToken,
      body: { name: taken.name.toUpperCase() },
    });
    expectError(clash, 409, 'ROOM_NAME_TAKEN');
    expectError(
      await call('PATCH', `/api/chatrooms/${room.id}`, {
        token: alice.accessToken,
        body: { name: 'general' },
      }),
      409,
      'ROOM_NAME_TAKEN',
    );
    const recased = await call('PATCH', `/api/chatrooms/${room.id}`, {
      token: alice.accessToken,
      body: { name: room.name.toUpperCase() },
    });
    expectStatus(recased, 200);
    expect(recased.body.name).toBe(room.name.toUpperCase());
    // And the old name is free again once it is renamed away from it.
    const renamedAway = await call('PATCH', `/api/chatrooms/${taken.id}`, {
      token: alice.accessToken,
      body: { name: uniqueName('Other') },
    });
    expectStatus(renamedAway, 200);
    expectStatus(
      await call('POST', '/api/chatrooms', { token: bob.accessToken, body: { name: taken.name } }),
      201,
    );
  });

  it('refuses members who are not the owner and outsiders of a public room (403)', async () => {
    const room = await createRoom(alice);
    await join(bob, room.id);
    for (const s of [bob, dave]) {
      const res = await call('PATCH', `/api/chatrooms/${room.id}`, {
        token: s.accessToken,
        body: { name: uniqueName('hijack') },
      });
      expectError(res, 403, 'FORBIDDEN');
    }
    expect((await call('GET', `/api/chatrooms/${room.id}`, { token: alice.accessToken })).body.name).toBe(
      room.name,
    );
  });

  it.each([
    ['an unknown field', { ownerId: '1' }],
    ['a name of 65 characters', { name: 'n'.repeat(65) }],
    ['an empty name', { name: '' }],
    ['a description of 501 characters', { description: 'd'.repeat(501) }],
    ['a name that is not a string', { name: 7 }],
    ['kind "direct"', { kind: 'direct' }],
  ])('answers 400 VALIDATION_ERROR to %s', async (_label, body) => {
    const room = await createRoom(alice);
    const res = await call('PATCH', `/api/chatrooms/${room.id}`, { token: alice.accessToken, body });
    expectError(res, 400, 'VALIDATION_ERROR');
  });
});

describe('DELETE /api/chatrooms/:id', () => {
  it('lets the owner delete a room with its messages; members hear room:deleted', async () => {
    const room = await createRoom(alice);
    await join(bob, room.id);
    const msg = await postMessage(bob, room.id, 'soon gone');
    expectError(
      await call('DELETE', `/api/chatrooms/${room.id}`, { token: bob.accessToken }),
      403,
      'FORBIDDEN',
    );

    const res = await call('DELETE', `/api/chatrooms/${room.id}`, { token: alice.accessToken });
    expectStatus(res, 204);
    expect(res.body).toBeUndefined();
    for (const member of [aliceSocket, bobSocket])
      expect(await nextEvent(member, 'room:deleted', (p) => p.roomId === room.id)).toEqual({
        roomId: room.id,
      });
    // It was public, so everyone had it listed and is told as well.
    await nextEvent(daveSocket, 'room:deleted', (p) => p.roomId === room.id);

    expectError(
      await call('GET', `/api/chatrooms/${room.id}`, { token: alice.accessToken }),
      404,
      'NOT_FOUND',
    );
    expectError(
      await call('GET', `/api/chatrooms/${room.id}/messages`, { token: alice.accessToken }),
      404,
      'NOT_FOUND',
    );
    expectError(
      await call('PATCH', `/api/messages/${msg.id}`, {
        token: bob.accessToken,
        body: { text: 'still here?' },
      }),
      404,
      'NOT_FOUND',
    );
    const list = (await call('GET', '/api/chatrooms?limit=200', { token: bob.accessToken })).body
      .rooms as Room[];
    expect(list.some((r) => r.id === room.id)).toBe(false);
    // Gone from the database, not merely hidden.
    const { Message, Membership } = server.parley.ctx.models;
    expect(await Message.count({ where: { roomId: Number(room.id) } })).toBe(0);
    expect(await Membership.count({ where: { roomId: Number(room.id) } })).toBe(0);
    // Its name is free again.
    expectStatus(
      await call('POST', '/api/chatrooms', { token: bob.accessToken, body: { name: room.name } }),
      201,
    );
  });

  it('tells only the members when a private room goes', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    await addTo(alice, room.id, bob);
    expectStatus(await call('DELETE', `/api/chatrooms/${room.id}`, { token: alice.accessToken }), 204);
    await nextEvent(bobSocket, 'room:deleted', (p) => p.roomId === room.id);
    const marker = await publicRoomMarker();
    await expectNoEventBeforeMarker(daveSocket, 'room:deleted', (p) => p.roomId === room.id, marker);
  });

  it('stops broadcasting to the deleted room’s former members', async () => {
    const room = await createRoom(alice);
    await join(bob, room.id);
    expectStatus(await call('DELETE', `/api/chatrooms/${room.id}`, { token: alice.accessToken }), 204);
    await nextEvent(bobSocket, 'room:deleted', (p) => p.roomId === room.id);
    const again = await call('POST', `/api/chatrooms/${room.id}/messages`, {
      token: bob.accessToken,
      body: { text: 'anyone?' },
    });
    expectError(again, 404, 'NOT_FOUND');
  });
});

describe('GET /api/chatrooms/:id/members', () => {
  it('lists members with role, join time and presence, online first, then by username', async () => {
    const room = await createRoom(alice);
    await join(bob, room.id);
    await join(guest, room.id);
    const res = await call('GET', `/api/chatrooms/${room.id}/members`, { token: dave.accessToken });
    expectStatus(res, 200);
    expect(Object.keys(res.body)).toEqual(['members', 'hasMore', 'next']);
    expect(res.body).toMatchObject({ hasMore: false, next: null });
    const members = res.body.members;
    expect(members.map((m: any) => [m.user.id, m.role])).toEqual([
      [alice.user.id, 'owner'],
      [bob.user.id, 'member'],
      [guest.user.id, 'member'],
    ]);
    for (const m of members) {
      expect(Object.keys(m).sort()).toEqual(['joinedAt', 'online', 'role', 'user']);
      expect(m.joinedAt).toMatch(ISO);
      expect(Object.keys(m.user).sort()).toEqual([
        'avatarUrl',
        'createdAt',
        'displayName',
        'id',
        'isGuest',
        'username',
      ]);
    }
    expect(members[0].user).toEqual(userOf(alice));
    // alice and bob have sockets open; the guest does not.
    expect(members.map((m: any) => m.online)).toEqual([true, true, false]);
  });

  it('hides a private room’s members from outsiders (404)', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    const hidden = await call('GET', `/api/chatrooms/${room.id}/members`, { token: dave.accessToken });
    const missing = await call('GET', `/api/chatrooms/${MISSING_ID}/members`, { token: dave.accessToken });
    expectError(hidden, 404, 'NOT_FOUND');
    expect(hidden.body).toEqual(missing.body);
  });
});

describe('POST /api/chatrooms/:id/members', () => {
  it('lets anyone join a public room; the room hears it and the log records it once', async () => {
    const room = await createRoom(alice);
    const res = await call('POST', `/api/chatrooms/${room.id}/members`, {
      token: bob.accessToken,
      body: {},
    });
    expectStatus(res, 200);
    expectRoom(res.body, { id: room.id, isMember: true, memberCount: 2, unreadCount: 0 });

    const joined = await nextEvent(
      aliceSocket,
      'room:member-joined',
      (e) => e.roomId === room.id && e.user.id === bob.user.id,
    );
    expect(joined).toEqual({ roomId: room.id, user: userOf(bob), at: expect.stringMatching(ISO) });
    const sys = await nextEvent(
      aliceSocket,
      'message:new',
      (m) => m.roomId === room.id && m.event === 'joined' && m.author?.id === bob.user.id,
    );
    expect(sys).toMatchObject({ kind: 'system', event: 'joined', author: userOf(bob), deleted: false });
    // The joiner's own sockets now follow the room too.
    await nextEvent(bobSocket, 'room:member-joined', (e) => e.roomId === room.id);
    await nextEvent(bobSocket, 'message:new', (m) => m.id === sys.id);

    // Joining again changes nothing.
    const again = await call('POST', `/api/chatrooms/${room.id}/members`, {
      token: bob.accessToken,
      body: {},
    });
    expectStatus(again, 200);
    expectRoom(again.body, { isMember: true, memberCount: 2 });
    const joins = (await historyOf(alice, room.id)).filter((m) => m.event === 'joined');
    expect(joins.map((m) => m.author.id)).toEqual([alice.user.id, bob.user.id]);
    expect((await membersOf(alice, room.id)).length).toBe(2);
  });

  it('joining oneself by naming one’s own userId works the same', async () => {
    const room = await createRoom(alice);
    const res = await call('POST', `/api/chatrooms/${room.id}/members`, {
      token: carol.accessToken,
      body: { userId: carol.user.id },
    });
    expectRoom(res.body, { isMember: true, memberCount: 2 });
  });

  it('lets guests join public rooms', async () => {
    const room = await createRoom(alice);
    expectRoom(await join(guest, room.id), { isMember: true, memberCount: 2 });
  });

  it('a private room cannot be joined by oneself: 404, as if it did not exist', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    const hidden = await call('POST', `/api/chatrooms/${room.id}/members`, {
      token: dave.accessToken,
      body: {},
    });
    const missing = await call('POST', `/api/chatrooms/${MISSING_ID}/members`, {
      token: dave.accessToken,
      body: {},
    });
    expectError(hidden, 404, 'NOT_FOUND');
    expect(hidden.body).toEqual(missing.body);
    expect((await membersOf(alice, room.id)).length).toBe(1);
  });

  it('the owner adds users to a private room; the added user learns of the room', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    const res = await call('POST', `/api/chatrooms/${room.id}/members`, {
      token: alice.accessToken,
      body: { userId: bob.user.id },
    });
    expectStatus(res, 200);
    // The answer is the room as the caller (the owner) sees it.
    expectRoom(res.body, { id: room.id, isMember: true, memberCount: 2, ownerId: alice.user.id });

    expectRoom(await nextEvent(bobSocket, 'room:created', (r) => r.id === room.id), {
      kind: 'private',
      isMember: true,
      memberCount: 2,
    });
    expect(await nextEvent(bobSocket, 'room:member-joined', (e) => e.roomId === room.id)).toMatchObject({
      user: userOf(bob),
    });
    await nextEvent(
      aliceSocket,
      'room:member-joined',
      (e) => e.roomId === room.id && e.user.id === bob.user.id,
    );
    const log = await historyOf(bob, room.id);
    expect(log.filter((m) => m.event === 'joined').map((m) => m.author.id)).toEqual([
      alice.user.id,
      bob.user.id,
    ]);
    expect(log.at(-1).text).toContain(alice.user.username);
    expectRoom((await call('GET', `/api/chatrooms/${room.id}`, { token: bob.accessToken })).body, {
      isMember: true,
    });
    // Others never hear of the private room.
    await expectNoEventBeforeMarker(
      daveSocket,
      'room:member-joined',
      (e) => e.roomId === room.id,
      await generalMarker(),
    );
  });

  it('a member who is not the owner cannot add others (403)', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    await addTo(alice, room.id, bob);
    const res = await call('POST', `/api/chatrooms/${room.id}/members`, {
      token: bob.accessToken,
      body: { userId: carol.user.id },
    });
    expectError(res, 403, 'FORBIDDEN');
    const pub = await createRoom(alice);
    await join(bob, pub.id);
    expectError(
      await call('POST', `/api/chatrooms/${pub.id}/members`, {
        token: bob.accessToken,
        body: { userId: carol.user.id },
      }),
      403,
      'FORBIDDEN',
    );
    expect((await membersOf(alice, room.id)).map((m) => m.user.id)).not.toContain(carol.user.id);
  });

  it('adding a user who does not exist is 404', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    for (const userId of ['999999', MISSING_ID]) {
      const res = await call('POST', `/api/chatrooms/${room.id}/members`, {
        token: alice.accessToken,
        body: { userId },
      });
      expectError(res, 404, 'NOT_FOUND');
    }
  });

  it.each([
    ['an unknown field', { role: 'owner' }],
    ['a numeric userId', { userId: 5 }],
    ['a userId that is not an id', { userId: 'bob' }],
  ])('answers 400 VALIDATION_ERROR to %s', async (_label, body) => {
    const room = await createRoom(alice);
    const res = await call('POST', `/api/chatrooms/${room.id}/members`, { token: alice.accessToken, body });
    expectError(res, 400, 'VALIDATION_ERROR');
  });
});

describe('DELETE /api/chatrooms/:id/members/:userId', () => {
  it('leaving writes "left", tells the room and the leaver, and stops the room’s messages', async () => {
    const room = await createRoom(alice);
    await join(bob, room.id);
    const res = await call('DELETE', `/api/chatrooms/${room.id}/members/${bob.user.id}`, {
      token: bob.accessToken,
    });
    expectStatus(res, 204);
    for (const s of [aliceSocket, bobSocket]) {
      const left = await nextEvent(s, 'room:member-left', (e) => e.roomId === room.id);
      expect(left).toEqual({
        roomId: room.id,
        userId: bob.user.id,
        at: expect.stringMatching(ISO),
        reason: 'left',
      });
    }
    const log = await historyOf(alice, room.id);
    expect(log.at(-1)).toMatchObject({ kind: 'system', event: 'left', author: userOf(bob) });
    expectRoom((await call('GET', `/api/chatrooms/${room.id}`, { token: bob.accessToken })).body, {
      isMember: false,
      memberCount: 1,
    });

    const after = await postMessage(alice, room.id, 'you left');
    await expectNoEventBeforeMarker(
      bobSocket,
      'message:new',
      (m) => m.id === after.id,
      await generalMarker(),
    );
    // Leaving when not a member is an error, and changes nothing.
    const again = await call('DELETE', `/api/chatrooms/${room.id}/members/${bob.user.id}`, {
      token: bob.accessToken,
    });
    expectError(again, 404, 'NOT_FOUND');
  });

  it('the owner kicks: "kicked" is logged, the room and the kicked user hear it, their socket stops at once', async () => {
    const room = await createRoom(alice);
    await join(bob, room.id);
    await join(carol, room.id);
    await nextEvent(
      bobSocket,
      'room:member-joined',
      (e) => e.roomId === room.id && e.user.id === carol.user.id,
    );

    const res = await call('DELETE', `/api/chatrooms/${room.id}/members/${bob.user.id}`, {
      token: alice.accessToken,
    });
    expectStatus(res, 204);
    for (const s of [aliceSocket, bobSocket, carolSocket]) {
      const left = await nextEvent(
        s,
        'room:member-left',
        (e) => e.roomId === room.id && e.userId === bob.user.id,
      );
      expect(left.reason).toBe('kicked');
    }
    const kicked = await nextEvent(
      carolSocket,
      'message:new',
      (m) => m.roomId === room.id && m.event === 'kicked',
    );
    expect(kicked).toMatchObject({ kind: 'system', author: userOf(bob) });
    expect(kicked.text).toContain(alice.user.username);
    expect((await historyOf(alice, room.id)).at(-1)).toMatchObject({ id: kicked.id, event: 'kicked' });

    const after = await postMessage(alice, room.id, 'bob is gone');
    await nextEvent(carolSocket, 'message:new', (m) => m.id === after.id);
    // Neither the kick's own log entry nor anything after it reaches the kicked user's socket.
    await expectNoEventBeforeMarker(
      bobSocket,
      'message:new',
      (m) => m.id === kicked.id || m.id === after.id,
      await generalMarker(),
    );
    expect((await membersOf(alice, room.id)).map((m) => m.user.id)).toEqual([alice.user.id, carol.user.id]);
    // A kicked user may still read a public room, and may not post until they join again.
    expectError(
      await call('POST', `/api/chatrooms/${room.id}/messages`, {
        token: bob.accessToken,
        body: { text: 'hi' },
      }),
      403,
      'FORBIDDEN',
    );
  });

  it('a kicked user of a private room loses sight of it', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    await addTo(alice, room.id, bob);
    expectStatus(
      await call('DELETE', `/api/chatrooms/${room.id}/members/${bob.user.id}`, { token: alice.accessToken }),
      204,
    );
    await nextEvent(bobSocket, 'room:member-left', (e) => e.roomId === room.id && e.reason === 'kicked');
    expectError(await call('GET', `/api/chatrooms/${room.id}`, { token: bob.accessToken }), 404, 'NOT_FOUND');
  });

  it('only the owner kicks (403); kicking a non-member is 404', async () => {
    const room = await createRoom(alice);
    await join(bob, room.id);
    await join(carol, room.id);
    for (const s of [bob, dave]) {
      const res = await call('DELETE', `/api/chatrooms/${room.id}/members/${carol.user.id}`, {
        token: s.accessToken,
      });
      expectError(res, 403, 'FORBIDDEN');
    }
    const res = await call('DELETE', `/api/chatrooms/${room.id}/members/${dave.user.id}`, {
      token: alice.accessToken,
    });
    expectError(res, 404, 'NOT_FOUND');
    expect((await membersOf(alice, room.id)).length).toBe(3);
  });

  it('an owner who leaves hands the room to the earliest member', async () => {
    const room = await createRoom(alice);
    await join(bob, room.id);
    await join(carol, room.id);
    const res = await call('DELETE', `/api/chatrooms/${room.id}/members/${alice.user.id}`, {
      token: alice.accessToken,
    });
    expectStatus(res, 204);
    const updated = await nextEvent(bobSocket, 'room:updated', (r) => r.id === room.id);
    expectRoom(updated, { ownerId: bob.user.id, memberCount: 2, isMember: true });
    // The room is public: everyone else sees the new owner too.
    expectRoom(await nextEvent(daveSocket, 'room:updated', (r) => r.id === room.id), {
      ownerId: bob.user.id,
      isMember: false,
    });
    const log = await historyOf(carol, room.id);
    expect(log.at(-1)).toMatchObject({ kind: 'system', event: 'left', author: userOf(alice) });
    expectRoom((await call('GET', `/api/chatrooms/${room.id}`, { token: carol.accessToken })).body, {
      ownerId: bob.user.id,
    });
    expect((await membersOf(carol, room.id)).map((m) => [m.user.id, m.role])).toEqual([
      [bob.user.id, 'owner'],
      [carol.user.id, 'member'],
    ]);
    // The new owner can manage; the old one cannot.
    expectStatus(
      await call('PATCH', `/api/chatrooms/${room.id}`, {
        token: bob.accessToken,
        body: { description: 'mine' },
      }),
      200,
    );
    expectError(
      await call('PATCH', `/api/chatrooms/${room.id}`, {
        token: alice.accessToken,
        body: { description: 'no' },
      }),
      403,
      'FORBIDDEN',
    );
  });

  it('a private room’s members cannot be removed by outsiders: 404 like a missing room', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    const hidden = await call('DELETE', `/api/chatrooms/${room.id}/members/${alice.user.id}`, {
      token: dave.accessToken,
    });
    const missing = await call('DELETE', `/api/chatrooms/${MISSING_ID}/members/${alice.user.id}`, {
      token: dave.accessToken,
    });
    expectError(hidden, 404, 'NOT_FOUND');
    expect(hidden.body).toEqual(missing.body);
  });
});

describe('a private room’s existence never leaks', () => {
  it('answers every room route of an outsider exactly as for a room that does not exist', async () => {
    const room = await createRoom(alice, { kind: 'private' });
    await addTo(alice, room.id, bob);
    await postMessage(alice, room.id, 'secret');
    const rows: [string, string, unknown?][] = [
      ['GET', ''],
      ['PATCH', '', { description: 'mine now' }],
      ['DELETE', ''],
      ['GET', '/members'],
      ['POST', '/members', {}],
      ['POST', '/members', { userId: dave.user.id }],
      ['DELETE', `/members/${bob.user.id}`],
      ['DELETE', `/members/${dave.user.id}`],
      ['GET', '/messages'],
      ['GET', '/messages?limit=5'],
      ['POST', '/messages', { text: 'hello?' }],
    ];
    for (const [method, suffix, body] of rows) {
      const hidden = await call(method, `/api/chatrooms/${room.id}${suffix}`, {
        token: dave.accessToken,
        body,
      });
      const missing = await call(method, `/api/chatrooms/${MISSING_ID}${suffix}`, {
        token: dave.accessToken,
        body,
      });
      expect([method, suffix, hidden.status]).toEqual([method, suffix, 404]);
      expect(hidden.body).toEqual(missing.body);
      expect(hidden.body.error.code).toBe('NOT_FOUND');
    }
    // Nothing changed.
    expectRoom((await call('GET', `/api/chatrooms/${room.id}`, { token: alice.accessToken })).body, {
      description: '',
      memberCount: 2,
    });
  });
});
