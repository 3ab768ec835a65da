import {
  clientEventSchemas,
  type ClientEventName,
  type Message,
  type Room,
  type Session,
} from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketStats } from '../src/realtime/connection.js';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../src/test-support/server.js';
import {
  addMember,
  connectReady,
  closeRawSockets,
  connectWith,
  createRoom,
  disconnected,
  emitNoAck,
  emitRaw,
  expectFail,
  expectHandshakeRefused,
  expectMessage,
  expectNoneBy,
  expectOk,
  expectRoom,
  expectStatusOf,
  expectUser,
  expectValidation,
  fullHistory,
  generalRoomId,
  joinRoom,
  MISSING_ID,
  newClientId,
  postMessage,
  sortedKeys,
} from './helpers/realtime.js';
import {
  closeAllSockets,
  emitAck,
  expectNoEventBeforeMarker,
  nextEvent,
  received,
  waitFor,
  type ClientSocket,
} from './helpers/sockets.js';

/*
 * The Socket.IO half of the contract, event by event: who may connect, what every client event answers to a bad
 * payload, to a room the caller may not see or may not use, and on success (ack shapes), who else hears of it and
 * who does not; events without a callback; unknown events; flood limits. (The origin check and the packet size limit
 * are cases S1 and S2 of the hardening suite, server/test/hardening/socket-abuse.hardening.ts.)
 */

let server: TestServer;
let call: Call;
/** alice owns `room` (bob is a member); carol is only in general; dave owns a private room and a public one. */
let alice: Session, bob: Session, carol: Session, dave: Session;
let aliceSocket: ClientSocket, bobSocket: ClientSocket, bobTab2: ClientSocket, carolSocket: ClientSocket;
let daveSocket: ClientSocket;
let room: Room, daveSecret: Room, davePublic: Room;
let generalId: string;
/** A message of dave's in his private room, and one of alice's in her room. */
let secretMessage: Message, aliceMessage: Message;

async function generalMarker(by: Session = alice) {
  const m = await postMessage(call, by, generalId, `marker ${uniqueName('m')}`);
  return { name: 'message:new' as const, where: (p: { id: string }) => p.id === m.id };
}

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  alice = await register(call, uniqueName('alice'));
  bob = await register(call, uniqueName('bob'));
  carol = await register(call, uniqueName('carol'));
  dave = await register(call, uniqueName('dave'));
  generalId = await generalRoomId(call, alice);
  room = await createRoom(call, alice);
  await joinRoom(call, bob, room.id);
  daveSecret = await createRoom(call, dave, 'private');
  davePublic = await createRoom(call, dave);
  secretMessage = await postMessage(call, dave, daveSecret.id, 'top secret');
  aliceMessage = await postMessage(call, alice, room.id, 'hello room');
  [aliceSocket, bobSocket, bobTab2, carolSocket, daveSocket] = await Promise.all([
    connectReady(server, alice),
    connectReady(server, bob),
    connectReady(server, bob),
    connectReady(server, carol),
    connectReady(server, dave),
  ]);
});

afterAll(async () => {
  closeAllSockets();
  closeRawSockets();
  await server?.close();
});

describe('handshake', () => {
  it('refuses a missing or empty token with UNAUTHORIZED', async () => {
    for (const auth of [undefined, {}, { token: '' }, { token: 42 }, { token: null }]) {
      const err = await expectHandshakeRefused(server, auth === undefined ? {} : { auth });
      expect(err.message, JSON.stringify(auth)).toBe('UNAUTHORIZED');
    }
  });

  it('refuses the token of a session that was logged out with UNAUTHORIZED, and accepts it before', async () => {
    const s = await register(call, uniqueName('gone'));
    const before = await connectWith(server, { auth: { token: s.accessToken } });
    expect(before.connected).toBe(true);
    const gone = disconnected(before);
    expectStatusOf(await call('POST', '/api/auth/logout', { token: s.accessToken, body: {} }), 204);
    expect(await gone).toBe('io server disconnect');
    const err = await expectHandshakeRefused(server, { auth: { token: s.accessToken } });
    expect(err.message).toBe('UNAUTHORIZED');
  });

  it('refuses a refresh token used as an access token', async () => {
    const err = await expectHandshakeRefused(server, { auth: { token: alice.refreshToken } });
    expect(err.message).toBe('UNAUTHORIZED');
  });
});

