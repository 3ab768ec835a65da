import type { Message, Room, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../../src/test-support/server.js';
import { expectError } from '../helpers/http.js';
import {
  addMember,
  closeAndSettle,
  closeRawSockets,
  connectReady,
  createRoom,
  expectFail,
  expectNoneBy,
  expectOk,
  expectStatusOf,
  generalRoomId,
  joinRoom,
  messageMarker,
  newClientId,
  postMessage,
  serverSocketOf,
} from '../helpers/realtime.js';
import { closeAllSockets, emitAck, nextEvent, type ClientSocket } from '../helpers/sockets.js';

/*
 * Hardening, kicked users (issue 8): once kicked, a user receives nothing more of the room: not by live delivery,
 * not by catch-up (`messages:fetch {after}`), not after reconnecting; also when the kick happened while they were
 * offline. A public room stays readable by anyone (the contract's "member, or anyone for public"), so for it the
 * suite proves that nothing is pushed any more and posting is refused.
 */

let server: TestServer;
let call: Call;
let generalId: string;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  generalId = await generalRoomId(call, await register(call, uniqueName('first')));
});
afterAll(async () => {
  closeAllSockets();
  closeRawSockets();
  await server?.close();
});

/** A marker every socket of a signed-in user gets after whatever came before it: a message in general. */
const generalMarker = (by: Session) => messageMarker(call, by, generalId);

/** A room of `kind` owned by a new user, with a new user to kick and a new bystander in it. */
async function roomWithKicked(kind: 'public' | 'private') {
  const [owner, kicked, bystander] = [
    await register(call, uniqueName('own')),
    await register(call, uniqueName('kick')),
    await register(call, uniqueName('by')),
  ];
  const room = await createRoom(call, owner, kind);
  for (const m of [kicked, bystander])
    if (kind === 'public') await joinRoom(call, m, room.id);
    else await addMember(call, owner, room.id, m);
  return { owner, kicked, bystander, room };
}

async function kick(owner: Session, room: Room, kicked: Session): Promise<void> {
  expectStatusOf(
    await call('DELETE', `/api/chatrooms/${room.id}/members/${kicked.user.id}`, { token: owner.accessToken }),
    204,
  );
}

/**
 * After the kick: the owner posts and types in the room, the bystander sees it, and none of it reaches
 * `sockets` (proved by a later marker each of them gets). Answers the message posted.
 */
async function expectNothingDelivered(
  owner: Session,
  room: Room,
  ownerSocket: ClientSocket,
  bystanderSocket: ClientSocket,
  sockets: ClientSocket[],
): Promise<Message> {
  const after = await postMessage(call, owner, room.id, `not for you ${uniqueName('t')}`);
  expectOk('typing', await emitAck(ownerSocket, 'typing', { roomId: room.id, isTyping: true }));
  await nextEvent(bystanderSocket, 'message:new', (m) => m.id === after.id);
  await nextEvent(bystanderSocket, 'typing', (p) => p.roomId === room.id);
  const marker = await generalMarker(owner);
  for (const s of sockets) {
    await expectNoneBy(s, marker, [
      ['message:new', (m) => m.roomId === room.id && m.id === after.id],
      ['typing', (p) => p.roomId === room.id],
    ]);
    // Nor is the socket still in the room's channel, whatever it may be sent later.
    expect(serverSocketOf(server, s).rooms.has(`room:${room.id}`)).toBe(false);
  }
  return after;
}

/** Catch-up of a private room after `lastSeen` is refused, over the socket and REST, as for a missing room. */
async function expectNoCatchUp(socket: ClientSocket, kicked: Session, room: Room, lastSeen: Message) {
  expectFail(await emitAck(socket, 'messages:fetch', { roomId: room.id, after: lastSeen.id }), 'NOT_FOUND');
  expectError(
    await call('GET', `/api/chatrooms/${room.id}/messages?after=${lastSeen.id}`, {
      token: kicked.accessToken,
    }),
    404,
    'NOT_FOUND',
  );
  expectFail(await emitAck(socket, 'room:join', { roomId: room.id }), 'NOT_FOUND');
  const rooms = await call('GET', '/api/chatrooms', { token: kicked.accessToken });
  expect((rooms.body.rooms as Room[]).map((r) => r.id)).not.toContain(room.id);
}

