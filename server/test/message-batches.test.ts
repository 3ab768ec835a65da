import { serverEventSchemas, type Message, type Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Call, TestServer } from '../src/test-support/server.js';
import {
  byId,
  expectNoneBy,
  expectStatusOf,
  generalRoomId,
  messageMarker,
  postMessage,
  sendBurst,
  sortedKeys,
} from './helpers/realtime.js';
import { messagesReceived, nextEvent, received, type ClientSocket } from './helpers/sockets.js';
import { startWorld, type World } from './helpers/world.js';

/*
 * How `message:new` leaves the server (realtime/fanout.ts): the messages one commit stored go out per room at once.
 * A socket that opted in at the handshake (`auth.messageBatches: true`) gets a room's several messages as one
 * `messages:new` frame; any other socket gets one `message:new` each, as contract v2 says. Either way every member
 * socket gets every message once, in id order across batches and single events; nobody outside the room gets
 * any, nor does a member after being kicked.
 */

let world: World;
let server: TestServer;
let call: Call;

beforeAll(async () => {
  world = await startWorld();
  ({ server, call } = world);
});

afterAll(() => world?.close());

const BATCHES = { messageBatches: true };
const ids = (ms: { id: string }[]) => ms.map((m) => m.id);
const inRoom = (roomId: string) => (m: Message) => m.roomId === roomId && m.kind === 'text';

/** A room with an owner and `n` more members. */
async function roomWith(n: number): Promise<{ owner: Session; members: Session[]; roomId: string }> {
  const owner = await world.user('bown');
  const members: Session[] = [];
  for (let i = 0; i < n; i++) members.push(await world.user('bm'));
  const room = await world.room(owner, members);
  return { owner, members, roomId: room.id };
}

/** The `messages:new` frames a socket got for these messages (each frame must hold only messages of the room). */
const batchesOf = (socket: ClientSocket, roomId: string) =>
  received(socket, 'messages:new', (b) => b.roomId === roomId);

describe('messages:new', () => {
  it('a burst: opted-in sockets get one frame for the commit, v2 sockets one message:new each, all in id order', async () => {
    const { owner, members, roomId } = await roomWith(3);
    const [alice, bob, carol] = members as [Session, Session, Session];
    const outsider = await world.user('bout');
    const aliceSocket = await world.connect(alice, BATCHES);
    const bobSocket = await world.connect(bob, BATCHES);
    // Not opted in (the flag must be exactly true): contract v2's one event per message.
    const carolSocket = await world.connect(carol, { messageBatches: 'yes' as unknown as boolean });
    const outsiderSocket = await world.connect(outsider, BATCHES);

    const sent = await sendBurst(server, aliceSocket, roomId, ['one', 'two', 'three', 'four']);
    expect(ids(sent)).toEqual(ids([...sent].sort(byId)));
    const marker = await messageMarker(call, owner, roomId);

    for (const s of [aliceSocket, bobSocket]) {
      await nextEvent(s, marker.name, marker.where);
      // Every message once, in id order, each exactly as its sender's ack has it.
      expect(messagesReceived(s, (m) => ids(sent).includes(m.id))).toEqual(sent);
      const batches = batchesOf(s, roomId);
      expect(batches.some((b) => b.messages.length >= 2)).toBe(true);
      for (const b of batches) {
        expect(sortedKeys(b)).toEqual(['messages', 'roomId']);
        expect(serverEventSchemas['messages:new'].safeParse(b).success).toBe(true);
      }
      // The marker, alone in its commit, is a plain `message:new`.
      expect(received(s, 'message:new', marker.where)).toHaveLength(1);
    }

    await nextEvent(carolSocket, marker.name, marker.where);
    expect(received(carolSocket, 'messages:new')).toEqual([]);
    expect(received(carolSocket, 'message:new', (m) => ids(sent).includes(m.id))).toEqual(sent);

    // Outside the room: nothing, in either form.
    const general = await generalRoomId(call, outsider);
    const generalMarker = await messageMarker(call, owner, general);
    await expectNoneBy(outsiderSocket, generalMarker, [
      ['messages:new', (b) => b.roomId === roomId],
      ['message:new', (m) => m.roomId === roomId],
    ]);
  });

  it('order holds across batches and single events, from several senders and REST', async () => {
    const { owner, members, roomId } = await roomWith(3);
    const [alice, bob, carol] = members as [Session, Session, Session];
    const aliceSocket = await world.connect(alice, BATCHES);
    const bobSocket = await world.connect(bob, BATCHES);
    const carolSocket = await world.connect(carol);

    const stored: Message[] = [];
    stored.push(await postMessage(call, owner, roomId, 'single 1'));
    stored.push(...(await sendBurst(server, aliceSocket, roomId, ['a1', 'a2', 'a3'])));
    stored.push(await postMessage(call, carol, roomId, 'single 2'));
    stored.push(...(await sendBurst(server, bobSocket, roomId, ['b1', 'b2', 'b3', 'b4', 'b5'])));
    stored.push(...(await sendBurst(server, aliceSocket, roomId, ['a4', 'a5', 'a6'])));
    stored.push(await postMessage(call, owner, roomId, 'single 3'));
    const marker = await messageMarker(call, owner, roomId);
    const expected = [...stored].sort(byId);
    expect(ids(stored)).toEqual(ids(expected));

    for (const s of [aliceSocket, bobSocket, carolSocket]) {
      await nextEvent(s, marker.name, marker.where);
      expect(ids(messagesReceived(s, (m) => inRoom(roomId)(m) && !marker.where(m)))).toEqual(ids(expected));
    }
    expect(batchesOf(bobSocket, roomId).length).toBeGreaterThanOrEqual(3);
    expect(received(carolSocket, 'messages:new')).toEqual([]);
  });

  it('a kicked member gets nothing of the room after the kick, batched or not', async () => {
    const { owner, members, roomId } = await roomWith(2);
    const [alice, eve] = members as [Session, Session];
    const aliceSocket = await world.connect(alice, BATCHES);
    const eveSocket = await world.connect(eve, BATCHES);

    const before = await sendBurst(server, aliceSocket, roomId, ['before 1', 'before 2', 'before 3']);
    const kick = await call('DELETE', `/api/chatrooms/${roomId}/members/${eve.user.id}`, {
      token: owner.accessToken,
    });
    expectStatusOf(kick, 204);
    await nextEvent(eveSocket, 'room:member-left', (p) => p.roomId === roomId && p.userId === eve.user.id);
    const after = await sendBurst(server, aliceSocket, roomId, ['after 1', 'after 2', 'after 3']);
    await postMessage(call, alice, roomId, 'after, alone');

    // Eve stays in general: a message there, sent after all that, is the marker.
    const marker = await messageMarker(call, owner, await generalRoomId(call, eve));
    await nextEvent(eveSocket, marker.name, marker.where);
    expect(messagesReceived(eveSocket, inRoom(roomId))).toEqual(before);
    // Alice, still a member, got both bursts.
    await nextEvent(aliceSocket, 'message:new', (m) => m.text === 'after, alone');
    expect(
      ids(messagesReceived(aliceSocket, (m) => [...before, ...after].some((x) => x.id === m.id))),
    ).toEqual(ids([...before, ...after]));
  });
});