/** For each event: a valid payload (built now), and payloads that must fail validation with the detail's path. */
type Invalid = [payload: unknown, path: string, message?: RegExp];
const UNKNOWN = /unknown field/;
function invalidPayloads(): Record<ClientEventName, Invalid[]> {
  const roomId = room.id;
  const messageId = aliceMessage.id;
  const clientId = newClientId();
  return {
    'room:join': [
      [{}, 'roomId'],
      [{ roomId: Number(roomId) }, 'roomId'],
      [{ roomId: 'abc' }, 'roomId'],
      [{ roomId: '0' }, 'roomId'],
      [{ roomId, extra: true }, '(root)', UNKNOWN],
      ['just a string', '(root)'],
      [[roomId], '(root)'],
    ],
    'room:leave': [
      [{}, 'roomId'],
      [{ roomId: null }, 'roomId'],
      [{ roomId, force: true }, '(root)', UNKNOWN],
    ],
    'message:send': [
      [{ roomId, text: 'no client id' }, 'clientId'],
      [{ roomId, text: 'bad client id', clientId: 'has spaces in it' }, 'clientId'],
      [{ roomId, text: 'long client id', clientId: 'x'.repeat(65) }, 'clientId'],
      [{ roomId, clientId }, 'text', /text or an attachment/],
      [{ roomId, text: '   ', clientId }, 'text', /text or an attachment/],
      [{ roomId, text: 'x'.repeat(4001), clientId }, 'text'],
      [{ roomId, text: 42, clientId }, 'text'],
      [{ roomId: Number(roomId), text: 'x', clientId }, 'roomId'],
      [{ roomId, text: 'x', clientId, authorId: alice.user.id }, '(root)', UNKNOWN],
      [{ roomId, attachmentId: '../../etc/passwd', clientId }, 'attachmentId'],
      [{ roomId, text: 'x', clientId, replyToId: 5 }, 'replyToId'],
    ],
    'message:edit': [
      [{ messageId }, 'text'],
      [{ messageId, text: '' }, 'text'],
      [{ messageId, text: 'x'.repeat(4001) }, 'text'],
      [{ messageId: Number(messageId), text: 'x' }, 'messageId'],
      [{ messageId, text: 'x', roomId }, '(root)', UNKNOWN],
    ],
    'message:delete': [
      [{}, 'messageId'],
      [{ messageId: true }, 'messageId'],
      [{ messageId, hard: true }, '(root)', UNKNOWN],
    ],
    'reaction:add': [
      [{ messageId }, 'emoji'],
      [{ messageId, emoji: 'ok' }, 'emoji', /one emoji/],
      [{ messageId, emoji: '👍👍' }, 'emoji', /one emoji/],
      [{ messageId: Number(messageId), emoji: '👍' }, 'messageId'],
      [{ messageId, emoji: '👍', userId: alice.user.id }, '(root)', UNKNOWN],
    ],
    'reaction:remove': [
      [{ messageId, emoji: '' }, 'emoji', /one emoji/],
      [{ messageId, emoji: 'x'.repeat(100) }, 'emoji', /one emoji/],
      [{ emoji: '👍' }, 'messageId'],
    ],
    'messages:fetch': [
      [{}, 'roomId'],
      [{ roomId, limit: 0 }, 'limit'],
      [{ roomId, limit: 101 }, 'limit'],
      [{ roomId, limit: '10' }, 'limit'],
      [{ roomId, limit: 1.5 }, 'limit'],
      [{ roomId, before: 5 }, 'before'],
      [{ roomId, after: '-1' }, 'after'],
      [{ roomId, since: messageId }, '(root)', UNKNOWN],
      [{ roomId, before: messageId, around: messageId }, 'around'],
      [{ roomId, around: 'x' }, 'around'],
    ],
    typing: [
      [{ roomId }, 'isTyping'],
      [{ roomId, isTyping: 'yes' }, 'isTyping'],
      [{ isTyping: true }, 'roomId'],
      [{ roomId, isTyping: true, user: alice.user }, '(root)', UNKNOWN],
    ],
    'room:read': [
      [{ roomId }, 'messageId'],
      [{ messageId }, 'roomId'],
      [{ roomId, messageId: Number(messageId) }, 'messageId'],
      [{ roomId, messageId, unreadCount: 0 }, '(root)', UNKNOWN],
    ],
    'presence:list': [
      [{ roomId }, '(root)', UNKNOWN],
      ['everyone', '(root)'],
      [[], '(root)'],
      [{ limit: 201 }, 'limit'],
    ],
    'presence:subscribe': [
      [{ userIds: ['abc'] }, 'userIds.0'],
      [{ userIds: Array.from({ length: 501 }, (_, i) => String(i + 1)) }, 'userIds'],
    ],
  };
}

