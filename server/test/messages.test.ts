import { randomUUID } from 'node:crypto';
import { MessageSchema, type Message, type Room, type Session } from '@parley/protocol';
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
  emitAck,
  expectNoEventBeforeMarker,
  nextEvent,
  receivedBeforeMarker,
  type ClientSocket,
} from './helpers/sockets.js';
import { ISO, MISSING_ID, expectError, expectStatus, userOf } from './helpers/http.js';
import { MESSAGE_KEYS } from './helpers/realtime.js';

/*
 * Messages over real HTTP and real sockets: sending (idempotent by clientId), history paging both ways, editing,
 * deleting, unread counts, and what the other clients hear.
 */

let server: TestServer;
let call: Call;
/** alice owns the rooms; bob is a member; carol reads public rooms without joining; dave is an outsider. */
let alice: Session, bob: Session, carol: Session, dave: Session;
let aliceSocket: ClientSocket, aliceSocket2: ClientSocket, bobSocket: ClientSocket, carolSocket: ClientSocket;
let generalId: string;

/** Exactly the contract's Message fields, with the right types. */
function expectMessage(m: any, expected: Partial<Message> = {}): Message {
  expect(Object.keys(m).sort()).toEqual(MESSAGE_KEYS);
  expect(() => MessageSchema.parse(m)).not.toThrow();
  expect(m.createdAt).toMatch(ISO);
  if (m.editedAt !== null) expect(m.editedAt).toMatch(ISO);
  expect(m).toMatchObject(expected);
  return m as Message;
}

const byId = (a: { id: string }, b: { id: string }) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1);

async function createRoom(owner: Session, body: Record<string, unknown> = {}): Promise<Room> {
  const res = await call('POST', '/api/chatrooms', {
    token: owner.accessToken,
    body: { name: uniqueName('room'), ...body },
  });
  expectStatus(res, 201);
  return res.body;
}

async function join(s: Session, roomId: string): Promise<void> {
  expectStatus(
    await call('POST', `/api/chatrooms/${roomId}/members`, { token: s.accessToken, body: {} }),
    200,
  );
}

async function send(s: Session, roomId: string, body: Record<string, unknown>): Promise<Res> {
  return call('POST', `/api/chatrooms/${roomId}/messages`, { token: s.accessToken, body });
}

async function post(s: Session, roomId: string, text: string): Promise<Message> {
  const res = await send(s, roomId, { text });
  expectStatus(res, 201);
  return res.body;
}

async function page(s: Session, roomId: string, query = ''): Promise<Res> {
  return call('GET', `/api/chatrooms/${roomId}/messages${query}`, { token: s.accessToken });
}

async function getRoom(s: Session, roomId: string): Promise<Room> {
  const res = await call('GET', `/api/chatrooms/${roomId}`, { token: s.accessToken });
  expectStatus(res, 200);
  return res.body;
}

/** A marker every socket gets: a message in `general`, where every user is a member. */
async function generalMarker() {
  const m = await post(alice, generalId, `marker ${uniqueName('m')}`);
  return { name: 'message:new' as const, where: (p: { id: string }) => p.id === m.id };
}

/** A public room alice owns and bob has joined. */
async function sharedRoom(): Promise<Room> {
  const room = await createRoom(alice);
  await join(bob, room.id);
  return room;
}

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  alice = await register(call, uniqueName('alice'));
  bob = await register(call, uniqueName('bob'));
  carol = await register(call, uniqueName('carol'));
  dave = await register(call, uniqueName('dave'));
  aliceSocket = await connectSocket(server, alice);
  aliceSocket2 = await connectSocket(server, alice);
  bobSocket = await connectSocket(server, bob);
  carolSocket = await connectSocket(server, carol);
  const list = await call('GET', '/api/chatrooms', { token: alice.accessToken });
  generalId = list.body.rooms.find((r: Room) => r.name === 'general').id;
});

afterAll(async () => {
  closeAllSockets();
  await server?.close();
});

