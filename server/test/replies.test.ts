import type { Message, Room, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, type Call } from '../src/test-support/server.js';
import { MISSING_ID, expectError, expectStatus, userOf } from './helpers/http.js';
import {
  createRoom,
  expectMessage,
  expectOk,
  expectValidation,
  fullHistory,
  newClientId,
  postMessage,
} from './helpers/realtime.js';
import { emitAck, nextEvent, type ClientSocket } from './helpers/sockets.js';
import { startWorld, type World } from './helpers/world.js';

/*
 * Replies (contract v2, issue 16): `replyToId` on message:send and POST …/messages, and the quote every read
 * shows (`Message.replyTo`): the parent's current text (its first 200 characters), or none once it is deleted.
 */

let world: World;
let call: Call;
/** alice owns the rooms; bob is a member; carol is in none of them. */
let alice: Session, bob: Session, carol: Session;
let aliceSocket: ClientSocket, bobSocket: ClientSocket;

const send = (s: Session | null, roomId: string, body: Record<string, unknown>) =>
  call('POST', `/api/chatrooms/${roomId}/messages`, { token: s?.accessToken, body });

const sharedRoom = (kind: 'public' | 'private' = 'public'): Promise<Room> => world.room(alice, [bob], kind);

const historyOf = async (room: Room, id: string) =>
  (await fullHistory(call, alice, room.id)).find((x) => x.id === id)!;

beforeAll(async () => {
  world = await startWorld();
  call = world.call;
  [alice, bob, carol] = [await world.user('alice'), await world.user('bob'), await world.user('carol')];
  [aliceSocket, bobSocket] = [await world.connect(alice), await world.connect(bob)];
});
afterAll(() => world?.close());