describe('invalid payloads', () => {
  it('covers every client event', () => {
    expect(Object.keys(invalidPayloads()).sort()).toEqual(Object.keys(clientEventSchemas).sort());
  });

  it('every event answers VALIDATION_ERROR with details naming the field, and changes nothing', async () => {
    const before = await fullHistory(call, alice, room.id);
    for (const [event, cases] of Object.entries(invalidPayloads())) {
      for (const [payload, path, message] of cases) {
        const res = await emitRaw(aliceSocket, event, [payload]);
        expectValidation(res, path, message);
      }
    }
    // A missing payload is invalid too (presence:list excepted: it has no fields). From another socket: one
    // socket's event budget (a burst of 60) is not made for this many refusals in a row.
    for (const event of Object.keys(clientEventSchemas).filter((e) => e !== 'presence:list'))
      expectValidation(await emitRaw(bobSocket, event, []), '(root)');
    expect(await fullHistory(call, alice, room.id)).toEqual(before);
    expect(aliceSocket.connected).toBe(true);
    // Nobody heard of anything: the first event bob gets after these is the marker.
    const inRoom = (p: any) => p.roomId === room.id;
    await expectNoneBy(bobSocket, await generalMarker(), [
      ['message:new', inRoom],
      ['message:updated', inRoom],
      ['message:deleted', inRoom],
      ['typing', inRoom],
    ]);
  });

  it('without a callback, every event’s failure comes back as an `error` event', async () => {
    const errorsBefore = received(carolSocket, 'error').length;
    for (const [event, cases] of Object.entries(invalidPayloads())) {
      const [payload] = cases[0]!;
      emitNoAck(carolSocket, event, payload);
      const err = await nextEvent(carolSocket, 'error');
      expect(err, event).toMatchObject({ error: { code: 'VALIDATION_ERROR', message: expect.any(String) } });
      expect(sortedKeys(err)).toEqual(['error']);
      expect(err.error.details!.length).toBeGreaterThan(0);
    }
    // Rules other than the schema too: carol is not in alice's room.
    emitNoAck(carolSocket, 'message:send', { roomId: room.id, text: 'hi', clientId: newClientId() });
    expect(await nextEvent(carolSocket, 'error')).toMatchObject({ error: { code: 'FORBIDDEN' } });
    emitNoAck(carolSocket, 'room:join', { roomId: daveSecret.id });
    expect(await nextEvent(carolSocket, 'error')).toMatchObject({ error: { code: 'NOT_FOUND' } });
    // A success without a callback says nothing.
    emitNoAck(carolSocket, 'typing', { roomId: generalId, isTyping: false });
    const ack = await emitAck(carolSocket, 'presence:list', {});
    expectOk('presence:list', ack);
    expect(received(carolSocket, 'error')).toHaveLength(
      errorsBefore + Object.keys(clientEventSchemas).length + 2,
    );
    expect(carolSocket.connected).toBe(true);
  });
});