describe('authentication', () => {
  it('answers 401 to every message route without a token', async () => {
    const room = await sharedRoom();
    const m = await post(alice, room.id, 'hello');
    const rows: [string, string, unknown?][] = [
      ['GET', `/api/chatrooms/${room.id}/messages`],
      ['POST', `/api/chatrooms/${room.id}/messages`, { text: 'x' }],
      ['PATCH', `/api/messages/${m.id}`, { text: 'x' }],
      ['DELETE', `/api/messages/${m.id}`],
    ];
    for (const [method, path, body] of rows) {
      expectError(await call(method, path, { body }), 401, 'UNAUTHORIZED');
      expectError(await call(method, path, { body, token: 'not-a-token' }), 401, 'UNAUTHORIZED');
    }
    const after = await page(alice, room.id);
    expect(after.body.messages.at(-1)).toMatchObject({ id: m.id, text: 'hello', deleted: false });
  });
});

describe('POST /api/chatrooms/:id/messages', () => {
  it('stores a message (201, exact shape) and broadcasts it to the room, the sender’s sockets included', async () => {
    const room = await sharedRoom();
    const res = await send(alice, room.id, { text: '  hello there  ', clientId: 'c-1' + uniqueName() });
    expectStatus(res, 201);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
    const m = expectMessage(res.body, {
      roomId: room.id,
      kind: 'text',
      author: userOf(alice),
      text: 'hello there',
      attachment: null,
      event: null,
      editedAt: null,
      deleted: false,
    });
    for (const s of [aliceSocket, aliceSocket2, bobSocket])
      expect(await nextEvent(s, 'message:new', (p) => p.id === m.id)).toEqual(m);
    // carol can read the public room but has not joined it: she is not sent its messages.
    await expectNoEventBeforeMarker(carolSocket, 'message:new', (p) => p.id === m.id, await generalMarker());
    // It is the newest entry of the history, and the room's last activity.
    expect((await page(bob, room.id)).body.messages.at(-1)).toEqual(m);
    expect((await getRoom(bob, room.id)).lastMessageAt).toBe(m.createdAt);
  });

  it('accepts exactly 4000 characters', async () => {
    const room = await sharedRoom();
    const m = await post(bob, room.id, 'x'.repeat(4000));
    expect(m.text.length).toBe(4000);
  });

  it.each([
    ['an empty body', {}],
    ['empty text', { text: '' }],
    ['blank text', { text: ' \n\t ' }],
    ['4001 characters', { text: 'x'.repeat(4001) }],
    ['text that is not a string', { text: 5 }],
    ['an unknown field', { text: 'hi', kind: 'system' }],
    ['a clientId with spaces', { text: 'hi', clientId: 'not ok' }],
    ['a clientId of 65 characters', { text: 'hi', clientId: 'c'.repeat(65) }],
    ['an empty clientId', { text: 'hi', clientId: '' }],
    ['an attachmentId that is not one', { attachmentId: 'x' }],
  ])('answers 400 VALIDATION_ERROR to %s', async (_label, body) => {
    const room = await sharedRoom();
    const res = await send(alice, room.id, body);
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(res.body.error.details.length).toBeGreaterThan(0);
    expect((await page(alice, room.id)).body.messages.every((m: Message) => m.kind === 'system')).toBe(true);
  });

  it('answers 400 to malformed JSON', async () => {
    const room = await sharedRoom();
    expectError(
      await call('POST', `/api/chatrooms/${room.id}/messages`, { token: alice.accessToken, raw: '{"text":' }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('refuses a non-member of a public room (403) and hides a private room (404)', async () => {
    const pub = await createRoom(alice);
    expectError(await send(carol, pub.id, { text: 'let me in' }), 403, 'FORBIDDEN');
    const priv = await createRoom(alice, { kind: 'private' });
    const hidden = await send(dave, priv.id, { text: 'hello?' });
    const missing = await send(dave, MISSING_ID, { text: 'hello?' });
    expectError(hidden, 404, 'NOT_FOUND');
    expect(hidden.body).toEqual(missing.body);
    expect((await page(alice, priv.id)).body.messages.some((m: Message) => m.kind === 'text')).toBe(false);
  });

  it('is idempotent by clientId: a resend answers the stored message and is not broadcast again', async () => {
    const room = await sharedRoom();
    const clientId = randomUUID();
    const first = await send(alice, room.id, { text: 'once', clientId });
    expectStatus(first, 201);
    expect(first.body.clientId).toBe(clientId);
    const again = await send(alice, room.id, { text: 'once', clientId });
    expectStatus(again, 201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    // Even a resend with other text is the same send.
    const changed = await send(alice, room.id, { text: 'once more', clientId });
    expect(changed.body).toEqual(first.body);

    const marker = await post(alice, room.id, 'after the resends');
    const seen = await receivedBeforeMarker(bobSocket, 'message:new', (m) => m.clientId === clientId, {
      name: 'message:new',
      where: (m) => m.id === marker.id,
    });
    expect(seen).toEqual([first.body]);
    const stored = (await page(bob, room.id)).body.messages.filter((m: Message) => m.clientId === clientId);
    expect(stored).toEqual([first.body]);
  });

  it('a clientId used in one room is a 409 CONFLICT in another; other users have their own clientIds', async () => {
    const room = await sharedRoom();
    const other = await sharedRoom();
    const clientId = randomUUID();
    expectStatus(await send(alice, room.id, { text: 'here', clientId }), 201);
    expectError(await send(alice, other.id, { text: 'there', clientId }), 409, 'CONFLICT');
    expect((await page(alice, other.id)).body.messages.some((m: Message) => m.clientId === clientId)).toBe(
      false,
    );
    const bobs = await send(bob, room.id, { text: 'mine', clientId });
    expectStatus(bobs, 201);
    expect(bobs.headers.get('idempotent-replayed')).toBeNull();
    expect(bobs.body.author.id).toBe(bob.user.id);
  });

  it('the same send over the socket and over REST is one message', async () => {
    const room = await sharedRoom();
    const clientId = randomUUID();
    const ack = await emitAck(aliceSocket, 'message:send', {
      roomId: room.id,
      text: 'socket first',
      clientId,
    });
    expect(ack.ok).toBe(true);
    const viaSocket = (ack as { ok: true; data: { message: Message } }).data.message;
    const viaRest = await send(alice, room.id, { text: 'socket first', clientId });
    expectStatus(viaRest, 201);
    expect(viaRest.headers.get('idempotent-replayed')).toBe('true');
    expect(viaRest.body).toEqual(viaSocket);
  });
});

describe('GET /api/chatrooms/:id/messages', () => {
  let room: Room;
  let sent: Message[];

  beforeAll(async () => {
    room = await createRoom(alice);
    sent = [];
    for (let i = 1; i <= 120; i++) sent.push(await post(alice, room.id, `n${i}`));
  });

  const texts = (ms: Message[]) => ms.filter((m) => m.kind === 'text').map((m) => m.text);
  const expectAscending = (ms: Message[]) => expect([...ms].sort(byId)).toEqual(ms);

  it('gives the newest 50 by default, oldest first, with hasMore', async () => {
    const res = await page(carol, room.id);
    expectStatus(res, 200);
    expect(Object.keys(res.body).sort()).toEqual(['hasMore', 'messages']);
    expect(res.body.hasMore).toBe(true);
    expect(res.body.messages).toHaveLength(50);
    expectAscending(res.body.messages);
    expect(res.body.messages).toEqual(sent.slice(70));
    for (const m of res.body.messages) expectMessage(m);
  });

  it('walks back with `before` until hasMore is false, seeing every message once', async () => {
    const seen: Message[] = [];
    let res = await page(carol, room.id, '?limit=30');
    let pages = 0;
    for (;;) {
      expectStatus(res, 200);
      expectAscending(res.body.messages);
      seen.unshift(...res.body.messages);
      pages++;
      if (!res.body.hasMore) break;
      res = await page(carol, room.id, `?limit=30&before=${res.body.messages[0].id}`);
    }
    // 120 texts plus alice's join: 121 entries, so 5 pages of 30 with the last one short.
    expect(pages).toBe(5);
    expect(seen).toHaveLength(121);
    expect(new Set(seen.map((m) => m.id)).size).toBe(121);
    expectAscending(seen);
    expect(texts(seen)).toEqual(sent.map((m) => m.text));
    expect(seen[0]).toMatchObject({ kind: 'system', event: 'joined' });
  });

  it('walks forward with `after` from the first id, seeing every later message once', async () => {
    const first = (await page(carol, room.id, '?limit=1&before=' + sent[0]!.id)).body.messages[0];
    expect(first).toMatchObject({ kind: 'system', event: 'joined' });
    const seen: Message[] = [];
    let cursor = first.id;
    for (;;) {
      const res = await page(carol, room.id, `?after=${cursor}&limit=100`);
      expectStatus(res, 200);
      expectAscending(res.body.messages);
      seen.push(...res.body.messages);
      if (!res.body.hasMore) break;
      cursor = res.body.messages.at(-1).id;
    }
    expect(seen).toEqual(sent);
    // Nothing after the newest message.
    const tail = await page(carol, room.id, `?after=${sent.at(-1)!.id}`);
    expect(tail.body).toEqual({ messages: [], hasMore: false });
  });

  it('forward pages default to 50 and stop with hasMore false', async () => {
    const res = await page(carol, room.id, `?after=${sent[0]!.id}`);
    expect(res.body.messages).toEqual(sent.slice(1, 51));
    expect(res.body.hasMore).toBe(true);
    const last = await page(carol, room.id, `?after=${sent[69]!.id}`);
    expect(last.body.messages).toEqual(sent.slice(70));
    expect(last.body.hasMore).toBe(false);
  });

  it('allows limit up to 100', async () => {
    const res = await page(carol, room.id, '?limit=100');
    expect(res.body.messages).toEqual(sent.slice(20));
    expect(res.body.hasMore).toBe(true);
    const one = await page(carol, room.id, '?limit=1');
    expect(one.body).toEqual({ messages: [sent.at(-1)], hasMore: true });
  });

  it.each([
    ['limit=101', '?limit=101'],
    ['limit=0', '?limit=0'],
    ['limit=-1', '?limit=-1'],
    ['limit=2.5', '?limit=2.5'],
    ['limit=abc', '?limit=abc'],
    ['before=abc', '?before=abc'],
    ['before=0', '?before=0'],
    ['after=-5', '?after=-5'],
    ['after=1e3', '?after=1e3'],
  ])('answers 400 VALIDATION_ERROR to %s', async (_label, query) => {
    const res = await page(carol, room.id, query);
    expectError(res, 400, 'VALIDATION_ERROR');
  });

  it('hides a private room’s history from outsiders (404, as for a missing room)', async () => {
    const priv = await createRoom(alice, { kind: 'private' });
    await post(alice, priv.id, 'secret');
    const hidden = await page(dave, priv.id);
    const missing = await page(dave, MISSING_ID);
    expectError(hidden, 404, 'NOT_FOUND');
    expect(hidden.body).toEqual(missing.body);
    expectStatus(await page(alice, priv.id), 200);
  });
});

describe('PATCH /api/messages/:id', () => {
  it('lets the author edit; the room hears message:updated', async () => {
    const room = await sharedRoom();
    const m = await post(alice, room.id, 'draft');
    const res = await call('PATCH', `/api/messages/${m.id}`, {
      token: alice.accessToken,
      body: { text: '  final  ' },
    });
    expectStatus(res, 200);
    const edited = expectMessage(res.body, {
      id: m.id,
      text: 'final',
      createdAt: m.createdAt,
      deleted: false,
    });
    expect(edited.editedAt).toMatch(ISO);
    for (const s of [bobSocket, aliceSocket2])
      expect(await nextEvent(s, 'message:updated', (p) => p.id === m.id)).toEqual(edited);
    expect((await page(bob, room.id)).body.messages.find((x: Message) => x.id === m.id)).toEqual(edited);
  });

  it('refuses anyone but the author (403), the room owner included', async () => {
    const room = await sharedRoom();
    const m = await post(bob, room.id, 'bob wrote this');
    for (const s of [alice, carol]) {
      const res = await call('PATCH', `/api/messages/${m.id}`, {
        token: s.accessToken,
        body: { text: 'nope' },
      });
      expectError(res, 403, 'FORBIDDEN');
    }
    expect((await page(bob, room.id)).body.messages.at(-1)).toMatchObject({
      text: 'bob wrote this',
      editedAt: null,
    });
  });

  it('refuses to edit a system message (403)', async () => {
    const room = await sharedRoom();
    const joined = (await page(bob, room.id)).body.messages.find(
      (m: Message) => m.event === 'joined' && m.author?.id === bob.user.id,
    );
    const res = await call('PATCH', `/api/messages/${joined.id}`, {
      token: bob.accessToken,
      body: { text: 'hacked' },
    });
    expectError(res, 403, 'FORBIDDEN');
  });

  it('a deleted message cannot be edited (404)', async () => {
    const room = await sharedRoom();
    const m = await post(bob, room.id, 'gone soon');
    expectStatus(await call('DELETE', `/api/messages/${m.id}`, { token: bob.accessToken }), 204);
    const res = await call('PATCH', `/api/messages/${m.id}`, {
      token: bob.accessToken,
      body: { text: 'back' },
    });
    expectError(res, 404, 'NOT_FOUND');
  });

  it.each([
    ['an empty body', {}],
    ['empty text', { text: '' }],
    ['blank text', { text: '   ' }],
    ['4001 characters', { text: 'y'.repeat(4001) }],
    ['text that is not a string', { text: null }],
    ['an unknown field', { text: 'ok', roomId: '1' }],
  ])('answers 400 VALIDATION_ERROR to %s', async (_label, body) => {
    const room = await sharedRoom();
    const m = await post(alice, room.id, 'original');
    const res = await call('PATCH', `/api/messages/${m.id}`, { token: alice.accessToken, body });
    expectError(res, 400, 'VALIDATION_ERROR');
  });

  it('hides messages of a private room from outsiders: 404 as for a missing message', async () => {
    const priv = await createRoom(alice, { kind: 'private' });
    const m = await post(alice, priv.id, 'secret');
    const hidden = await call('PATCH', `/api/messages/${m.id}`, {
      token: dave.accessToken,
      body: { text: 'x' },
    });
    const missing = await call('PATCH', `/api/messages/${MISSING_ID}`, {
      token: dave.accessToken,
      body: { text: 'x' },
    });
    expectError(hidden, 404, 'NOT_FOUND');
    expect(hidden.body).toEqual(missing.body);
    for (const id of ['abc', '0']) {
      expectError(
        await call('PATCH', `/api/messages/${id}`, { token: dave.accessToken, body: { text: 'x' } }),
        404,
        'NOT_FOUND',
      );
    }
  });
});

describe('DELETE /api/messages/:id', () => {
  it('lets the author delete; the room hears message:deleted; history keeps a tombstone', async () => {
    const room = await sharedRoom();
    const m = await post(bob, room.id, 'oops');
    const res = await call('DELETE', `/api/messages/${m.id}`, { token: bob.accessToken });
    expectStatus(res, 204);
    expect(res.body).toBeUndefined();
    for (const s of [aliceSocket, aliceSocket2, bobSocket])
      expect(await nextEvent(s, 'message:deleted', (p) => p.id === m.id)).toEqual({
        id: m.id,
        roomId: room.id,
      });
    const tomb = (await page(alice, room.id)).body.messages.find((x: Message) => x.id === m.id);
    expectMessage(tomb, { id: m.id, deleted: true, text: '', attachment: null, author: userOf(bob) });
    // Deleting again is not an error and broadcasts nothing.
    expectStatus(await call('DELETE', `/api/messages/${m.id}`, { token: bob.accessToken }), 204);
    const marker = await generalMarker();
    const deletions = await receivedBeforeMarker(bobSocket, 'message:deleted', (p) => p.id === m.id, marker);
    expect(deletions).toHaveLength(1);
  });

  it('lets the room owner delete someone else’s message', async () => {
    const room = await sharedRoom();
    const m = await post(bob, room.id, 'rude');
    expectStatus(await call('DELETE', `/api/messages/${m.id}`, { token: alice.accessToken }), 204);
    await nextEvent(bobSocket, 'message:deleted', (p) => p.id === m.id);
    expect((await page(bob, room.id)).body.messages.find((x: Message) => x.id === m.id)).toMatchObject({
      deleted: true,
      text: '',
    });
  });

  it('refuses members who are neither author nor owner, and non-members (403)', async () => {
    const room = await sharedRoom();
    await join(carol, room.id);
    const m = await post(alice, room.id, 'the owner’s words');
    for (const s of [bob, carol, dave]) {
      expectError(await call('DELETE', `/api/messages/${m.id}`, { token: s.accessToken }), 403, 'FORBIDDEN');
    }
    expect((await page(bob, room.id)).body.messages.find((x: Message) => x.id === m.id).deleted).toBe(false);
  });

  it('hides messages of a private room from outsiders: 404 as for a missing message', async () => {
    const priv = await createRoom(alice, { kind: 'private' });
    const m = await post(alice, priv.id, 'secret');
    const hidden = await call('DELETE', `/api/messages/${m.id}`, { token: dave.accessToken });
    const missing = await call('DELETE', `/api/messages/${MISSING_ID}`, { token: dave.accessToken });
    expectError(hidden, 404, 'NOT_FOUND');
    expect(hidden.body).toEqual(missing.body);
    expect((await page(alice, priv.id)).body.messages.at(-1)).toMatchObject({ id: m.id, deleted: false });
  });
});

describe('unreadCount', () => {
  it('counts others’ messages after the read marker; own, system and deleted messages do not count', async () => {
    const room = await sharedRoom();
    expect((await getRoom(bob, room.id)).unreadCount).toBe(0);
    await post(alice, room.id, 'one');
    await post(alice, room.id, 'two');
    const three = await post(alice, room.id, 'three');
    expect((await getRoom(bob, room.id)).unreadCount).toBe(3);
    expect((await getRoom(alice, room.id)).unreadCount).toBe(0);
    const listed = (await call('GET', '/api/chatrooms', { token: bob.accessToken })).body.rooms.find(
      (r: Room) => r.id === room.id,
    );
    expect(listed.unreadCount).toBe(3);

    // A system message (carol joins) does not count; a deleted message stops counting.
    await join(carol, room.id);
    expect((await getRoom(bob, room.id)).unreadCount).toBe(3);
    expectStatus(await call('DELETE', `/api/messages/${three.id}`, { token: alice.accessToken }), 204);
    expect((await getRoom(bob, room.id)).unreadCount).toBe(2);

    // Reading moves the marker.
    const read = await emitAck(bobSocket, 'room:read', { roomId: room.id, messageId: three.id });
    expect(read).toEqual({ ok: true, data: { unreadCount: 0 } });
    expect((await getRoom(bob, room.id)).unreadCount).toBe(0);
    await post(carol, room.id, 'four');
    expect((await getRoom(bob, room.id)).unreadCount).toBe(1);

    // Writing in the room reads it, and one's own message never counts.
    await post(bob, room.id, 'my reply');
    expect((await getRoom(bob, room.id)).unreadCount).toBe(0);
    expect((await getRoom(alice, room.id)).unreadCount).toBe(2);
  });

  it('a non-member has no unread messages in a public room', async () => {
    const room = await createRoom(alice);
    await post(alice, room.id, 'hello');
    expect(await getRoom(carol, room.id)).toMatchObject({ isMember: false, unreadCount: 0 });
  });
});
