import type { Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, register, startTestServer, type Call, type TestServer } from '../src/test-support/server.js';
import { expectError } from './helpers/http.js';
import { closeAllSockets, connectSocket, nextEvent } from './helpers/sockets.js';
import { disconnected } from './helpers/realtime.js';

/*
 * POST /api/auth/logout-all ("sign out everywhere", issue 14): every session of the user ends, this one included,
 * and each of their sockets is told `session:ended` and closed. Another user's sessions are untouched.
 */

const PASSWORD = 'correct-horse-9';

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

async function login(s: Session): Promise<Session> {
  const res = await call('POST', '/api/auth/login', {
    body: { username: s.user.username, password: PASSWORD },
  });
  expect(res.status).toBe(200);
  return res.body as Session;
}

describe('POST /api/auth/logout-all', () => {
  it('answers 401 without a valid access token', async () => {
    expectError(await call('POST', '/api/auth/logout-all'), 401, 'UNAUTHORIZED');
    expectError(await call('POST', '/api/auth/logout-all', { token: 'not-a-token' }), 401, 'UNAUTHORIZED');
  });

  it('refuses a body with any field (400) and ends nothing', async () => {
    const a = await register(call);
    const res = await call('POST', '/api/auth/logout-all', {
      token: a.accessToken,
      body: { keepThis: true },
    });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect((await call('GET', '/api/users/me', { token: a.accessToken })).status).toBe(200);
  });

  it('ends every session of the user, this one included; their sockets get session:ended', async () => {
    const a = await register(call);
    const a2 = await login(a);
    const bystander = await register(call);
    const [sock1, sock2, other] = await Promise.all([
      connectSocket(srv, a),
      connectSocket(srv, a2),
      connectSocket(srv, bystander),
    ]);
    const ended1 = nextEvent(sock1, 'session:ended');
    const ended2 = nextEvent(sock2, 'session:ended');
    const gone1 = disconnected(sock1);
    const gone2 = disconnected(sock2);

    const res = await call('POST', '/api/auth/logout-all', { token: a.accessToken });
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();

    expect(await ended1).toEqual({ reason: 'logout_all' });
    expect(await ended2).toEqual({ reason: 'logout_all' });
    await Promise.all([gone1, gone2]);
    for (const s of [a, a2]) {
      expectError(await call('GET', '/api/users/me', { token: s.accessToken }), 401, 'UNAUTHORIZED');
      expectError(
        await call('POST', '/api/auth/refresh', { body: { refreshToken: s.refreshToken } }),
        401,
        'UNAUTHORIZED',
      );
    }
    // Someone else's session goes on, socket included.
    expect((await call('GET', '/api/users/me', { token: bystander.accessToken })).status).toBe(200);
    expect(other.connected).toBe(true);
    // The account itself is fine: signing in again works.
    await login(a);
  });

  it('works for guests too', async () => {
    const guest = await call('POST', '/api/auth/guest', { body: { username: `g${Date.now() % 1e8}` } });
    expect(guest.status).toBe(201);
    const res = await call('POST', '/api/auth/logout-all', { token: (guest.body as Session).accessToken });
    expect(res.status).toBe(204);
    expectError(
      await call('GET', '/api/users/me', { token: (guest.body as Session).accessToken }),
      401,
      'UNAUTHORIZED',
    );
  });

  it('clears the refresh cookie, like logout', async () => {
    const a = await register(call);
    const res = await call('POST', '/api/auth/logout-all', { token: a.accessToken });
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie') ?? '').toMatch(/parley_refresh=;/);
  });

  it('counts against the auth limit per address (429 with Retry-After)', async () => {
    const limited = await startTestServer({ rateLimitAuthPerMin: 2 });
    try {
      const c = client(limited.url);
      const a = await register(c); // 1
      expect((await c('POST', '/api/auth/logout-all', { token: a.accessToken })).status).toBe(204); // 2
      const third = await c('POST', '/api/auth/logout-all', { token: a.accessToken });
      expectError(third, 429, 'RATE_LIMITED');
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});
