import type { Message, Room, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generousWriteLimits, uniqueName, type Call, type TestServer } from '../src/test-support/server.js';
import { MISSING_ID, expectError, expectStatus } from './helpers/http.js';
import {
  expectFail,
  expectMessage,
  expectOk,
  expectValidation,
  fullHistory,
  joinRoom,
  messageMarker,
  postMessage,
} from './helpers/realtime.js';
import {
  emitAck,
  expectNoEventBeforeMarker,
  nextEvent,
  receivedBeforeMarker,
  type ClientSocket,
} from './helpers/sockets.js';
import { startWorld, type World } from './helpers/world.js';

/*
 * Reactions (contract v2, issue 16) over real HTTP and sockets, on the run's database: adding and taking back,
 * idempotency, the 20-emoji cap, who may react, what the room hears, and every read that shows them (history
 * pages both ways and around, messages:fetch, room:join, search), across edits and deletes.
 */

let world: World;
let server: TestServer;
let call: Call;
/** alice owns the rooms; bob is a member; carol has joined none of them; dave is an outsider. */
let alice: Session, bob: Session, carol: Session, dave: Session;
let aliceSocket: ClientSocket, bobSocket: ClientSocket, carolSocket: ClientSocket;

const reactPath = (id: string) => `/api/messages/${id}/reactions`;
const add = (s: Session | null, id: string, emoji: unknown) =>
  call('POST', reactPath(id), { token: s?.accessToken, body: { emoji } });
const remove = (s: Session | null, id: string, emoji: string) =>
  call('DELETE', `${reactPath(id)}/${encodeURIComponent(emoji)}`, { token: s?.accessToken });

/** A public room alice owns, bob in it, and a message of bob there. */
async function setting(kind: 'public' | 'private' = 'public'): Promise<{ room: Room; m: Message }> {
  const room = await world.room(alice, [bob], kind);
  await nextEvent(
    aliceSocket,
    'room:member-joined',
    (p) => p.roomId === room.id && p.user.id === bob.user.id,
  );
  const m = await postMessage(call, bob, room.id, `react to me ${uniqueName('t')}`);
  await nextEvent(aliceSocket, 'message:new', (p) => p.id === m.id);
  return { room, m };
}

/** The rows of the truth table for a message, as (userId, emoji) in reaction order. */
async function stored(messageId: string): Promise<[string, string][]> {
  const [rows] = await server.parley.ctx.db.sequelize.query(
    'SELECT "userId", emoji FROM message_reactions WHERE "messageId" = :id ORDER BY id',
    { replacements: { id: Number(messageId) } },
  );
  return (rows as { userId: number; emoji: string }[]).map((r) => [String(r.userId), r.emoji]);
}

/** Every message:updated of `m` alice's socket got, up to a marker in its room (all the room was told before). */
const updatesOf = async (m: Message, room: Room) =>
  receivedBeforeMarker(
    aliceSocket,
    'message:updated',
    (p) => p.id === m.id,
    await messageMarker(call, alice, room.id),
  );

const historyOf = async (s: Session, room: Room, id: string) =>
  (await fullHistory(call, s, room.id)).find((x) => x.id === id)!;

beforeAll(async () => {
  world = await startWorld();
  ({ server, call } = world);
  [alice, bob, carol, dave] = [
    await world.user('alice'),
    await world.user('bob'),
    await world.user('carol'),
    await world.user('dave'),
  ];
  [aliceSocket, bobSocket, carolSocket] = [
    await world.connect(alice),
    await world.connect(bob),
    await world.connect(carol),
  ];
});
afterAll(() => world?.close());

describe('authentication', () => {
  it('answers 401 to both routes without a token or with a bad one, and changes nothing', async () => {
    const { room, m } = await setting();
    for (const token of [undefined, 'not-a-token']) {
      const opts = { token, body: { emoji: '👍' } };
      expectError(await call('POST', reactPath(m.id), opts), 401, 'UNAUTHORIZED');
      expectError(await call('DELETE', `${reactPath(m.id)}/%F0%9F%91%8D`, { token }), 401, 'UNAUTHORIZED');
    }
    expect((await historyOf(alice, room, m.id)).reactions).toEqual([]);
  });
});