describe('rooms the caller may not see or use', () => {
  it('a private room of others is NOT_FOUND for every room event, exactly like a missing room', async () => {
    const clientId = newClientId;
    const cases: [ClientEventName, (roomId: string) => unknown][] = [
      ['room:join', (roomId) => ({ roomId })],
      ['room:leave', (roomId) => ({ roomId })],
      ['message:send', (roomId) => ({ roomId, text: 'let me in', clientId: clientId() })],
      ['messages:fetch', (roomId) => ({ roomId })],
      ['typing', (roomId) => ({ roomId, isTyping: true })],
      ['room:read', (roomId) => ({ roomId, messageId: secretMessage.id })],
    ];
    for (const [event, payload] of cases) {
      const hidden = expectFail(await emitRaw(carolSocket, event, [payload(daveSecret.id)]), 'NOT_FOUND');
      const missing = expectFail(await emitRaw(carolSocket, event, [payload(MISSING_ID)]), 'NOT_FOUND');
      expect(hidden, event).toEqual(missing);
    }
    // Its messages too.
    for (const [event, payload] of [
      ['message:edit', { messageId: secretMessage.id, text: 'edited by an outsider' }],
      ['message:delete', { messageId: secretMessage.id }],
      ['reaction:add', { messageId: secretMessage.id, emoji: '👍' }],
      ['reaction:remove', { messageId: secretMessage.id, emoji: '👍' }],
    ] as const) {
      const hidden = expectFail(await emitRaw(carolSocket, event, [payload]), 'NOT_FOUND');
      const missing = expectFail(
        await emitRaw(carolSocket, event, [{ ...payload, messageId: MISSING_ID }]),
        'NOT_FOUND',
      );
      expect(hidden, event).toEqual(missing);
    }
    // The room is untouched, and its member heard nothing but the marker.
    const history = await fullHistory(call, dave, daveSecret.id);
    expect(history.find((m) => m.id === secretMessage.id)).toMatchObject({
      text: 'top secret',
      deleted: false,
    });
    expect(history.some((m) => m.author?.id === carol.user.id)).toBe(false);
    const inSecret = (p: any) => p.roomId === daveSecret.id;
    await expectNoneBy(daveSocket, await generalMarker(), [
      ['message:new', inSecret],
      ['message:updated', inSecret],
      ['message:deleted', inSecret],
      ['typing', inSecret],
      ['room:member-joined', inSecret],
    ]);
  });

  it('ids too large for any row are NOT_FOUND, not a server error', async () => {
    const huge = '999999999999999999';
    for (const [event, payload] of [
      ['room:join', { roomId: huge }],
      ['messages:fetch', { roomId: huge }],
      ['message:send', { roomId: huge, text: 'x', clientId: newClientId() }],
      ['message:edit', { messageId: huge, text: 'x' }],
      ['message:delete', { messageId: huge }],
      ['reaction:add', { messageId: huge, emoji: '👍' }],
      ['room:read', { roomId: huge, messageId: huge }],
      ['typing', { roomId: huge, isTyping: true }],
    ] as const) {
      expectFail(await emitRaw(carolSocket, event, [payload]), 'NOT_FOUND');
    }
  });

  it('a public room not joined: reading is allowed, sending, typing and read markers are FORBIDDEN', async () => {
    const post = await postMessage(call, dave, davePublic.id, 'public words');
    const fetched = expectOk(
      'messages:fetch',
      await emitAck(carolSocket, 'messages:fetch', { roomId: davePublic.id }),
    );
    expect(fetched.messages.map((m) => m.id)).toContain(post.id);
    const send = { roomId: davePublic.id, text: 'drive-by', clientId: newClientId() };
    expectFail(await emitAck(carolSocket, 'message:send', send), 'FORBIDDEN');
    expectFail(await emitAck(carolSocket, 'typing', { roomId: davePublic.id, isTyping: true }), 'FORBIDDEN');
    expectFail(
      await emitAck(carolSocket, 'room:read', { roomId: davePublic.id, messageId: post.id }),
      'FORBIDDEN',
    );
    // Leaving a room one is not in: there is no membership to end.
    expectFail(await emitAck(carolSocket, 'room:leave', { roomId: davePublic.id }), 'NOT_FOUND');
    const marker = await generalMarker(dave);
    await expectNoEventBeforeMarker(daveSocket, 'typing', (p) => p.roomId === davePublic.id, marker);
    expect((await fullHistory(call, dave, davePublic.id)).some((m) => m.text === 'drive-by')).toBe(false);
  });

  it('general cannot be left; others’ messages cannot be edited, nor deleted by non-owners (FORBIDDEN)', async () => {
    expectFail(await emitAck(bobSocket, 'room:leave', { roomId: generalId }), 'FORBIDDEN');
    expectFail(
      await emitAck(bobSocket, 'message:edit', { messageId: aliceMessage.id, text: 'bob was here' }),
      'FORBIDDEN',
    );
    expectFail(await emitAck(bobSocket, 'message:delete', { messageId: aliceMessage.id }), 'FORBIDDEN');
    // A system message is nobody's to edit.
    const joined = (await fullHistory(call, alice, room.id)).find(
      (m) => m.kind === 'system' && m.author?.id === bob.user.id,
    )!;
    expect(joined).toBeDefined();
    expectFail(await emitAck(bobSocket, 'message:edit', { messageId: joined.id, text: 'x' }), 'FORBIDDEN');
    const stored = (await fullHistory(call, alice, room.id)).find((m) => m.id === aliceMessage.id);
    expect(stored).toMatchObject({ text: 'hello room', editedAt: null, deleted: false });
  });
});

