import type { Message, Room, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, type Call, type TestServer } from '../src/test-support/server.js';
import { MISSING_ID, expectError, expectStatus, userOf } from './helpers/http.js';
import {
  addMember,
  expectFail,
  expectNoneBy,
  expectOk,
  expectUser,
  generalRoomId,
  joinRoom,
  memberIds,
  messageMarker,
  postMessage,
  serverSocketOf,
} from './helpers/realtime.js';
import { emitAck, nextEvent, received, type ClientSocket } from './helpers/sockets.js';
import { startWorld, type World } from './helpers/world.js';

/*
 * Room bans (contract v2, "Room bans"): an owner's kick bans; the banned user cannot rejoin (REST 403, socket
 * FORBIDDEN) nor edit or delete their messages there; the owner lists bans and lifts them (unban, or adding the
 * user back). Every route: unauthenticated, invalid, forbidden, success, and what the other clients receive.
 */

let world: World;
let server: TestServer;
let call: Call;
/** owner owns the rooms; kicked is the one kicked; bystander stays; outsider is in none of them. */
let owner: Session, kicked: Session, bystander: Session, outsider: Session, guest: Session;
let ownerSocket: ClientSocket, kickedSocket: ClientSocket, bystanderSocket: ClientSocket;
let generalId: string;

beforeAll(async () => {
  world = await startWorld();
  ({ server, call } = world);
  [owner, kicked, bystander, outsider] = [
    await world.user('own'),
    await world.user('kick'),
    await world.user('by'),
    await world.user('out'),
  ];
  const g = await call('POST', '/api/auth/guest', { body: { username: uniqueName('g') } });
  expectStatus(g, 201);
  guest = g.body;
  [ownerSocket, kickedSocket, bystanderSocket] = [
    await world.connect(owner),
    await world.connect(kicked),
    await world.connect(bystander),
  ];
  generalId = await generalRoomId(call, owner);
});
afterAll(() => world?.close());

const bansPath = (room: Room) => `/api/chatrooms/${room.id}/bans`;
const listBans = (s: Session | null, room: Room) => call('GET', bansPath(room), { token: s?.accessToken });
const unban = (s: Session | null, room: Room, userId: string) =>
  call('DELETE', `${bansPath(room)}/${userId}`, { token: s?.accessToken });
const kick = async (room: Room, who: Session) =>
  expectStatus(
    await call('DELETE', `/api/chatrooms/${room.id}/members/${who.user.id}`, { token: owner.accessToken }),
    204,
  );
const selfJoin = (s: Session, room: Room) =>
  call('POST', `/api/chatrooms/${room.id}/members`, { token: s.accessToken, body: {} });
/** A marker every socket of these users gets after whatever was sent before: a message in general. */
const marker = () => messageMarker(call, owner, generalId);

/** Joins of `who` to `room` that `socket` heard: the event and the logged system message. */
const joinsHeard = (socket: ClientSocket, room: Room, who: Session) => [
  received(socket, 'room:member-joined', (p) => p.roomId === room.id && p.user.id === who.user.id).length,
  received(
    socket,
    'message:new',
    (p) => p.roomId === room.id && p.event === 'joined' && p.author?.id === who.user.id,
  ).length,
];

/**
 * A room of `kind` with `kicked` and `bystander` in it, and a message of `kicked` there; then the owner kicks
 * `kicked` and everyone has heard of it.
 */
async function roomWithBan(kind: 'public' | 'private' = 'public') {
  const room = await world.room(owner, [kicked, bystander], kind);
  const old = await postMessage(call, kicked, room.id, `mine ${uniqueName('t')}`);
  await kick(room, kicked);
  await nextEvent(bystanderSocket, 'room:member-left', (p) => p.roomId === room.id && p.reason === 'kicked');
  await nextEvent(kickedSocket, 'room:member-left', (p) => p.roomId === room.id && p.reason === 'kicked');
  return { room, old };
}

describe('authentication and invalid input', () => {
  it('answers 401 without a token or with a forged one, to both routes', async () => {
    const { room } = await roomWithBan();
    for (const token of [undefined, 'not-a-token']) {
      expectError(await call('GET', bansPath(room), { token }), 401, 'UNAUTHORIZED');
      expectError(
        await call('DELETE', `${bansPath(room)}/${kicked.user.id}`, { token }),
        401,
        'UNAUTHORIZED',
      );
    }
    // Nothing changed: still banned.
    expect((await listBans(owner, room)).body.users.map((u: { id: string }) => u.id)).toEqual([
      kicked.user.id,
    ]);
  });

  it('answers 404 to ids that are not ids, a missing room and a missing user', async () => {
    const { room } = await roomWithBan();
    for (const id of ['abc', '0', '-1', MISSING_ID]) {
      expectError(
        await call('GET', `/api/chatrooms/${id}/bans`, { token: owner.accessToken }),
        404,
        'NOT_FOUND',
      );
      expectError(
        await call('DELETE', `/api/chatrooms/${id}/bans/${kicked.user.id}`, { token: owner.accessToken }),
        404,
        'NOT_FOUND',
      );
      expectError(await unban(owner, room, id), 404, 'NOT_FOUND');
    }
  });
});

