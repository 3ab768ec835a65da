import type { Session } from '@parley/protocol';
import jwt from 'jsonwebtoken';
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
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

/*
 * Access tokens (forgery on REST and on the socket handshake), refresh-token rotation and reuse detection, the
 * refresh cookie and its origin check, and logout (with the session's sockets told and closed).
 */

const PASSWORD = 'correct-horse-9';
const COOKIE = 'parley_refresh';
/** How long a test waits for an event it expects before failing with a clear message. */
const EVENT_DEADLINE_MS = 5_000;

let srv: TestServer;
let call: Call;
const sockets: Socket[] = [];

beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.url);
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});
afterAll(async () => {
  await srv?.close();
});

/** Resolves with the first `event` on `socket`, or fails after a bounded wait. */
function nextEvent<T = any>(socket: Socket, event: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "${event}" within ${EVENT_DEADLINE_MS} ms`)),
      EVENT_DEADLINE_MS,
    );
    socket.once(event, (payload: T) => {
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

function openSocket(token: unknown): Socket {
  const s = io(srv.url, {
    auth: { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  sockets.push(s);
  return s;
}

/**
 * A connected socket for `token`, once the server has put it in its session's channel (it does so just after the
 * handshake, so a revocation right after `connect` could otherwise race it).
 */
async function connect(token: string): Promise<Socket> {
  const s = openSocket(token);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', (err) => reject(err));
  });
  const channel = `session:${decode(token).sid}`;
  const until = Date.now() + EVENT_DEADLINE_MS;
  while (!(await srv.parley.io.in(channel).fetchSockets()).some((x) => x.id === s.id)) {
    if (Date.now() > until) throw new Error(`socket never joined ${channel}`);
    await new Promise<void>((r) => setImmediate(r));
  }
  return s;
}

/** The handshake's refusal message for `token`. */
async function handshakeError(token: unknown): Promise<string> {
  const s = openSocket(token);
  return new Promise<string>((resolve, reject) => {
    s.once('connect', () => reject(new Error('the handshake was accepted')));
    s.once('connect_error', (err) => resolve(err.message));
  });
}

const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
const decode = (token: string) => jwt.decode(token) as jwt.JwtPayload;
/** Signs claims like the server does, with its secret, unless told otherwise. */
const sign = (claims: object, opts: jwt.SignOptions = {}, secret = srv.config.jwtSecret) =>
  jwt.sign(claims, secret, { algorithm: 'HS256', issuer: 'parley', audience: 'parley-api', ...opts });

describe('access token forgery', () => {
  let alice: Session;
  let bob: Session;
  let sid: string;
  beforeAll(async () => {
    alice = await register(call, uniqueName('alice'));
    bob = await register(call, uniqueName('bob'));
    sid = decode(alice.accessToken).sid;
  });

  it('the real token carries sub, sid, iss, aud and exp as the server signs them', () => {
    const claims = decode(alice.accessToken);
    expect(claims.sub).toBe(alice.user.id);
    expect(typeof claims.sid).toBe('string');
    expect(claims.iss).toBe('parley');
    expect(claims.aud).toBe('parley-api');
    expect(claims.exp! - claims.iat!).toBe(srv.config.accessTokenTtlSec);
    // Sanity: a token we sign the same way is accepted, so the refusals below are about the one change each.
    return call('GET', '/api/users/me', {
      token: sign({ sid }, { subject: alice.user.id, expiresIn: 60 }),
    }).then((res) => expect(res.status).toBe(200));
  });

  const forgeries: [string, () => string][] = [
    ['alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(decode(alice.accessToken))}.`],
    [
      'alg none (signed by the library)',
      () => jwt.sign(decode(alice.accessToken), '', { algorithm: 'none' }),
    ],
    ['another key', () => sign({ sid }, { subject: alice.user.id, expiresIn: 60 }, 'x'.repeat(64))],
    [
      'tampered payload (sub changed)',
      () => {
        const [h, , s] = alice.accessToken.split('.');
        return `${h}.${b64({ ...decode(alice.accessToken), sub: bob.user.id })}.${s}`;
      },
    ],
    ['wrong issuer', () => sign({ sid }, { subject: alice.user.id, expiresIn: 60, issuer: 'evil' })],
    ['wrong audience', () => sign({ sid }, { subject: alice.user.id, expiresIn: 60, audience: 'other-api' })],
    [
      'HS512 with the right key',
      () => sign({ sid }, { subject: alice.user.id, expiresIn: 60, algorithm: 'HS512' }),
    ],
    ['no sid', () => sign({}, { subject: alice.user.id, expiresIn: 60 })],
    ['no sub', () => sign({ sid }, { expiresIn: 60 })],
    // Correctly signed, but sub and sid do not belong together.
    ['sub of another user', () => sign({ sid }, { subject: bob.user.id, expiresIn: 60 })],
    [
      'unknown session',
      () => sign({ sid: '00000000-0000-4000-8000-000000000000' }, { subject: alice.user.id }),
    ],
    [
      'expired and signed with another key',
      () => sign({ sid, exp: 1_000_000 }, { subject: alice.user.id }, 'y'.repeat(64)),
    ],
    ['garbage', () => 'not-a-token'],
    ['refresh token as access token', () => alice.refreshToken],
  ];

  it.each(forgeries)('REST refuses %s with 401 UNAUTHORIZED', async (_name, make) => {
    expectError(await call('GET', '/api/users/me', { token: make() }), 401, 'UNAUTHORIZED');
  });

  it.each(forgeries)('the socket handshake refuses %s with UNAUTHORIZED', async (_name, make) => {
    expect(await handshakeError(make())).toBe('UNAUTHORIZED');
  });

  it('an expired token answers 401 TOKEN_EXPIRED, on REST and on the handshake', async () => {
    const expired = sign(
      { sid, iat: Math.floor(Date.now() / 1000) - 3600, exp: Math.floor(Date.now() / 1000) - 60 },
      { subject: alice.user.id },
    );
    expectError(await call('GET', '/api/users/me', { token: expired }), 401, 'TOKEN_EXPIRED');
    expect(await handshakeError(expired)).toBe('TOKEN_EXPIRED');
  });

  it('no token, or a malformed Authorization header, is 401 UNAUTHORIZED', async () => {
    expectError(await call('GET', '/api/users/me'), 401, 'UNAUTHORIZED');
    for (const authorization of [
      'Basic YWxpY2U6cHc=',
      'Bearer',
      `Token ${alice.accessToken}`,
      'Bearer a b',
    ]) {
      expectError(await call('GET', '/api/users/me', { headers: { authorization } }), 401, 'UNAUTHORIZED');
    }
    expect(await handshakeError(undefined)).toBe('UNAUTHORIZED');
    expect(await handshakeError('')).toBe('UNAUTHORIZED');
    expect(await handshakeError(42)).toBe('UNAUTHORIZED');
  });

  it('the real token is still accepted after all that', async () => {
    expect((await call('GET', '/api/users/me', { token: alice.accessToken })).status).toBe(200);
    const s = await connect(alice.accessToken);
    expect(s.connected).toBe(true);
  });
});

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

  it('a reused refresh token answers 401 and revokes the whole session', async () => {
    const s0 = await register(call);
    const other = await call('POST', '/api/auth/login', {
      body: { username: s0.user.username, password: PASSWORD },
    });
    const socket = await connect(s0.accessToken);
    const ended = nextEvent(socket, 'session:ended');
    const gone = nextEvent(socket, 'disconnect');

    const r1 = await call('POST', '/api/auth/refresh', { body: { refreshToken: s0.refreshToken } });
    expect(r1.status).toBe(200);
    // The thief (or a replay) presents the used token.
    expectError(
      await call('POST', '/api/auth/refresh', { body: { refreshToken: s0.refreshToken } }),
      401,
      'UNAUTHORIZED',
    );
    expect(await ended).toEqual({ reason: 'reuse' });
    expect(await gone).toBe('io server disconnect');

    // Every token of that family is dead: the newest refresh token and both access tokens.
    expectError(
      await call('POST', '/api/auth/refresh', { body: { refreshToken: r1.body.refreshToken } }),
      401,
      'UNAUTHORIZED',
    );
    expectError(await call('GET', '/api/users/me', { token: r1.body.accessToken }), 401, 'UNAUTHORIZED');
    expectError(await call('GET', '/api/users/me', { token: s0.accessToken }), 401, 'UNAUTHORIZED');
    expect(await handshakeError(r1.body.accessToken)).toBe('UNAUTHORIZED');

    // Another session of the same user is untouched.
    expect((await call('GET', '/api/users/me', { token: other.body.accessToken })).status).toBe(200);
    expect(
      (await call('POST', '/api/auth/refresh', { body: { refreshToken: other.body.refreshToken } })).status,
    ).toBe(200);
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

  it('refuses a foreign Origin with 403 and leaves the session alone', async () => {
    const s0 = await register(call);
    for (const origin of ['https://evil.example', 'http://127.0.0.1.evil.example', 'null']) {
      const res = await call('POST', '/api/auth/refresh', {
        headers: { cookie: `${COOKIE}=${s0.refreshToken}`, origin },
      });
      expectError(res, 403, 'FORBIDDEN');
    }
    expectError(
      await call('POST', '/api/auth/logout', {
        headers: { cookie: `${COOKIE}=${s0.refreshToken}`, origin: 'https://evil.example' },
      }),
      403,
      'FORBIDDEN',
    );
    // The refused attempts neither used up nor ended the token.
    expect((await call('GET', '/api/users/me', { token: s0.accessToken })).status).toBe(200);
    expect(
      (
        await call('POST', '/api/auth/refresh', {
          headers: { cookie: `${COOKIE}=${s0.refreshToken}`, origin: srv.url },
        })
      ).status,
    ).toBe(200);
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

  it("tells the session's sockets session:ended and disconnects them; other sessions stay", async () => {
    const s0 = await register(call);
    const other = await call('POST', '/api/auth/login', {
      body: { username: s0.user.username, password: PASSWORD },
    });
    const tab1 = await connect(s0.accessToken);
    const tab2 = await connect(s0.accessToken);
    const elsewhere = await connect(other.body.accessToken);
    const ended = [nextEvent(tab1, 'session:ended'), nextEvent(tab2, 'session:ended')];
    const gone = [nextEvent(tab1, 'disconnect'), nextEvent(tab2, 'disconnect')];

    expect((await call('POST', '/api/auth/logout', { token: s0.accessToken })).status).toBe(204);
    expect(await Promise.all(ended)).toEqual([{ reason: 'logout' }, { reason: 'logout' }]);
    expect(await Promise.all(gone)).toEqual(['io server disconnect', 'io server disconnect']);

    // The other session's socket is still connected and served.
    const ack = await elsewhere.timeout(EVENT_DEADLINE_MS).emitWithAck('presence:list', {});
    expect(ack.ok).toBe(true);
    expect(elsewhere.connected).toBe(true);
  });
});