describe('successful events: ack shapes, who hears them and who does not', () => {
  it('message:send acks {message} after storing it; members’ sockets get message:new, others do not', async () => {
    const clientId = newClientId();
    const ack = await emitAck(bobSocket, 'message:send', { roomId: room.id, text: '  hi all  ', clientId });
    const { message } = expectOk('message:send', ack);
    expect(sortedKeys((ack as any).data)).toEqual(['message']);
    expectMessage(message, {
      roomId: room.id,
      kind: 'text',
      text: 'hi all',
      clientId,
      event: null,
      attachment: null,
      editedAt: null,
      deleted: false,
    });
    expectUser(message.author, bob);
    // Stored before the ack.
    expect((await fullHistory(call, alice, room.id)).filter((m) => m.id === message.id)).toEqual([message]);
    for (const s of [aliceSocket, bobSocket, bobTab2])
      expect(await nextEvent(s, 'message:new', (m) => m.id === message.id)).toEqual(message);
    const marker = await generalMarker();
    await expectNoEventBeforeMarker(carolSocket, 'message:new', (m) => m.id === message.id, marker);
    await expectNoEventBeforeMarker(daveSocket, 'message:new', (m) => m.id === message.id, marker);
  });

  it('message:edit acks {message} with editedAt; the room gets message:updated, others do not', async () => {
    const original = await postMessage(call, bob, room.id, 'tpyo');
    const { message } = expectOk(
      'message:edit',
      await emitAck(bobSocket, 'message:edit', { messageId: original.id, text: ' typo ' }),
    );
    expectMessage(message, {
      id: original.id,
      roomId: room.id,
      text: 'typo',
      clientId: null,
      deleted: false,
    });
    expect(Date.parse(message.editedAt!)).toBeGreaterThanOrEqual(Date.parse(original.createdAt));
    expect(message.createdAt).toBe(original.createdAt);
    for (const s of [aliceSocket, bobSocket, bobTab2])
      expect(await nextEvent(s, 'message:updated', (m) => m.id === original.id)).toEqual(message);
    const marker = await generalMarker();
    await expectNoEventBeforeMarker(carolSocket, 'message:updated', (m) => m.id === original.id, marker);
    expect((await fullHistory(call, alice, room.id)).find((m) => m.id === original.id)).toEqual(message);
  });

  it('message:delete acks {} (author, or the room’s owner); the room gets message:deleted, others do not', async () => {
    const mine = await postMessage(call, bob, room.id, 'oops');
    const theirs = await postMessage(call, bob, room.id, 'rude');
    const ack = await emitAck(bobSocket, 'message:delete', { messageId: mine.id });
    expect(ack).toEqual({ ok: true, data: {} });
    // alice owns the room, so she may delete bob's message.
    expect(await emitAck(aliceSocket, 'message:delete', { messageId: theirs.id })).toEqual({
      ok: true,
      data: {},
    });
    for (const id of [mine.id, theirs.id]) {
      for (const s of [aliceSocket, bobSocket, bobTab2])
        expect(await nextEvent(s, 'message:deleted', (p) => p.id === id)).toEqual({ id, roomId: room.id });
    }
    const marker = await generalMarker();
    await expectNoEventBeforeMarker(carolSocket, 'message:deleted', (p) => p.roomId === room.id, marker);
    const history = await fullHistory(call, alice, room.id);
    for (const id of [mine.id, theirs.id])
      expect(history.find((m) => m.id === id)).toMatchObject({ deleted: true, text: '' });
    // Deleting again is not an error, and is not broadcast again.
    expect(await emitAck(bobSocket, 'message:delete', { messageId: mine.id })).toEqual({
      ok: true,
      data: {},
    });
    const marker2 = await generalMarker();
    await nextEvent(aliceSocket, marker2.name, marker2.where);
    expect(received(aliceSocket, 'message:deleted', (p) => p.id === mine.id)).toHaveLength(1);
    // A deleted message cannot be edited.
    expectFail(await emitAck(bobSocket, 'message:edit', { messageId: mine.id, text: 'back' }), 'NOT_FOUND');
  });

  it('messages:fetch acks {messages, hasMore} pages, oldest first, with before/after/limit as REST', async () => {
    const r = await createRoom(call, alice);
    const posted: Message[] = [];
    for (let i = 0; i < 7; i++) posted.push(await postMessage(call, alice, r.id, `m${i}`));
    const all = await fullHistory(call, alice, r.id);
    expect(all.slice(-7)).toEqual(posted);
    const page = expectOk('messages:fetch', await emitAck(carolSocket, 'messages:fetch', { roomId: r.id }));
    expect(sortedKeys(page)).toEqual(['hasMore', 'messages']);
    expect(page).toEqual({ messages: all, hasMore: false });
    for (const m of page.messages) expectMessage(m, { roomId: r.id });
    const latest3 = expectOk(
      'messages:fetch',
      await emitAck(carolSocket, 'messages:fetch', { roomId: r.id, limit: 3 }),
    );
    expect(latest3).toEqual({ messages: posted.slice(4), hasMore: true });
    const before = expectOk(
      'messages:fetch',
      await emitAck(carolSocket, 'messages:fetch', { roomId: r.id, before: posted[4]!.id, limit: 2 }),
    );
    expect(before).toEqual({ messages: posted.slice(2, 4), hasMore: true });
    const after = expectOk(
      'messages:fetch',
      await emitAck(carolSocket, 'messages:fetch', { roomId: r.id, after: posted[2]!.id, limit: 3 }),
    );
    expect(after).toEqual({ messages: posted.slice(3, 6), hasMore: true });
    const tail = expectOk(
      'messages:fetch',
      await emitAck(carolSocket, 'messages:fetch', { roomId: r.id, after: posted[5]!.id }),
    );
    expect(tail).toEqual({ messages: posted.slice(6), hasMore: false });
    const rest = await call('GET', `/api/chatrooms/${r.id}/messages?after=${posted[2]!.id}&limit=3`, {
      token: carol.accessToken,
    });
    expect(rest.body).toEqual(after);
  });

  it('room:join acks {room, messages, online}; room:leave acks {} (details in delivery.test.ts)', async () => {
    const r = await createRoom(call, dave);
    const joined = expectOk('room:join', await emitAck(carolSocket, 'room:join', { roomId: r.id }));
    expect(sortedKeys(joined)).toEqual(['messages', 'online', 'room']);
    expectRoom(joined.room, { id: r.id, isMember: true, memberCount: 2, unreadCount: 0 });
    for (const m of joined.messages) expectMessage(m, { roomId: r.id });
    for (const u of joined.online) expectUser(u);
    expect(await emitAck(carolSocket, 'room:leave', { roomId: r.id })).toEqual({ ok: true, data: {} });
    const left = await call('GET', `/api/chatrooms/${r.id}`, { token: carol.accessToken });
    expect(left.body).toMatchObject({ isMember: false, memberCount: 1 });
  });

  it('a member of a private room may join it (a no-op) and fetch it', async () => {
    const secret = await createRoom(call, dave, 'private');
    await addMember(call, dave, secret.id, carol);
    await nextEvent(carolSocket, 'room:created', (r) => r.id === secret.id);
    const joined = expectOk('room:join', await emitAck(carolSocket, 'room:join', { roomId: secret.id }));
    expectRoom(joined.room, { id: secret.id, kind: 'private', isMember: true, memberCount: 2 });
    // Already a member: no second "joined" entry.
    const history = await fullHistory(call, dave, secret.id);
    expect(history.filter((m) => m.event === 'joined' && m.author?.id === carol.user.id)).toHaveLength(1);
    // Added while connected, her socket was subscribed: she hears the room without asking.
    const hello = await postMessage(call, dave, secret.id, 'welcome aboard');
    expect(await nextEvent(carolSocket, 'message:new', (m) => m.id === hello.id)).toEqual(hello);
  });

  it('typing acks {}; room:read acks {unreadCount}; presence:list acks {users, hasMore, next}', async () => {
    expect(await emitAck(aliceSocket, 'typing', { roomId: room.id, isTyping: false })).toEqual({
      ok: true,
      data: {},
    });
    const read = expectOk(
      'room:read',
      await emitAck(aliceSocket, 'room:read', { roomId: room.id, messageId: aliceMessage.id }),
    );
    expect(sortedKeys(read)).toEqual(['unreadCount']);
    const list = expectOk('presence:list', await emitAck(aliceSocket, 'presence:list', {}));
    expect(sortedKeys(list)).toEqual(['hasMore', 'next', 'users']);
    for (const u of list.users) expectUser(u);
    expect(list.users.map((u) => u.id)).toEqual(
      expect.arrayContaining([alice, bob, carol, dave].map((s) => s.user.id)),
    );
    // With no payload at all, only a callback.
    const bare = await emitRaw(aliceSocket, 'presence:list', []);
    expect(expectOk('presence:list', bare)).toEqual(list);
  });
});