describe('kicked users receive nothing afterwards', () => {
  it('B3 private room, kicked while connected: no live delivery, no catch-up, nothing after reconnecting', async () => {
    const { owner, kicked, bystander, room } = await roomWithKicked('private');
    const ownerSocket = await connectReady(server, owner);
    const bystanderSocket = await connectReady(server, bystander);
    const tabs = [await connectReady(server, kicked), await connectReady(server, kicked)];
    const lastSeen = await postMessage(call, owner, room.id, 'before the kick');
    for (const tab of tabs) await nextEvent(tab, 'message:new', (m) => m.id === lastSeen.id);

    await kick(owner, room, kicked);
    const left = await nextEvent(bystanderSocket, 'room:member-left', (p) => p.roomId === room.id);
    expect(left).toMatchObject({ userId: kicked.user.id, reason: 'kicked' });
    for (const tab of tabs)
      expect(await nextEvent(tab, 'room:member-left', (p) => p.roomId === room.id)).toEqual(left);
    await expectNothingDelivered(owner, room, ownerSocket, bystanderSocket, tabs);
    await expectNoCatchUp(tabs[0]!, kicked, room, lastSeen);
    expectFail(
      await emitAck(tabs[1]!, 'message:send', {
        roomId: room.id,
        text: 'let me back',
        clientId: newClientId(),
      }),
      'NOT_FOUND',
    );

    for (const tab of tabs) await closeAndSettle(server, tab);
    const again = await connectReady(server, kicked);
    await expectNothingDelivered(owner, room, ownerSocket, bystanderSocket, [again]);
    await expectNoCatchUp(again, kicked, room, lastSeen);
  });

  it('B3 private room, kicked while offline: after reconnecting, no delivery and no catch-up', async () => {
    const { owner, kicked, bystander, room } = await roomWithKicked('private');
    const ownerSocket = await connectReady(server, owner);
    const bystanderSocket = await connectReady(server, bystander);
    const tab = await connectReady(server, kicked);
    const lastSeen = await postMessage(call, owner, room.id, 'before going offline');
    await nextEvent(tab, 'message:new', (m) => m.id === lastSeen.id);
    await closeAndSettle(server, tab);

    await kick(owner, room, kicked);
    await postMessage(call, owner, room.id, 'said while they were away');
    const back = await connectReady(server, kicked);
    await expectNothingDelivered(owner, room, ownerSocket, bystanderSocket, [back]);
    await expectNoCatchUp(back, kicked, room, lastSeen);
  });

  it('B3 public room, kicked while connected or offline: nothing is pushed any more and posting is refused', async () => {
    const { owner, kicked, bystander, room } = await roomWithKicked('public');
    const ownerSocket = await connectReady(server, owner);
    const bystanderSocket = await connectReady(server, bystander);
    const tab = await connectReady(server, kicked);
    await kick(owner, room, kicked);
    await nextEvent(tab, 'room:member-left', (p) => p.roomId === room.id && p.reason === 'kicked');
    await expectNothingDelivered(owner, room, ownerSocket, bystanderSocket, [tab]);
    await closeAndSettle(server, tab);
    const back = await connectReady(server, kicked);
    await expectNothingDelivered(owner, room, ownerSocket, bystanderSocket, [back]);
    expectFail(
      await emitAck(back, 'message:send', { roomId: room.id, text: 'still here?', clientId: newClientId() }),
      'FORBIDDEN',
    );

    // Kicked while offline: let back in (the kick banned them), rejoined, then kicked with no socket open.
    expectStatusOf(
      await call('DELETE', `/api/chatrooms/${room.id}/bans/${kicked.user.id}`, { token: owner.accessToken }),
      204,
    );
    await joinRoom(call, kicked, room.id);
    await closeAndSettle(server, back);
    await kick(owner, room, kicked);
    const later = await connectReady(server, kicked);
    await expectNothingDelivered(owner, room, ownerSocket, bystanderSocket, [later]);
  });
});
