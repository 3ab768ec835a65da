import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, register, startTestServer, type Call, type TestServer } from '../src/test-support/server.js';
import { expectError } from './helpers/http.js';
import { expectStatusOf, messageMarker } from './helpers/realtime.js';
import { closeAllSockets, connectSocket, nextEvent, receivedBeforeMarker } from './helpers/sockets.js';

/*
 * `user:updated` (issue 14): a display-name or avatar change reaches the members of the changer's rooms and the
 * changer's own other sockets, once each, as the User is now; an email change sends nothing (an email is private).
 * Everyone stays in general, so in practice the audience is general's members; the receive matrix checks it. PATCH /api/users/me's own validation and authorization are in users.test.ts.
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

describe('user:updated', () => {
  it('is not sent for a refused change (unauthenticated)', async () => {
    expectError(
      await call('PATCH', '/api/users/me', { body: { displayName: 'Nobody' } }),
      401,
      'UNAUTHORIZED',
    );
  });

  it('reaches roommates and the own other sockets, once, with the new User; not for an email change', async () => {
    const ana = await register(call);
    const bo = await register(call);
    // Ana and Bo share general (everyone stays in it) and a DM.
    expectStatusOf(
      await call('POST', '/api/dms', { token: ana.accessToken, body: { userId: bo.user.id } }),
      200,
    );
    const [boSock, anaOther] = await Promise.all([connectSocket(srv, bo), connectSocket(srv, ana)]);

    const res = await call('PATCH', '/api/users/me', {
      token: ana.accessToken,
      body: { displayName: 'Ana Renamed' },
    });
    expect(res.status).toBe(200);
    const isAna = (p: { id: string }) => p.id === ana.user.id;
    const got = await nextEvent(boSock, 'user:updated', isAna);
    const { email: _email, ...publicAna } = ana.user;
    expect(got).toEqual({ ...publicAna, displayName: 'Ana Renamed' });
    expect(got).not.toHaveProperty('email');
    expect(await nextEvent(anaOther, 'user:updated', isAna)).toEqual(got);

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