describe('events that concern only the caller', () => {
  it('messages:fetch, room:read and presence:list tell nobody else anything', async () => {
    const concerns = (p: any) => p.roomId === room.id || p.id === room.id;
    const names = ['message:new', 'message:updated', 'message:deleted', 'room:updated', 'typing'] as const;
    const watchers = [aliceSocket, bobTab2, carolSocket];
    const first = await generalMarker();
    const counts = await Promise.all(
      watchers.map(async (s) => {
        await nextEvent(s, first.name, first.where);
        return names.map((name) => received(s, name, concerns).length);
      }),
    );
    expectOk('messages:fetch', await emitAck(bobSocket, 'messages:fetch', { roomId: room.id }));
    expectOk(
      'room:read',
      await emitAck(bobSocket, 'room:read', { roomId: room.id, messageId: aliceMessage.id }),
    );
    expectOk('presence:list', await emitAck(bobSocket, 'presence:list', {}));
    const second = await generalMarker();
    for (const [i, s] of watchers.entries()) {
      await nextEvent(s, second.name, second.where);
      expect(names.map((name) => received(s, name, concerns).length)).toEqual(counts[i]);
    }
  });
});

describe('unknown events', () => {
  it('are ignored and counted; the socket stays connected and keeps working', async () => {
    const before = socketStats.unknownEvents;
    const errorsBefore = received(carolSocket, 'error').length;
    emitNoAck(carolSocket, 'admin:drop-tables', { all: true });
    emitNoAck(carolSocket, 'message:sendd', { roomId: generalId, text: 'typo', clientId: newClientId() });
    (carolSocket.emit as any)('message:delete-all', () => {
      throw new Error('an unknown event must not be acknowledged');
    });
    // The server handles one socket's packets in order: once this is acked, the three above were seen.
    expectOk('presence:list', await emitAck(carolSocket, 'presence:list', {}));
    await waitFor(() => socketStats.unknownEvents >= before + 3, 'the unknown events to be counted');
    expect(socketStats.unknownEvents).toBe(before + 3);
    expect(carolSocket.connected).toBe(true);
    await expectNoneBy(carolSocket, await generalMarker(), [['message:new', (m) => m.text === 'typo']]);
    expect(received(carolSocket, 'error')).toHaveLength(errorsBefore);
  });
});