describe('who may list and lift bans', () => {
  it('the owner only: members, outsiders and guests of a public room get 403', async () => {
    const { room } = await roomWithBan();
    for (const s of [bystander, outsider, guest, kicked]) {
      expectError(await listBans(s, room), 403, 'FORBIDDEN');
      expectError(await unban(s, room, kicked.user.id), 403, 'FORBIDDEN');
    }
    expect((await listBans(owner, room)).body.users).toHaveLength(1);
  });

  it('a private room hides its bans from outsiders, and from the user it banned, as a missing room (404)', async () => {
    const { room } = await roomWithBan('private');
    for (const s of [outsider, guest, kicked]) {
      expectError(await listBans(s, room), 404, 'NOT_FOUND');
      expectError(await unban(s, room, kicked.user.id), 404, 'NOT_FOUND');
    }
    expectError(await listBans(bystander, room), 403, 'FORBIDDEN');
  });

  it('a direct room has no owner and no bans (403 to its participants)', async () => {
    const dm = await call('POST', '/api/dms', { token: owner.accessToken, body: { userId: kicked.user.id } });
    expectStatus(dm, 200);
    for (const s of [owner, kicked]) {
      expectError(await listBans(s, dm.body), 403, 'FORBIDDEN');
      expectError(await unban(s, dm.body, kicked.user.id), 403, 'FORBIDDEN');
    }
    expectError(await listBans(outsider, dm.body), 404, 'NOT_FOUND');
  });
});

describe('a kick from a public room bans', () => {
  it('GET …/bans lists the banned user, as a User, exactly `{users}`', async () => {
    const { room } = await roomWithBan();
    const res = await listBans(owner, room);
    expectStatus(res, 200);
    expect(Object.keys(res.body)).toEqual(['users']);
    expect(res.body.users).toHaveLength(1);
    expectUser(res.body.users[0], kicked);
  });

  it('lists the most recently banned first', async () => {
    const { room } = await roomWithBan();
    await kick(room, bystander);
    const res = await listBans(owner, room);
    expect(res.body.users.map((u: { id: string }) => u.id)).toEqual([bystander.user.id, kicked.user.id]);
  });

  it('the banned user cannot rejoin: REST 403, socket FORBIDDEN; nobody hears a join', async () => {
    const { room } = await roomWithBan();
    const sockets = [bystanderSocket, ownerSocket, kickedSocket];
    const heard = sockets.map((s) => joinsHeard(s, room, kicked));
    expectError(await selfJoin(kicked, room), 403, 'FORBIDDEN');
    expectError(
      await call('POST', `/api/chatrooms/${room.id}/members`, {
        token: kicked.accessToken,
        body: { userId: kicked.user.id },
      }),
      403,
      'FORBIDDEN',
    );
    expectFail(await emitAck(kickedSocket, 'room:join', { roomId: room.id }), 'FORBIDDEN');
    expect(await memberIds(call, owner, room.id)).toEqual([owner.user.id, bystander.user.id].sort());
    expect(serverSocketOf(server, kickedSocket).rooms.has(`room:${room.id}`)).toBe(false);
    const m = await marker();
    for (const s of sockets) await nextEvent(s, m.name, m.where);
    expect(sockets.map((s) => joinsHeard(s, room, kicked))).toEqual(heard);
  });

  it('the banned user cannot edit their old message (REST 403, socket FORBIDDEN); nothing is broadcast', async () => {
    const { room, old } = await roomWithBan();
    expectError(
      await call('PATCH', `/api/messages/${old.id}`, {
        token: kicked.accessToken,
        body: { text: 'rewritten' },
      }),
      403,
      'FORBIDDEN',
    );
    expectFail(
      await emitAck(kickedSocket, 'message:edit', { messageId: old.id, text: 'rewritten' }),
      'FORBIDDEN',
    );
    const m = await marker();
    for (const s of [bystanderSocket, ownerSocket])
      await expectNoneBy(s, m, [['message:updated', (p) => p.id === old.id]]);
    const history = await call('GET', `/api/chatrooms/${room.id}/messages`, { token: owner.accessToken });
    expect(history.body.messages.find((x: Message) => x.id === old.id)).toMatchObject({
      text: old.text,
      editedAt: null,
    });
  });

  it('the banned user cannot delete their old message either; the owner still can', async () => {
    const { room, old } = await roomWithBan();
    expectError(
      await call('DELETE', `/api/messages/${old.id}`, { token: kicked.accessToken }),
      403,
      'FORBIDDEN',
    );
    expectFail(await emitAck(kickedSocket, 'message:delete', { messageId: old.id }), 'FORBIDDEN');
    const m = await marker();
    await expectNoneBy(bystanderSocket, m, [['message:deleted', (p) => p.id === old.id]]);
    expectStatus(await call('DELETE', `/api/messages/${old.id}`, { token: owner.accessToken }), 204);
    expect(await nextEvent(bystanderSocket, 'message:deleted', (p) => p.id === old.id)).toEqual({
      id: old.id,
      roomId: room.id,
    });
  });

  it('leaving is not a ban: a member who left rejoins and edits as before', async () => {
    const room = await world.room(owner, [bystander]);
    const mine = await postMessage(call, bystander, room.id, 'before leaving');
    expectStatus(
      await call('DELETE', `/api/chatrooms/${room.id}/members/${bystander.user.id}`, {
        token: bystander.accessToken,
      }),
      204,
    );
    expect((await listBans(owner, room)).body.users).toEqual([]);
    expectStatus(
      await call('PATCH', `/api/messages/${mine.id}`, {
        token: bystander.accessToken,
        body: { text: 'still mine' },
      }),
      200,
    );
    expectStatus(await selfJoin(bystander, room), 200);
  });
});

