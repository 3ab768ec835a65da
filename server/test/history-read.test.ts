import type { Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, register, startTestServer, type Call, type TestServer } from '../src/test-support/server.js';
import {
  addMember,
  connectReady,
  createRoom,
  expectFail,
  expectOk,
  expectStatusOf,
  postMessage,
} from './helpers/realtime.js';
import { closeAllSockets, emitAck } from './helpers/sockets.js';

/*
 * The history read path (DECISIONS, "The history read path") keeps nothing about the caller or the authors
 * between requests: what changed in the database applies to the very next page, over REST and the socket alike.
 * A kicked member, a renamed author, an ended session, each checked on the page right after the change.
 */

let server: TestServer;
let call: Call;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
});

afterAll(async () => {
  closeAllSockets();
  await server?.close();
});

const restPage = (s: Session, roomId: string, q = '') =>
  call('GET', `/api/chatrooms/${roomId}/messages?limit=10${q}`, { token: s.accessToken });

describe('history read path: nothing kept between requests', () => {
  it('a kicked member is refused on the next page at once, over the socket and REST (404, as for no room)', async () => {
    const owner = await register(call);
    const member = await register(call);
    const room = await createRoom(call, owner, 'private');
    await addMember(call, owner, room.id, member);
    const first = await postMessage(call, owner, room.id, 'before the kick');
    const socket = await connectReady(server, member);
    // Pages read before the kick: the member sees the message, both ways.
    const ok = expectOk('messages:fetch', await emitAck(socket, 'messages:fetch', { roomId: room.id }));
    expect(ok.messages.map((m) => m.id)).toContain(first.id);
    expectStatusOf(await restPage(member, room.id), 200);

    expectStatusOf(
      await call('DELETE', `/api/chatrooms/${room.id}/members/${member.user.id}`, {
        token: owner.accessToken,
      }),
      204,
    );
    expectFail(await emitAck(socket, 'messages:fetch', { roomId: room.id }), 'NOT_FOUND');
    expectFail(await emitAck(socket, 'messages:fetch', { roomId: room.id, after: first.id }), 'NOT_FOUND');
    const rest = await restPage(member, room.id, `&before=${first.id}`);
    expectStatusOf(rest, 404);
    expect(rest.body.error.code).toBe('NOT_FOUND');
  });

  it('a renamed author shows the new name on the next page, over the socket and REST', async () => {
    const author = await register(call);
    const reader = await register(call);
    const room = await createRoom(call, author, 'public');
    const m = await postMessage(call, author, room.id, 'who wrote this?');
    const socket = await connectReady(server, reader);
    const page = expectOk('messages:fetch', await emitAck(socket, 'messages:fetch', { roomId: room.id }));
    expect(page.messages.find((x) => x.id === m.id)!.author!.displayName).toBe(author.user.displayName);

    const renamed = `Renamed ${author.user.username}`.slice(0, 64);
    expectStatusOf(
      await call('PATCH', '/api/users/me', { token: author.accessToken, body: { displayName: renamed } }),
      200,
    );
    const after = expectOk('messages:fetch', await emitAck(socket, 'messages:fetch', { roomId: room.id }));
    expect(after.messages.find((x) => x.id === m.id)!.author!.displayName).toBe(renamed);
    const rest = await restPage(reader, room.id);
    expectStatusOf(rest, 200);
    expect(rest.body.messages.find((x: { id: string }) => x.id === m.id).author.displayName).toBe(renamed);
  });

  it('a signed-out session is refused on its next REST page at once (401)', async () => {
    const s = await register(call);
    const room = await createRoom(call, s, 'public');
    expectStatusOf(await restPage(s, room.id), 200);
    expectStatusOf(
      await call('POST', '/api/auth/logout', {
        token: s.accessToken,
        body: { refreshToken: s.refreshToken },
      }),
      204,
    );
    const res = await restPage(s, room.id);
    expectStatusOf(res, 401);
    expect(res.body.error.code).toBe('UNAUTHORIZED');
  });

  it('around= answers both halves of the page in order, with where more can be loaded', async () => {
    const s = await register(call);
    const room = await createRoom(call, s, 'public');
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await postMessage(call, s, room.id, `m${i}`)).id);
    const res = await call('GET', `/api/chatrooms/${room.id}/messages?around=${ids[3]}&limit=4`, {
      token: s.accessToken,
    });
    expectStatusOf(res, 200);
    // The older half ends with the message itself (2), the newer half follows (2).
    expect(res.body.messages.map((m: { id: string }) => m.id)).toEqual([ids[2], ids[3], ids[4], ids[5]]);
    expect(res.body.hasMoreBefore).toBe(true);
    expect(res.body.hasMoreAfter).toBe(true);
    expect(res.body.hasMore).toBe(true);
  });
});
