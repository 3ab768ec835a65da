import type { Message, Room, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, type Call } from '../src/test-support/server.js';
import { MISSING_ID, expectError, expectStatus } from './helpers/http.js';
import {
  expectNoneBy,
  expectOk,
  fullHistory,
  generalRoomId,
  joinRoom,
  messageMarker,
  newClientId,
  postMessage,
  roomAs,
} from './helpers/realtime.js';
import { emitAck, nextEvent, type ClientSocket } from './helpers/sockets.js';
import { startWorld, type World } from './helpers/world.js';

/*
 * Mentions and notification levels (contract v2): `Message.mentions` resolved by the server on send and edit,
 * `Room.mentionCount` and `Room.notifications`, and PUT /api/chatrooms/:id/notifications. Each: unauthenticated,
 * invalid, forbidden, success, and what the other clients receive.
 */

let world: World;
let call: Call;
/** owner owns the rooms; alice and bob are members; carol is in none of them. */
let owner: Session, alice: Session, bob: Session, carol: Session;
let ownerSocket: ClientSocket, aliceSocket: ClientSocket, bobSocket: ClientSocket, carolSocket: ClientSocket;
let generalId: string;

beforeAll(async () => {
  world = await startWorld();
  call = world.call;
  [owner, alice, bob, carol] = [
    await world.user('own'),
    await world.user('ali'),
    await world.user('bob'),
    await world.user('car'),
  ];
  [ownerSocket, aliceSocket, bobSocket, carolSocket] = [
    await world.connect(owner),
    await world.connect(alice),
    await world.connect(bob),
    await world.connect(carol),
  ];
  generalId = await generalRoomId(call, owner);
});
afterAll(() => world?.close());

/** A room of the owner's with alice and bob in it. */
const room = (kind: 'public' | 'private' = 'public'): Promise<Room> => world.room(owner, [alice, bob], kind);

const notificationsPath = (id: string) => `/api/chatrooms/${id}/notifications`;
const setLevel = (s: Session | null, id: string, body: unknown) =>
  call('PUT', notificationsPath(id), { token: s?.accessToken, body });
const listed = async (s: Session, id: string): Promise<Room> => {
  const res = await call('GET', '/api/chatrooms', { token: s.accessToken });
  expectStatus(res, 200);
  const r = (res.body.rooms as Room[]).find((x) => x.id === id);
  if (!r) throw new Error('room not listed');
  return r;
};
const sendOver = async (socket: ClientSocket, roomId: string, text: string): Promise<Message> =>
  expectOk('message:send', await emitAck(socket, 'message:send', { roomId, text, clientId: newClientId() }))
    .message;

describe('PUT /api/chatrooms/:id/notifications', () => {
  it('answers 401 without a token or with a forged one, and changes nothing', async () => {
    const r = await room();
    for (const token of [undefined, 'not-a-token'])
      expectError(
        await call('PUT', notificationsPath(r.id), { token, body: { level: 'none' } }),
        401,
        'UNAUTHORIZED',
      );
    expect((await roomAs(call, alice, r.id)).notifications).toBe('all');
  });

  it('answers 400 to a missing, unknown or misspelt level, an extra field, or a body that is not JSON', async () => {
    const r = await room();
    for (const body of [
      {},
      { level: 'some' },
      { level: 'ALL' },
      { level: null },
      { level: 'none', x: 1 },
      [],
    ])
      expectError(await setLevel(alice, r.id, body), 400, 'VALIDATION_ERROR');
    const raw = await call('PUT', notificationsPath(r.id), {
      token: alice.accessToken,
      raw: '{"level":',
      headers: { 'content-type': 'application/json' },
    });
    expectError(raw, 400, 'VALIDATION_ERROR');
    expect((await roomAs(call, alice, r.id)).notifications).toBe('all');
  });

  it('answers 404 for ids that are not rooms and for private rooms and DMs the caller cannot see', async () => {
    const priv = await room('private');
    const dm = await call('POST', '/api/dms', { token: alice.accessToken, body: { userId: bob.user.id } });
    expectStatus(dm, 200);
    for (const id of ['abc', '0', '-1', MISSING_ID])
      expectError(await setLevel(alice, id, { level: 'none' }), 404, 'NOT_FOUND');
    expectError(await setLevel(carol, priv.id, { level: 'none' }), 404, 'NOT_FOUND');
    expectError(await setLevel(carol, dm.body.id, { level: 'none' }), 404, 'NOT_FOUND');
  });

  it('answers 403 for a visible public room the caller is not a member of', async () => {
    const r = await room();
    expectError(await setLevel(carol, r.id, { level: 'mentions' }), 403, 'FORBIDDEN');
    expect((await roomAs(call, carol, r.id)).notifications).toBe('all');
  });

  it("stores the member's level: answered as the Room, listed after, the other members' own level unchanged", async () => {
    const r = await room();
    for (const level of ['mentions', 'none', 'all', 'none'] as const) {
      const res = await setLevel(alice, r.id, { level });
      expectStatus(res, 200);
      expect(res.body).toMatchObject({ id: r.id, notifications: level, isMember: true, mentionCount: 0 });
    }
    expect((await listed(alice, r.id)).notifications).toBe('none');
    expect((await roomAs(call, alice, r.id)).notifications).toBe('none');
    expect((await listed(bob, r.id)).notifications).toBe('all');
    expect((await roomAs(call, owner, r.id)).notifications).toBe('all');
  });

  it('works in a DM (default all), and the other participant hears nothing of it', async () => {
    const dm = await call('POST', '/api/dms', { token: owner.accessToken, body: { userId: carol.user.id } });
    expectStatus(dm, 200);
    expect(dm.body.notifications).toBe('all');
    expectStatus(await setLevel(carol, dm.body.id, { level: 'mentions' }), 200);
    const dms = await call('GET', '/api/dms', { token: carol.accessToken });
    expect((dms.body.rooms as Room[]).find((x) => x.id === dm.body.id)!.notifications).toBe('mentions');
    expect((await roomAs(call, owner, dm.body.id)).notifications).toBe('all');
    await expectNoneBy(ownerSocket, await messageMarker(call, carol, generalId), [
      ['room:updated', (p: Room) => p.id === dm.body.id],
    ]);
  });

  it('is kept on the membership: one who leaves and rejoins starts again at all', async () => {
    const r = await room();
    expectStatus(await setLevel(bob, r.id, { level: 'none' }), 200);
    expectStatus(
      await call('DELETE', `/api/chatrooms/${r.id}/members/${bob.user.id}`, { token: bob.accessToken }),
      204,
    );
    await joinRoom(call, bob, r.id);
    expect((await roomAs(call, bob, r.id)).notifications).toBe('all');
  });
});