describe('DELETE /api/chatrooms/:id/bans/:userId', () => {
  it('lifts the ban (204): the user rejoins, the room hears the join, and edits work again', async () => {
    const { room, old } = await roomWithBan();
    const before = received(bystanderSocket, 'message:new', (p) => p.roomId === room.id).length;
    expectStatus(await unban(owner, room, kicked.user.id), 204);
    expect((await listBans(owner, room)).body.users).toEqual([]);
    // Lifting a ban is not announced: nobody hears of it until the user comes back.
    const m = await marker();
    await nextEvent(bystanderSocket, m.name, m.where);
    expect(received(bystanderSocket, 'message:new', (p) => p.roomId === room.id)).toHaveLength(before);
    const ack = expectOk('room:join', await emitAck(kickedSocket, 'room:join', { roomId: room.id }));
    expect(ack.room).toMatchObject({ id: room.id, isMember: true });
    const joined = await nextEvent(
      bystanderSocket,
      'room:member-joined',
      (p) => p.roomId === room.id && p.user.id === kicked.user.id,
    );
    expect(joined.user).toEqual(userOf(kicked));
    const edited = await call('PATCH', `/api/messages/${old.id}`, {
      token: kicked.accessToken,
      body: { text: 'back again' },
    });
    expectStatus(edited, 200);
    expect(await nextEvent(bystanderSocket, 'message:updated', (p) => p.id === old.id)).toMatchObject({
      text: 'back again',
    });
  });

  it('is idempotent: unbanning twice, or someone never banned, answers 204 and changes nothing', async () => {
    const { room } = await roomWithBan();
    expectStatus(await unban(owner, room, kicked.user.id), 204);
    expectStatus(await unban(owner, room, kicked.user.id), 204);
    expectStatus(await unban(owner, room, outsider.user.id), 204);
    expect((await listBans(owner, room)).body.users).toEqual([]);
  });

  it('a kick after an unban bans again', async () => {
    const { room } = await roomWithBan();
    expectStatus(await unban(owner, room, kicked.user.id), 204);
    await joinRoom(call, kicked, room.id);
    await kick(room, kicked);
    expect((await listBans(owner, room)).body.users.map((u: { id: string }) => u.id)).toEqual([
      kicked.user.id,
    ]);
    expectError(await selfJoin(kicked, room), 403, 'FORBIDDEN');
  });
});

describe('private rooms and adding back', () => {
  it('a kick from a private room records a ban too, which holds if the room turns public', async () => {
    const { room } = await roomWithBan('private');
    expect((await listBans(owner, room)).body.users.map((u: { id: string }) => u.id)).toEqual([
      kicked.user.id,
    ]);
    expectError(await selfJoin(kicked, room), 404, 'NOT_FOUND');
    expectStatus(
      await call('PATCH', `/api/chatrooms/${room.id}`, {
        token: owner.accessToken,
        body: { kind: 'public' },
      }),
      200,
    );
    expectError(await selfJoin(kicked, room), 403, 'FORBIDDEN');
    expectFail(await emitAck(kickedSocket, 'room:join', { roomId: room.id }), 'FORBIDDEN');
  });

  it('the owner adding a banned user back lifts the ban (private and public rooms)', async () => {
    for (const kind of ['private', 'public'] as const) {
      const { room, old } = await roomWithBan(kind);
      await addMember(call, owner, room.id, kicked);
      expect((await listBans(owner, room)).body.users).toEqual([]);
      expect(await memberIds(call, owner, room.id)).toContain(kicked.user.id);
      expectStatus(
        await call('PATCH', `/api/messages/${old.id}`, {
          token: kicked.accessToken,
          body: { text: 'ok again' },
        }),
        200,
      );
    }
  });

  it('deleting the room takes its bans with it', async () => {
    const { room } = await roomWithBan();
    expectStatus(await call('DELETE', `/api/chatrooms/${room.id}`, { token: owner.accessToken }), 204);
    expectError(await listBans(owner, room), 404, 'NOT_FOUND');
    const rows = await server.parley.ctx.models.RoomBan.count({ where: { roomId: Number(room.id) } });
    expect(rows).toBe(0);
  });
});
