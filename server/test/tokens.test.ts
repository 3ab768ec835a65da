import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type Res,
  type TestServer,
} from '../src/test-support/server.js';
import { expectError } from './helpers/http.js';
import { closeRawSockets, expectHandshakeRefused } from './helpers/realtime.js';
import { decodeToken as decode } from './helpers/tokens.js';

/*
 * Refresh-token rotation, the refresh cookie, and logout. Forged and expired access tokens, refresh reuse, the
 * cookie's Origin check and logout closing sockets are proved in server/test/hardening/auth.hardening.ts.
 */

const PASSWORD = 'correct-horse-9';
const COOKIE = 'parley_refresh';

let srv: TestServer;
let call: Call;

beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.url);
});
afterAll(async () => {
  closeRawSockets();
  await srv?.close();
});

/** The handshake's refusal message for `token`. */
async function handshakeError(token: unknown): Promise<string> {
  return (await expectHandshakeRefused(srv, { auth: { token } })).message;
}

describe('POST /api/auth/refresh', () => {
  it('rotates: each refresh token works once and hands out a full Session', async () => {
    const s0 = await register(call);
    const r1 = await call('POST', '/api/auth/refresh', { body: { refreshToken: s0.refreshToken } });
    expect(r1.status).toBe(200);
    expect(Object.keys(r1.body).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'user']);
    expect(r1.body.user).toEqual(s0.user);
    expect(r1.body.refreshToken).not.toBe(s0.refreshToken);
    expect(r1.body.expiresIn).toBe(srv.config.accessTokenTtlSec);
    // Same session (family), new tokens.
    expect(decode(r1.body.accessToken).sid).toBe(decode(s0.accessToken).sid);
    expect((await call('GET', '/api/users/me', { token: r1.body.accessToken })).status).toBe(200);
    const r2 = await call('POST', '/api/auth/refresh', { body: { refreshToken: r1.body.refreshToken } });
    expect(r2.status).toBe(200);
    expect(r2.body.refreshToken).not.toBe(r1.body.refreshToken);
  });

  it('refuses forged, malformed and missing refresh tokens', async () => {
    const s0 = await register(call);
    const [sessionId, gen, mac] = s0.refreshToken.split('.') as [string, string, string];
    for (const refreshToken of [
      `${sessionId}.${Number(gen) + 1}.${mac}`, // a future generation, with the old MAC
      `${sessionId}.${gen}.${mac.slice(0, -2)}AA`, // a tampered MAC
      `00000000-0000-4000-8000-000000000000.0.${mac}`,
      'garbage',
      s0.accessToken.slice(0, 512),
    ]) {
      expectError(await call('POST', '/api/auth/refresh', { body: { refreshToken } }), 401, 'UNAUTHORIZED');
    }
    expectError(await call('POST', '/api/auth/refresh', { body: {} }), 401, 'UNAUTHORIZED');
    expectError(await call('POST', '/api/auth/refresh'), 401, 'UNAUTHORIZED');
    expectError(
      await call('POST', '/api/auth/refresh', { body: { refreshToken: 42 } }),
      400,
      'VALIDATION_ERROR',
    );
    expectError(
      await call('POST', '/api/auth/refresh', { body: { refreshToken: s0.refreshToken, extra: 1 } }),
      400,
      'VALIDATION_ERROR',
    );
    // None of that harmed the real one.
    expect(
      (await call('POST', '/api/auth/refresh', { body: { refreshToken: s0.refreshToken } })).status,
    ).toBe(200);
  });
});