describe('Message.mentions', () => {
  it('names the members written as @username, case-insensitively, on every path that presents the message', async () => {
    const r = await room();
    const text = `hi @${bob.user.username.toUpperCase()}, and @${owner.user.username}. cc @${carol.user.username} a@b.c @nobody`;
    const sent = await postMessage(call, alice, r.id, text);
    const want = [bob.user.id, owner.user.id].sort((a, b) => Number(a) - Number(b));
    expect(sent.mentions).toEqual(want);
    // What the other clients receive.
    for (const socket of [bobSocket, ownerSocket, aliceSocket]) {
      const got = await nextEvent(socket, 'message:new', (m) => m.id === sent.id);
      expect(got.mentions).toEqual(want);
    }
    // REST history and the socket's fetch.
    expect((await fullHistory(call, bob, r.id)).find((m) => m.id === sent.id)!.mentions).toEqual(want);
    const fetched = expectOk('messages:fetch', await emitAck(bobSocket, 'messages:fetch', { roomId: r.id }));
    expect(fetched.messages.find((m) => m.id === sent.id)!.mentions).toEqual(want);
  });

  it('over the socket too, and a message naming nobody has []', async () => {
    const r = await room();
    const m = await sendOver(aliceSocket, r.id, `(@${bob.user.username}) and plain text`);
    expect(m.mentions).toEqual([bob.user.id]);
    expect((await nextEvent(bobSocket, 'message:new', (x) => x.id === m.id)).mentions).toEqual([bob.user.id]);
    const plain = await sendOver(aliceSocket, r.id, 'no one at all');
    expect(plain.mentions).toEqual([]);
  });

  it('an address, a name glued to a word, or a longer name is not a mention', async () => {
    const r = await room();
    const u = bob.user.username;
    const m = await postMessage(call, alice, r.id, `${u}@example.com x@${u} @${u}x @@${u}`);
    expect(m.mentions).toEqual([]);
  });

  it('a trailing dot is punctuation, unless it is part of a member’s name', async () => {
    const r = await room();
    const name = `${uniqueName('dot')}.`;
    const reg = await call('POST', '/api/auth/register', {
      body: { username: name, email: `${name.slice(0, -1)}@example.com`, password: 'correct-horse-9' },
    });
    expectStatus(reg, 201);
    const dotted: Session = reg.body;
    await joinRoom(call, dotted, r.id);
    const m = await postMessage(call, alice, r.id, `ask @${bob.user.username}. or @${name}`);
    expect(m.mentions).toEqual([bob.user.id, dotted.user.id].sort((a, b) => Number(a) - Number(b)));
    const end = await postMessage(call, alice, r.id, `ping @${name}.`);
    expect(end.mentions).toEqual([dotted.user.id]);
  });

  it('does not resolve people who are not members of the room, until they join', async () => {
    const r = await room();
    const before = await postMessage(call, alice, r.id, `@${carol.user.username} come in`);
    expect(before.mentions).toEqual([]);
    await joinRoom(call, carol, r.id);
    const after = await postMessage(call, alice, r.id, `@${carol.user.username} welcome`);
    expect(after.mentions).toEqual([carol.user.id]);
    expect((await nextEvent(carolSocket, 'message:new', (x) => x.id === after.id)).mentions).toEqual([
      carol.user.id,
    ]);
  });

  it('@room names every member when the owner writes it, and is plain text from anyone else or in a DM', async () => {
    const r = await room('private');
    const all = [owner, alice, bob].map((s) => s.user.id).sort((a, b) => Number(a) - Number(b));
    const byOwner = await postMessage(call, owner, r.id, 'meeting now @room.');
    expect(byOwner.mentions).toEqual(all);
    expect((await nextEvent(bobSocket, 'message:new', (x) => x.id === byOwner.id)).mentions).toEqual(all);
    const byMember = await postMessage(call, alice, r.id, '@room anyone?');
    expect(byMember.mentions).toEqual([]);
    const dm = await call('POST', '/api/dms', { token: alice.accessToken, body: { userId: bob.user.id } });
    expect((await postMessage(call, alice, dm.body.id, '@room hello')).mentions).toEqual([]);
    expect((await postMessage(call, alice, dm.body.id, `@${bob.user.username} hello`)).mentions).toEqual([
      bob.user.id,
    ]);
  });

  it('an edit adds and removes mentions, and message:updated carries them to the room', async () => {
    const r = await room();
    const m = await postMessage(call, alice, r.id, `@${bob.user.username} look`);
    expect(m.mentions).toEqual([bob.user.id]);
    expect((await roomAs(call, bob, r.id)).mentionCount).toBe(1);
    const edited = await call('PATCH', `/api/messages/${m.id}`, {
      token: alice.accessToken,
      body: { text: `@${owner.user.username} look` },
    });
    expectStatus(edited, 200);
    expect(edited.body.mentions).toEqual([owner.user.id]);
    for (const socket of [bobSocket, ownerSocket]) {
      const got = await nextEvent(socket, 'message:updated', (x) => x.id === m.id);
      expect(got.mentions).toEqual([owner.user.id]);
    }
    expect((await roomAs(call, bob, r.id)).mentionCount).toBe(0);
    expect((await roomAs(call, owner, r.id)).mentionCount).toBe(1);
    // Over the socket, back to bob.
    const again = expectOk(
      'message:edit',
      await emitAck(aliceSocket, 'message:edit', { messageId: m.id, text: `again @${bob.user.username}` }),
    );
    expect(again.message.mentions).toEqual([bob.user.id]);
    expect(
      (await nextEvent(bobSocket, 'message:updated', (x) => x.id === m.id && x.mentions.length > 0)).mentions,
    ).toEqual([bob.user.id]);
  });
});