describe('POST /api/messages/:id/reactions', () => {
  it('adds a reaction (200, the message) and the room hears message:updated with it; history shows it', async () => {
    const { room, m } = await setting();
    const res = await add(alice, m.id, '👍');
    expectStatus(res, 200);
    expectMessage(res.body, { id: m.id, text: m.text, editedAt: null });
    expect(res.body.reactions).toEqual([{ emoji: '👍', count: 1, userIds: [alice.user.id] }]);
    for (const s of [aliceSocket, bobSocket])
      expect(await nextEvent(s, 'message:updated', (p) => p.id === m.id)).toEqual(res.body);
    // carol may read the public room but has not joined it: she hears nothing of it.
    await expectNoEventBeforeMarker(
      carolSocket,
      'message:updated',
      (p) => p.id === m.id,
      await messageMarker(call, carol, await generalId()),
    );
    expect(await historyOf(carol, room, m.id)).toEqual(res.body);
    expect(await stored(m.id)).toEqual([[alice.user.id, '👍']]);
  });

  it('is idempotent: the same reaction twice is one, answered alike, and told to the room once', async () => {
    const { room, m } = await setting();
    const first = await add(bob, m.id, '🎉');
    const again = await add(bob, m.id, '🎉');
    expectStatus(again, 200);
    expect(again.body).toEqual(first.body);
    expect(again.body.reactions).toEqual([{ emoji: '🎉', count: 1, userIds: [bob.user.id] }]);
    expect(await updatesOf(m, room)).toHaveLength(1);
    expect(await stored(m.id)).toEqual([[bob.user.id, '🎉']]);
  });

  it('counts users per emoji, in the order each emoji was first added and users reacted; ❤ and ❤️ are one', async () => {
    const { m } = await setting();
    await add(bob, m.id, '😂');
    await add(alice, m.id, '❤');
    await add(bob, m.id, '❤️');
    const res = await add(alice, m.id, '😂');
    expect(res.body.reactions).toEqual([
      { emoji: '😂', count: 2, userIds: [bob.user.id, alice.user.id] },
      { emoji: '❤️', count: 2, userIds: [alice.user.id, bob.user.id] },
    ]);
  });

  it.each([
    ['a word', { emoji: 'ok' }],
    ['two emoji', { emoji: '👍👍' }],
    ['an empty string', { emoji: '' }],
    ['a number', { emoji: 5 }],
    ['a long string', { emoji: '👍'.repeat(40) }],
    ['no emoji', {}],
    ['an unknown field', { emoji: '👍', userId: '1' }],
  ])('answers 400 VALIDATION_ERROR to %s, and changes nothing', async (_label, body) => {
    const { m } = await setting();
    const res = await call('POST', reactPath(m.id), { token: bob.accessToken, body });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(res.body.error.details.length).toBeGreaterThan(0);
    expect(await stored(m.id)).toEqual([]);
  });

  it('takes at most 20 different emoji: the 21st answers 400 naming the limit; those there still work', async () => {
    const { room, m } = await setting();
    const twenty = [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗'];
    expect(twenty).toHaveLength(20);
    for (const e of twenty) expectStatus(await add(alice, m.id, e), 200);
    const refused = await add(bob, m.id, '🤔');
    expectError(refused, 400, 'VALIDATION_ERROR');
    expect(refused.body.error.details).toEqual([
      { path: 'emoji', message: expect.stringMatching(/at most 20 different reactions/) },
    ]);
    // Joining one of the twenty, taking one back and adding it again all work.
    expect((await add(bob, m.id, '😀')).body.reactions[0]).toEqual({
      emoji: '😀',
      count: 2,
      userIds: [alice.user.id, bob.user.id],
    });
    expectStatus(await remove(alice, m.id, '🤗'), 200);
    expect((await add(alice, m.id, '🤗')).body.reactions).toHaveLength(20);
    // With one emoji gone entirely, a new one fits.
    expectStatus(await remove(alice, m.id, '🙂'), 200);
    const last = await add(bob, m.id, '🤔');
    expectStatus(last, 200);
    expect(last.body.reactions.map((r: { emoji: string }) => r.emoji)).toEqual([
      ...twenty.filter((e) => e !== '🙂' && e !== '🤗'),
      '🤗',
      '🤔',
    ]);
    expect((await historyOf(alice, room, m.id)).reactions).toEqual(last.body.reactions);
  });

  it('lists the first 50 users of an emoji, and counts them all', async () => {
    const { room, m } = await setting();
    const users = [];
    for (let i = 0; i < 52; i++) {
      const u = await world.user('fan');
      await joinRoom(call, u, room.id);
      users.push(u);
    }
    for (const u of users) expectStatus(await add(u, m.id, '🔥'), 200);
    const [fire] = (await historyOf(alice, room, m.id)).reactions;
    expect(fire).toEqual({ emoji: '🔥', count: 52, userIds: users.slice(0, 50).map((u) => u.user.id) });
    // The first one leaves the list: the 51st comes in.
    const after = await remove(users[0]!, m.id, '🔥');
    expect(after.body.reactions[0]).toEqual({
      emoji: '🔥',
      count: 51,
      userIds: users.slice(1, 51).map((u) => u.user.id),
    });
  });

  it('refuses a non-member of a public room (403), hides a private room (404 like a missing message)', async () => {
    const pub = await setting();
    expectError(await add(carol, pub.m.id, '👍'), 403, 'FORBIDDEN');
    expectError(await remove(carol, pub.m.id, '👍'), 403, 'FORBIDDEN');
    const priv = await setting('private');
    const hidden = await add(dave, priv.m.id, '👍');
    const missing = await add(dave, MISSING_ID, '👍');
    expectError(hidden, 404, 'NOT_FOUND');
    expect(hidden.body).toEqual(missing.body);
    expect((await remove(dave, priv.m.id, '👍')).body).toEqual((await remove(dave, MISSING_ID, '👍')).body);
    expectError(await add(dave, 'abc', '👍'), 404, 'NOT_FOUND');
    expect(await stored(pub.m.id)).toEqual([]);
    expect(await stored(priv.m.id)).toEqual([]);
  });

  it('refuses a user the owner kicked (banned): 403 in a public room, 404 in a private one', async () => {
    for (const kind of ['public', 'private'] as const) {
      const { room, m } = await setting(kind);
      expectStatus(await add(bob, m.id, '👍'), 200);
      expectStatus(
        await call('DELETE', `/api/chatrooms/${room.id}/members/${bob.user.id}`, {
          token: alice.accessToken,
        }),
        204,
      );
      const code = kind === 'public' ? 403 : 404;
      expectError(await add(bob, m.id, '🎉'), code, code === 403 ? 'FORBIDDEN' : 'NOT_FOUND');
      expectError(await remove(bob, m.id, '👍'), code, code === 403 ? 'FORBIDDEN' : 'NOT_FOUND');
      expect(await stored(m.id)).toEqual([[bob.user.id, '👍']]);
    }
  });

  it('refuses a system message (403) and a deleted message (404, as edits do)', async () => {
    const { room, m } = await setting();
    const system = (await fullHistory(call, alice, room.id)).find((x) => x.kind === 'system')!;
    expectError(await add(alice, system.id, '👍'), 403, 'FORBIDDEN');
    expectStatus(await call('DELETE', `/api/messages/${m.id}`, { token: bob.accessToken }), 204);
    expectError(await add(alice, m.id, '👍'), 404, 'NOT_FOUND');
    expectError(await remove(alice, m.id, '👍'), 404, 'NOT_FOUND');
  });
});

describe('DELETE /api/messages/:id/reactions/:emoji', () => {
  it('takes back only the caller’s reaction (200, the message); the room hears it; again changes nothing', async () => {
    const { room, m } = await setting();
    await add(alice, m.id, '👍');
    await add(bob, m.id, '👍');
    await add(bob, m.id, '👀');
    const res = await remove(bob, m.id, '👍');
    expectStatus(res, 200);
    expectMessage(res.body, { id: m.id });
    expect(res.body.reactions).toEqual([
      { emoji: '👍', count: 1, userIds: [alice.user.id] },
      { emoji: '👀', count: 1, userIds: [bob.user.id] },
    ]);
    const told = await nextEvent(
      aliceSocket,
      'message:updated',
      (p) => p.id === m.id && p.reactions.length === 2 && p.reactions[0]!.count === 1,
    );
    expect(told).toEqual(res.body);
    const again = await remove(bob, m.id, '👍');
    expect(again.body).toEqual(res.body);
    // The last one of an emoji takes it off the message.
    const gone = await remove(bob, m.id, '👀');
    expect(gone.body.reactions).toEqual([{ emoji: '👍', count: 1, userIds: [alice.user.id] }]);
    // Nobody reacted with 🎉: nothing to take back, nothing told.
    expect((await remove(bob, m.id, '🎉')).body).toEqual(gone.body);
    // add, add, add, remove, remove: five changes; the two no-ops told nothing.
    expect(await updatesOf(m, room)).toHaveLength(5);
    expect(await stored(m.id)).toEqual([[alice.user.id, '👍']]);
  });

  it('reads the emoji URL-encoded, normalised as a body’s (❤ takes back ❤️)', async () => {
    const { m } = await setting();
    await add(bob, m.id, '❤️');
    const res = await remove(bob, m.id, '❤');
    expectStatus(res, 200);
    expect(res.body.reactions).toEqual([]);
  });

  it.each([
    ['a word', 'ok'],
    ['two emoji', '👍👍'],
    ['a long string', 'x'.repeat(200)],
    ['a broken encoding', null],
  ])('answers 400 VALIDATION_ERROR naming emoji to %s', async (_label, emoji) => {
    const { m } = await setting();
    await add(bob, m.id, '👍');
    const path =
      emoji === null ? `${reactPath(m.id)}/%F0%9F` : `${reactPath(m.id)}/${encodeURIComponent(emoji)}`;
    const res = await call('DELETE', path, { token: bob.accessToken });
    expectError(res, 400, 'VALIDATION_ERROR');
    if (emoji !== null) expect(res.body.error.details[0].path).toBe('emoji');
    expect(await stored(m.id)).toEqual([[bob.user.id, '👍']]);
  });
});

describe('reaction:add and reaction:remove', () => {
  it('ack {message}; the other clients hear message:updated; both are idempotent', async () => {
    const { room, m } = await setting();
    const added = expectOk(
      'reaction:add',
      await emitAck(bobSocket, 'reaction:add', { messageId: m.id, emoji: '🚀' }),
    );
    expect(added.message.reactions).toEqual([{ emoji: '🚀', count: 1, userIds: [bob.user.id] }]);
    expect(await nextEvent(aliceSocket, 'message:updated', (p) => p.id === m.id)).toEqual(added.message);
    const twice = expectOk(
      'reaction:add',
      await emitAck(bobSocket, 'reaction:add', { messageId: m.id, emoji: '🚀' }),
    );
    expect(twice.message).toEqual(added.message);
    const removed = expectOk(
      'reaction:remove',
      await emitAck(bobSocket, 'reaction:remove', { messageId: m.id, emoji: '🚀' }),
    );
    expect(removed.message.reactions).toEqual([]);
    expect(await nextEvent(aliceSocket, 'message:updated', (p) => p.id === m.id)).toEqual(removed.message);
    expectOk(
      'reaction:remove',
      await emitAck(bobSocket, 'reaction:remove', { messageId: m.id, emoji: '🚀' }),
    );
    expect(await updatesOf(m, room)).toEqual([added.message, removed.message]);
  });

  it('answers VALIDATION_ERROR for a bad emoji, FORBIDDEN for a non-member, NOT_FOUND for a hidden message', async () => {
    const pub = await setting();
    expectValidation(await emitAck(bobSocket, 'reaction:add', { messageId: pub.m.id, emoji: 'ok' }), 'emoji');
    expectFail(await emitAck(carolSocket, 'reaction:add', { messageId: pub.m.id, emoji: '👍' }), 'FORBIDDEN');
    const priv = await setting('private');
    const hidden = expectFail(
      await emitAck(carolSocket, 'reaction:remove', { messageId: priv.m.id, emoji: '👍' }),
      'NOT_FOUND',
    );
    expect(hidden).toEqual(
      expectFail(
        await emitAck(carolSocket, 'reaction:remove', { messageId: MISSING_ID, emoji: '👍' }),
        'NOT_FOUND',
      ),
    );
    // The 21st through the socket too.
    for (const e of [...'😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙😚🙂🤗'])
      expectOk('reaction:add', await emitAck(bobSocket, 'reaction:add', { messageId: pub.m.id, emoji: e }));
    expectValidation(
      await emitAck(bobSocket, 'reaction:add', { messageId: pub.m.id, emoji: '🤔' }),
      'emoji',
      /at most 20/,
    );
  });
});

describe('reactions in every read, across edits and deletes', () => {
  it('an edit keeps them; history (before/after/around), messages:fetch, room:join and search show them', async () => {
    const { room, m } = await setting();
    const word = uniqueName('w').replace(/[^a-z0-9]/gi, '');
    const edit = await call('PATCH', `/api/messages/${m.id}`, {
      token: bob.accessToken,
      body: { text: `now ${word}` },
    });
    expectStatus(edit, 200);
    await add(alice, m.id, '👍');
    const edited = await call('PATCH', `/api/messages/${m.id}`, {
      token: bob.accessToken,
      body: { text: `again ${word}` },
    });
    const want = [{ emoji: '👍', count: 1, userIds: [alice.user.id] }];
    expect(edited.body.reactions).toEqual(want);
    const later = await postMessage(call, alice, room.id, 'after it');
    const pages = ['', `?before=${later.id}`, `?after=${BigInt(m.id) - 1n}`, `?around=${m.id}`];
    for (const q of pages) {
      const res = await call('GET', `/api/chatrooms/${room.id}/messages${q}`, { token: alice.accessToken });
      expect(res.body.messages.find((x: Message) => x.id === m.id)?.reactions, q).toEqual(want);
    }
    const fetched = expectOk(
      'messages:fetch',
      await emitAck(bobSocket, 'messages:fetch', { roomId: room.id, around: m.id }),
    );
    expect(fetched.messages.find((x) => x.id === m.id)?.reactions).toEqual(want);
    const joined = expectOk('room:join', await emitAck(bobSocket, 'room:join', { roomId: room.id }));
    expect(joined.messages.find((x) => x.id === m.id)?.reactions).toEqual(want);
    const found = await call('GET', `/api/search?${new URLSearchParams({ q: word, roomId: room.id })}`, {
      token: alice.accessToken,
    });
    expectStatus(found, 200);
    expect(found.body.results.map((r: { message: Message }) => r.message)).toEqual([
      expect.objectContaining({ id: m.id, reactions: want }),
    ]);
  });

  it('a delete drops them: none shown, none stored, none added after', async () => {
    const { room, m } = await setting();
    await add(alice, m.id, '👍');
    await add(bob, m.id, '😢');
    expectStatus(await call('DELETE', `/api/messages/${m.id}`, { token: bob.accessToken }), 204);
    await nextEvent(aliceSocket, 'message:deleted', (p) => p.id === m.id);
    expect(await historyOf(alice, room, m.id)).toMatchObject({ deleted: true, reactions: [], replyTo: null });
    expect(await stored(m.id)).toEqual([]);
    const [[row]] = (await server.parley.ctx.db.sequelize.query(
      'SELECT reactions FROM messages WHERE id = :id',
      {
        replacements: { id: Number(m.id) },
      },
    )) as [{ reactions: string }[], unknown];
    expect(row!.reactions).toBe('');
  });
});

describe('rate limit', () => {
  it('reactions share the edit budget (messageEdit): beyond it 429 / RATE_LIMITED, and edits are refused too', async () => {
    const tight = await startWorld({
      writeLimits: generousWriteLimits({ messageEdit: { points: 4, durationSec: 600 } }),
    });
    try {
      const tcall = tight.call;
      const u = await tight.user('fast');
      const list = await tcall('GET', '/api/chatrooms', { token: u.accessToken });
      const general = list.body.rooms.find((r: Room) => r.name === 'general').id;
      const m = await postMessage(tcall, u, general, 'quick');
      const socket = await tight.connect(u);
      for (const e of ['👍', '🎉', '😀'])
        expectStatus(await tcall('POST', reactPath(m.id), { token: u.accessToken, body: { emoji: e } }), 200);
      expectOk('reaction:remove', await emitAck(socket, 'reaction:remove', { messageId: m.id, emoji: '👍' }));
      const limited = await tcall('POST', reactPath(m.id), { token: u.accessToken, body: { emoji: '🚀' } });
      expectError(limited, 429, 'RATE_LIMITED');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expectFail(await emitAck(socket, 'reaction:add', { messageId: m.id, emoji: '🚀' }), 'RATE_LIMITED');
      expectError(
        await tcall('PATCH', `/api/messages/${m.id}`, { token: u.accessToken, body: { text: 'edited' } }),
        429,
        'RATE_LIMITED',
      );
    } finally {
      await tight.close();
    }
  });
});

async function generalId(): Promise<string> {
  const res = await call('GET', '/api/chatrooms', { token: carol.accessToken });
  return res.body.rooms.find((r: Room) => r.name === 'general').id;
}