describe('the refresh cookie', () => {
  /** The `parley_refresh` Set-Cookie of a response, parsed. */
  function refreshCookie(res: Res): { value: string; attrs: string[] } {
    const raw = res.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`));
    expect(raw, 'a parley_refresh cookie is set').toBeDefined();
    const [pair, ...attrs] = raw!.split(';').map((p) => p.trim());
    return {
      value: decodeURIComponent(pair!.slice(COOKIE.length + 1)),
      attrs: attrs.map((a) => a.toLowerCase()),
    };
  }

  it('is set on sign-in as HttpOnly, SameSite=Strict, Path=/api/auth, holding the refresh token', async () => {
    const name = uniqueName('ck');
    const res = await call('POST', '/api/auth/register', {
      body: { username: name, email: `${name}@example.com`, password: PASSWORD },
    });
    const cookie = refreshCookie(res);
    expect(cookie.value).toBe(res.body.refreshToken);
    expect(cookie.attrs).toContain('httponly');
    expect(cookie.attrs).toContain('samesite=strict');
    expect(cookie.attrs).toContain('path=/api/auth');
    expect(cookie.attrs.find((a) => a.startsWith('max-age='))).toBe(
      `max-age=${srv.config.refreshTokenTtlSec}`,
    );
    for (const path of ['/api/auth/login', '/api/auth/guest']) {
      const body =
        path === '/api/auth/login' ? { username: name, password: PASSWORD } : { username: uniqueName('ckg') };
      const r = await call('POST', path, { body });
      expect(refreshCookie(r).value).toBe(r.body.refreshToken);
    }
  });

  it('refreshes with no Origin or our own Origin, rotating the cookie', async () => {
    const s0 = await register(call);
    const a = await call('POST', '/api/auth/refresh', {
      headers: { cookie: `${COOKIE}=${s0.refreshToken}` },
    });
    expect(a.status).toBe(200);
    expect(a.body.user.id).toBe(s0.user.id);
    expect(refreshCookie(a).value).toBe(a.body.refreshToken);
    const b = await call('POST', '/api/auth/refresh', {
      headers: { cookie: `${COOKIE}=${a.body.refreshToken}`, origin: srv.url },
    });
    expect(b.status).toBe(200);
    expect(refreshCookie(b).value).toBe(b.body.refreshToken);
  });

  it('a used cookie is refused and cleared', async () => {
    const s0 = await register(call);
    expect(
      (await call('POST', '/api/auth/refresh', { body: { refreshToken: s0.refreshToken } })).status,
    ).toBe(200);
    const res = await call('POST', '/api/auth/refresh', {
      headers: { cookie: `${COOKIE}=${s0.refreshToken}` },
    });
    expectError(res, 401, 'UNAUTHORIZED');
    const cleared = res.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=`));
    expect(cleared).toMatch(/^parley_refresh=;/);
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/);
  });
});

describe('POST /api/auth/logout', () => {
  it('with the access token ends the session: 204, then its tokens are refused', async () => {
    const s0 = await register(call);
    const res = await call('POST', '/api/auth/logout', { token: s0.accessToken, body: {} });
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    expect(res.headers.getSetCookie().find((c) => c.startsWith(`${COOKIE}=;`))).toBeDefined();
    expectError(await call('GET', '/api/users/me', { token: s0.accessToken }), 401, 'UNAUTHORIZED');
    expectError(
      await call('POST', '/api/auth/refresh', { body: { refreshToken: s0.refreshToken } }),
      401,
      'UNAUTHORIZED',
    );
    expect(await handshakeError(s0.accessToken)).toBe('UNAUTHORIZED');
  });

  it('with only the refresh token (body or cookie) ends that session', async () => {
    const s0 = await register(call);
    expect((await call('POST', '/api/auth/logout', { body: { refreshToken: s0.refreshToken } })).status).toBe(
      204,
    );
    expectError(await call('GET', '/api/users/me', { token: s0.accessToken }), 401, 'UNAUTHORIZED');

    const s1 = await register(call);
    const res = await call('POST', '/api/auth/logout', {
      headers: { cookie: `${COOKIE}=${s1.refreshToken}` },
    });
    expect(res.status).toBe(204);
    expectError(await call('GET', '/api/users/me', { token: s1.accessToken }), 401, 'UNAUTHORIZED');
  });

  it('with nothing to sign out of is 401; with bad input 400', async () => {
    expectError(await call('POST', '/api/auth/logout', { body: {} }), 401, 'UNAUTHORIZED');
    expectError(
      await call('POST', '/api/auth/logout', { body: { refreshToken: 'garbage' } }),
      401,
      'UNAUTHORIZED',
    );
    const s0 = await register(call);
    expectError(
      await call('POST', '/api/auth/logout', {
        token: s0.accessToken,
        body: { refreshToken: s0.refreshToken, all: true },
      }),
      400,
      'VALIDATION_ERROR',
    );
    expectError(
      await call('POST', '/api/auth/logout', { token: s0.accessToken, raw: '{"refreshToken":' }),
      400,
      'VALIDATION_ERROR',
    );
    // The failed attempts ended nothing.
    expect((await call('GET', '/api/users/me', { token: s0.accessToken })).status).toBe(200);
  });

  it("cannot end someone else's session with their refresh token and your access token", async () => {
    const victim = await register(call);
    const attacker = await register(call);
    const res = await call('POST', '/api/auth/logout', {
      token: attacker.accessToken,
      body: { refreshToken: victim.refreshToken },
    });
    expect(res.status).toBe(204);
    expect((await call('GET', '/api/users/me', { token: victim.accessToken })).status).toBe(200);
    expectError(await call('GET', '/api/users/me', { token: attacker.accessToken }), 401, 'UNAUTHORIZED');
  });
});