describe('flood control', () => {
  let flood: TestServer;
  let fcall: Call;
  let fGeneral: string;
  let sender: Session, other: Session, listener: Session;

  beforeAll(async () => {
    flood = await startTestServer({ messageRatePerSec: 5, messageBurst: 10 });
    fcall = client(flood.url);
    [sender, other, listener] = [
      await register(fcall, uniqueName('flood')),
      await register(fcall, uniqueName('calm')),
      await register(fcall, uniqueName('ear')),
    ];
    fGeneral = await generalRoomId(fcall, sender);
  });

  afterAll(async () => {
    await flood?.close();
  });

  it(
    'a burst of 100 sends: RATE_LIMITED beyond the burst, while another user’s messages still flow',
    {
      timeout: 40_000,
    },
    async () => {
      const [s, o, l] = await Promise.all([
        connectReady(flood, sender),
        connectReady(flood, other),
        connectReady(flood, listener),
      ]);
      const t0 = Date.now();
      const burst = Array.from({ length: 100 }, (_, i) =>
        emitAck(s, 'message:send', { roomId: fGeneral, text: `burst ${i}`, clientId: newClientId() }, 15_000),
      );
      const calm = Array.from({ length: 3 }, (_, i) =>
        emitAck(o, 'message:send', { roomId: fGeneral, text: `calm ${i}`, clientId: newClientId() }),
      );
      const [acks, calmAcks] = await Promise.all([Promise.all(burst), Promise.all(calm)]);
      const elapsedSec = (Date.now() - t0) / 1000;
      const ok = acks.filter((a) => a.ok);
      const refused = acks.filter((a) => !a.ok);
      for (const a of refused) expectFail(a, 'RATE_LIMITED');
      // The burst, plus whatever the bucket refilled (5/s) while the burst was being handled.
      expect(ok.length).toBeGreaterThanOrEqual(10);
      expect(ok.length).toBeLessThanOrEqual(10 + Math.ceil(elapsedSec * 5) + 1);
      for (const a of calmAcks) expectOk('message:send', a);
      // Exactly the accepted messages were stored and delivered.
      const okIds = ok.map((a) => (a as any).data.message.id as string);
      for (const a of calmAcks) {
        const m = (a as any).data.message as Message;
        await nextEvent(l, 'message:new', (p) => p.id === m.id);
      }
      const stored = (await fullHistory(fcall, listener, fGeneral)).filter((m) =>
        m.text.startsWith('burst '),
      );
      expect(stored.map((m) => m.id).sort()).toEqual([...okIds].sort());
      await waitFor(
        () => received(l, 'message:new', (m) => m.text.startsWith('burst ')).length === okIds.length,
        'the accepted burst to arrive',
      );
      expect(o.connected).toBe(true);
      // A client flushing a queue is slowed down, not cut off: once it waits what it was told (the event budget
      // counts fixed windows since issue 13, so a spent one refills at its end, at most 2 s here), it is served.
      expect(s.connected).toBe(true);
      const after = await emitAck(s, 'presence:list', {});
      if (!after.ok) {
        expectFail(after, 'RATE_LIMITED');
        const retryAfter = Number((after as { error: { retryAfter?: number } }).error.retryAfter);
        expect(retryAfter).toBeLessThanOrEqual(2);
        await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
        expectOk('presence:list', await emitAck(s, 'presence:list', {}));
      }
      s.disconnect();
      o.disconnect();
      l.disconnect();
    },
  );

  it(
    'a socket flooding hundreds of events is disconnected; other users’ sockets stay',
    {
      timeout: 40_000,
    },
    async () => {
      const flooder = await register(fcall, uniqueName('flooder'));
      const [f, o, l] = await Promise.all([
        connectReady(flood, flooder),
        connectReady(flood, other),
        connectReady(flood, listener),
      ]);
      const before = socketStats.floodDisconnects;
      const gone = disconnected(f, 15_000);
      for (let i = 0; i < 600; i++)
        emitNoAck(f, 'message:send', { roomId: fGeneral, text: `flood ${i}`, clientId: newClientId() });
      expect(await gone).toBe('io server disconnect');
      expect(socketStats.floodDisconnects).toBe(before + 1);
      // It was told why before it was cut off.
      expect(received(f, 'error', (e) => e.error.code === 'RATE_LIMITED').length).toBeGreaterThan(0);
      // The other user's socket is still connected and its messages still flow.
      const ack = await emitAck(o, 'message:send', {
        roomId: fGeneral,
        text: 'still here',
        clientId: newClientId(),
      });
      const { message } = expectOk('message:send', ack);
      await nextEvent(l, 'message:new', (m) => m.id === message.id);
      expect(o.connected).toBe(true);
      expect(l.connected).toBe(true);
      // The flooder may connect again.
      const again = await connectReady(flood, flooder);
      expect(again.connected).toBe(true);
      for (const s of [o, l, again]) s.disconnect();
    },
  );

  it('a flood of unknown events counts as a flood too', { timeout: 40_000 }, async () => {
    const flooder = await register(fcall, uniqueName('junk'));
    const f = await connectReady(flood, flooder);
    const o = await connectReady(flood, other);
    const before = socketStats.floodDisconnects;
    const gone = disconnected(f, 15_000);
    for (let i = 0; i < 600; i++) emitNoAck(f, `junk:${i}`, { i });
    expect(await gone).toBe('io server disconnect');
    expect(socketStats.floodDisconnects).toBe(before + 1);
    expectOk('presence:list', await emitAck(o, 'presence:list', {}));
    expect(o.connected).toBe(true);
    o.disconnect();
  });
});