describe('Room.mentionCount', () => {
  it('counts the unread messages that mention the caller, in the list and the room, and reading clears it', async () => {
    const r = await room();
    await postMessage(call, alice, r.id, `@${bob.user.username} one`);
    await postMessage(call, alice, r.id, 'not you');
    const last = await postMessage(call, owner, r.id, `@${bob.user.username} two`);
    const seen = await listed(bob, r.id);
    expect(seen).toMatchObject({ unreadCount: 3, mentionCount: 2 });
    expect((await roomAs(call, bob, r.id)).mentionCount).toBe(2);
    // Nobody else is mentioned; the author of a mention is not counted for writing it.
    expect((await listed(alice, r.id)).mentionCount).toBe(0);
    expect((await listed(carol, r.id)).mentionCount).toBe(0);
    expectOk('room:read', await emitAck(bobSocket, 'room:read', { roomId: r.id, messageId: last.id }));
    expect(await listed(bob, r.id)).toMatchObject({ unreadCount: 0, mentionCount: 0 });
  });

  it('does not count deleted messages, and one mention of a member never matches another id', async () => {
    const r = await room();
    const m = await postMessage(call, alice, r.id, `@${bob.user.username}`);
    await postMessage(call, alice, r.id, `@${owner.user.username}`);
    expect((await roomAs(call, bob, r.id)).mentionCount).toBe(1);
    expectStatus(await call('DELETE', `/api/messages/${m.id}`, { token: alice.accessToken }), 204);
    expect((await roomAs(call, bob, r.id)).mentionCount).toBe(0);
    const history = await fullHistory(call, bob, r.id);
    expect(history.find((x) => x.id === m.id)!.mentions).toEqual([]);
  });

  it('counts @room for every member but the owner who wrote it', async () => {
    const r = await room();
    await postMessage(call, owner, r.id, '@room hello all');
    expect((await roomAs(call, alice, r.id)).mentionCount).toBe(1);
    expect((await roomAs(call, bob, r.id)).mentionCount).toBe(1);
    expect((await roomAs(call, owner, r.id)).mentionCount).toBe(0);
  });
});
