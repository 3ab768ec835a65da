import type { Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, register, startTestServer, type Call, type TestServer } from '../src/test-support/server.js';
import { expectError } from './helpers/http.js';
import { expectStatusOf, generalRoomId, messageMarker } from './helpers/realtime.js';
import {
  closeAllSockets,
  connectSocket,
  expectNoEventBeforeMarker,
  nextEvent,
  receivedBeforeMarker,
} from './helpers/sockets.js';

/*
 * `user:updated` (issue 14): a display-name or avatar change reaches the members of the changer's rooms and the
 * changer's own other sockets, as the User is now; nobody who shares no room with them; and an email change sends
 * nothing (an email is private). PATCH /api/users/me's own validation and authorization are in users.test.ts.
 */

let srv: TestServer;
let call: Call;

beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.url);
});
afterAll(async () => {
  closeAllSockets();
  await srv?.close();
});

/** A user who left general, so that the rooms they share are only the ones a test gives them. */
async function loner(): Promise<Session> {
  const s = await register(call);
  const general = await generalRoomId(call, s);
  expectStatusOf(
    await call('DELETE', `/api/chatrooms/${general}/members/${s.user.id}`, { token: s.accessToken }),
    204,
  );
  return s;
}

describe('user:updated', () => {
  it('is not sent for a refused change (unauthenticated)', async () => {
    expectError(
      await call('PATCH', '/api/users/me', { body: { displayName: 'Nobody' } }),
      401,
      'UNAUTHORIZED',
    );
  });

  it('reaches roommates and the own other sockets with the new User; not strangers; not for an email change', async () => {
    const ana = await loner();
    const bo = await loner();
    const stranger = await loner();
    // Ana and Bo share a DM, and nothing else.
    expectStatusOf(
      await call('POST', '/api/dms', { token: ana.accessToken, body: { userId: bo.user.id } }),
      200,
    );
    const [boSock, anaOther, strangerSock] = await Promise.all([
      connectSocket(srv, bo),
      connectSocket(srv, ana),
      connectSocket(srv, stranger),
    ]);

    const res = await call('PATCH', '/api/users/me', {
      token: ana.accessToken,
      body: { displayName: 'Ana Renamed' },
    });
    expect(res.status).toBe(200);
    const isAna = (p: { id: string }) => p.id === ana.user.id;
    const got = await nextEvent(boSock, 'user:updated', isAna);
    expect(got).toEqual({ ...ana.user, displayName: 'Ana Renamed' });
    expect(got).not.toHaveProperty('email');
    expect(await nextEvent(anaOther, 'user:updated', isAna)).toEqual(got);

    // The stranger shares no room with Ana: a marker in a room of the stranger's own shows nothing came before it.
    const own = await call('POST', '/api/chatrooms', {
      token: stranger.accessToken,
      body: { name: `own-${stranger.user.username}`.slice(0, 60) },
    });
    expectStatusOf(own, 201);
    await expectNoEventBeforeMarker(
      strangerSock,
      'user:updated',
      isAna,
      await messageMarker(call, stranger, own.body.id),
    );

    // An email change is nobody else's business; an unchanged name is no change.
    for (const body of [{ email: `new-${ana.user.username}@example.com` }, { displayName: 'Ana Renamed' }]) {
      expectStatusOf(await call('PATCH', '/api/users/me', { token: ana.accessToken, body }), 200);
    }
    const dm = (await call('GET', '/api/dms', { token: bo.accessToken })).body.rooms[0];
    // Still only the one from the rename.
    expect(
      await receivedBeforeMarker(boSock, 'user:updated', isAna, await messageMarker(call, ana, dm.id)),
    ).toHaveLength(1);
  });
});