describe('POST /api/chatrooms/:id/messages with replyToId', () => {
  it('stores a reply quoting its parent; the room hears message:new with replyTo; history shows it', async () => {
    const room = await sharedRoom();
    const parent = await postMessage(call, alice, room.id, 'what do you think?');
    const res = await send(bob, room.id, { text: 'I agree', replyToId: parent.id });
    expectStatus(res, 201);
    expectMessage(res.body, { text: 'I agree', author: userOf(bob) });
    expect(res.body.replyTo).toEqual({
      id: parent.id,
      author: userOf(alice),
      text: parent.text,
      deleted: false,
    });
    expect(await nextEvent(aliceSocket, 'message:new', (p) => p.id === res.body.id)).toEqual(res.body);
    expect(await historyOf(room, res.body.id)).toEqual(res.body);
    // A message that answers nothing says so.
    expect(parent.replyTo).toBeNull();
  });

  it('quotes the first 200 characters (counted as characters, not UTF-16 units)', async () => {
    const room = await sharedRoom();
    const text = '😀'.repeat(150) + 'x'.repeat(150);
    const parent = await postMessage(call, alice, room.id, text);
    const res = await send(bob, room.id, { text: 'long one', replyToId: parent.id });
    const want = '😀'.repeat(150) + 'x'.repeat(50);
    expect(res.body.replyTo.text).toBe(want);
    expect((await historyOf(room, res.body.id)).replyTo!.text).toBe(want);
  });

  it('shows the parent’s current text after an edit, and none once it is deleted (still a reply)', async () => {
    const room = await sharedRoom();
    const parent = await postMessage(call, alice, room.id, 'first version');
    const reply = (await send(bob, room.id, { text: 'answer', replyToId: parent.id })).body as Message;
    expectStatus(
      await call('PATCH', `/api/messages/${parent.id}`, {
        token: alice.accessToken,
        body: { text: 'second' },
      }),
      200,
    );
    expect((await historyOf(room, reply.id)).replyTo).toMatchObject({ text: 'second', deleted: false });
    // The room hears the reply again, with its new quote, right after the parent's own update.
    await nextEvent(bobSocket, 'message:updated', (p) => p.id === parent.id && p.text === 'second');
    expect(await nextEvent(bobSocket, 'message:updated', (p) => p.id === reply.id)).toEqual(
      await historyOf(room, reply.id),
    );
    expectStatus(await call('DELETE', `/api/messages/${parent.id}`, { token: alice.accessToken }), 204);
    await nextEvent(bobSocket, 'message:deleted', (p) => p.id === parent.id);
    expect((await nextEvent(bobSocket, 'message:updated', (p) => p.id === reply.id)).replyTo).toMatchObject({
      text: '',
      deleted: true,
    });
    expect((await historyOf(room, reply.id)).replyTo).toEqual({
      id: parent.id,
      author: userOf(alice),
      text: '',
      deleted: true,
    });
    // Answering the deleted message is allowed: the quote says it is gone.
    const late = await send(bob, room.id, { text: 'too late', replyToId: parent.id });
    expectStatus(late, 201);
    expect(late.body.replyTo).toEqual({ id: parent.id, author: userOf(alice), text: '', deleted: true });
  });

  it('a deleted reply keeps no quote', async () => {
    const room = await sharedRoom();
    const parent = await postMessage(call, alice, room.id, 'q');
    const reply = (await send(bob, room.id, { text: 'a', replyToId: parent.id })).body as Message;
    expectStatus(await call('DELETE', `/api/messages/${reply.id}`, { token: bob.accessToken }), 204);
    expect(await historyOf(room, reply.id)).toMatchObject({ deleted: true, replyTo: null });
  });

  it('is idempotent by clientId: a resend answers the original reply', async () => {
    const room = await sharedRoom();
    const parent = await postMessage(call, alice, room.id, 'ping');
    const clientId = newClientId();
    const first = await send(bob, room.id, { text: 'pong', replyToId: parent.id, clientId });
    const again = await send(bob, room.id, { text: 'pong', replyToId: parent.id, clientId });
    expectStatus(again, 201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect((await fullHistory(call, alice, room.id)).filter((m) => m.text === 'pong')).toHaveLength(1);
  });

  it('answers 400 naming replyToId for a missing message, another room’s (visible or not) and a system message', async () => {
    const room = await sharedRoom();
    const otherPublic = await sharedRoom();
    const visible = await postMessage(call, alice, otherPublic.id, 'elsewhere');
    const hiddenRoom = await createRoom(call, carol, 'private');
    const hidden = await postMessage(call, carol, hiddenRoom.id, 'secret');
    const system = (await fullHistory(call, alice, room.id)).find((m) => m.kind === 'system')!;
    const answers = [];
    for (const replyToId of [MISSING_ID, visible.id, hidden.id, system.id]) {
      const res = await send(bob, room.id, { text: 'reply', replyToId });
      expectError(res, 400, 'VALIDATION_ERROR');
      expect(res.body.error.details).toEqual([{ path: 'replyToId', message: expect.any(String) }]);
      answers.push(res.body);
    }
    // Another room's message answers exactly as a missing one: nothing about it leaks.
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
    for (const replyToId of ['abc', 5, '0', '']) {
      const res = await send(bob, room.id, { text: 'reply', replyToId });
      expectError(res, 400, 'VALIDATION_ERROR');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain('replyToId');
    }
    expect((await fullHistory(call, alice, room.id)).some((m) => m.text === 'reply')).toBe(false);
  });

  it('answers 401 without a token, and a non-member’s reply is refused as any post (403 / 404)', async () => {
    const room = await sharedRoom();
    const parent = await postMessage(call, alice, room.id, 'members only');
    expectError(await send(null, room.id, { text: 'x', replyToId: parent.id }), 401, 'UNAUTHORIZED');
    expectError(await send(carol, room.id, { text: 'x', replyToId: parent.id }), 403, 'FORBIDDEN');
    const priv = await sharedRoom('private');
    const secret = await postMessage(call, alice, priv.id, 'secret');
    expectError(await send(carol, priv.id, { text: 'x', replyToId: secret.id }), 404, 'NOT_FOUND');
  });
});

describe('message:send with replyToId', () => {
  it('acks the reply with its quote; the other client hears it; a bad parent is a VALIDATION_ERROR', async () => {
    const room = await sharedRoom();
    const parent = await postMessage(call, alice, room.id, 'over the socket');
    const ack = expectOk(
      'message:send',
      await emitAck(bobSocket, 'message:send', {
        roomId: room.id,
        text: 'socket reply',
        clientId: newClientId(),
        replyToId: parent.id,
      }),
    );
    expect(ack.message.replyTo).toEqual({
      id: parent.id,
      author: userOf(alice),
      text: parent.text,
      deleted: false,
    });
    expect(await nextEvent(aliceSocket, 'message:new', (p) => p.id === ack.message.id)).toEqual(ack.message);
    expectValidation(
      await emitAck(bobSocket, 'message:send', {
        roomId: room.id,
        text: 'no',
        clientId: newClientId(),
        replyToId: MISSING_ID,
      }),
      'replyToId',
    );
  });

  it('search and messages:fetch show the quote', async () => {
    const room = await sharedRoom();
    const parent = await postMessage(call, alice, room.id, 'the question');
    const word = uniqueName('w').replace(/[^a-z0-9]/gi, '');
    const reply = (await send(bob, room.id, { text: `answer ${word}`, replyToId: parent.id }))
      .body as Message;
    const fetched = expectOk(
      'messages:fetch',
      await emitAck(aliceSocket, 'messages:fetch', { roomId: room.id }),
    );
    expect(fetched.messages.find((m) => m.id === reply.id)).toEqual(reply);
    const found = await call('GET', `/api/search?${new URLSearchParams({ q: word })}`, {
      token: alice.accessToken,
    });
    expect(found.body.results[0].message).toEqual(reply);
  });
});
