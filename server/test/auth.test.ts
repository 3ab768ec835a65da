import type { Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
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
 * POST /api/auth/register, /login, /guest: validation, exact shapes, usernames (case, NFKC, confusables),
 * guests and their name hold, the reset of login failures, hostile payloads. Tokens, refresh rotation and logout
 * live in tokens.test.ts; the failure limit, the per-address limit and indistinguishable login failures are
 * proved in server/test/hardening/auth.hardening.ts.
 */

const PASSWORD = 'correct-horse-9';
const USER_KEYS = ['avatarUrl', 'createdAt', 'displayName', 'id', 'isGuest', 'username'];
const ME_KEYS = [...USER_KEYS, 'email'].sort();

let srv: TestServer;
let call: Call;

beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.url);
});
afterAll(async () => {
  await srv?.close();
});

const isIso = (v: unknown) => typeof v === 'string' && new Date(v).toISOString() === v;

/** A Session exactly as the contract shapes it: no more keys, no fewer, the right types. */
function expectSession(
  body: any,
  want: { username: string; email: string | null; isGuest: boolean; displayName?: string },
): void {
  expect(Object.keys(body).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'user']);
  expect(typeof body.accessToken).toBe('string');
  expect(body.accessToken.split('.')).toHaveLength(3);
  expect(typeof body.refreshToken).toBe('string');
  expect(body.refreshToken.length).toBeGreaterThan(20);
  expect(body.expiresIn).toBe(srv.config.accessTokenTtlSec);
  const u = body.user;
  expect(Object.keys(u).sort()).toEqual(ME_KEYS);
  expect(u.id).toMatch(/^[1-9][0-9]*$/);
  expect(u.username).toBe(want.username);
  expect(u.displayName).toBe(want.displayName ?? want.username);
  expect(u.email).toBe(want.email);
  expect(u.isGuest).toBe(want.isGuest);
  expect(u.avatarUrl).toBeNull();
  expect(isIso(u.createdAt)).toBe(true);
}

/** A 400 whose details name `path` (one detail per broken field). */
function expectInvalid(res: Res, path: string): void {
  expectError(res, 400, 'VALIDATION_ERROR');
  expect(Array.isArray(res.body.error.details)).toBe(true);
  expect(res.body.error.details.map((d: any) => d.path)).toContain(path);
  for (const d of res.body.error.details) {
    expect(typeof d.message).toBe('string');
  }
}

const registerBody = (username: string, extra: Record<string, unknown> = {}) => ({
  username,
  email: `${username.toLowerCase()}@example.com`,
  password: PASSWORD,
  ...extra,
});

describe('POST /api/auth/register', () => {
  it('creates an account and answers 201 with a Session (Me has the email)', async () => {
    const name = uniqueName('reg');
    const res = await call('POST', '/api/auth/register', {
      body: { ...registerBody(name), displayName: 'Réka Nagy' },
    });
    expect(res.status).toBe(201);
    expectSession(res.body, {
      username: name,
      email: `${name}@example.com`,
      isGuest: false,
      displayName: 'Réka Nagy',
    });
    expect(res.headers.get('cache-control')).toBe('no-store');
    // The access token it hands out works right away.
    const me = await call('GET', '/api/users/me', { token: res.body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body).toEqual(res.body.user);
  });

  it('trims and lower-cases the email and defaults displayName to the username', async () => {
    const name = uniqueName('mail');
    const res = await call('POST', '/api/auth/register', {
      body: { username: name, email: `  ${name.toUpperCase()}@Example.COM `, password: PASSWORD },
    });
    expect(res.status).toBe(201);
    expectSession(res.body, { username: name, email: `${name}@example.com`, isGuest: false });
  });

  it('rejects missing and mistyped fields with details per field', async () => {
    expectInvalid(await call('POST', '/api/auth/register', { body: {} }), 'username');
    const missing = await call('POST', '/api/auth/register', { body: {} });
    expect(missing.body.error.details.map((d: any) => d.path).sort()).toEqual([
      'email',
      'password',
      'username',
    ]);
    expectInvalid(
      await call('POST', '/api/auth/register', { body: { ...registerBody(uniqueName()), username: 42 } }),
      'username',
    );
    expectInvalid(
      await call('POST', '/api/auth/register', { body: registerBody(uniqueName(), { password: 'short' }) }),
      'password',
    );
    expectInvalid(
      await call('POST', '/api/auth/register', {
        body: registerBody(uniqueName(), { password: 'x'.repeat(129) }),
      }),
      'password',
    );
    expectInvalid(
      await call('POST', '/api/auth/register', {
        body: registerBody(uniqueName(), { email: 'not-an-email' }),
      }),
      'email',
    );
    expectInvalid(await call('POST', '/api/auth/register', { body: registerBody('ab') }), 'username');
    expectInvalid(
      await call('POST', '/api/auth/register', { body: registerBody('a'.repeat(33)) }),
      'username',
    );
    expectInvalid(await call('POST', '/api/auth/register', { body: registerBody('has space') }), 'username');
    expectInvalid(
      await call('POST', '/api/auth/register', { body: registerBody(uniqueName(), { displayName: '' }) }),
      'displayName',
    );
  });

  it('rejects unknown fields, naming them', async () => {
    const res = await call('POST', '/api/auth/register', {
      body: registerBody(uniqueName(), { isAdmin: true }),
    });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(JSON.stringify(res.body.error.details)).toContain('isAdmin');
  });

  it('answers malformed JSON with 400, and non-JSON with 415', async () => {
    expectError(
      await call('POST', '/api/auth/register', { raw: '{"username": "ana",' }),
      400,
      'VALIDATION_ERROR',
    );
    expectError(
      await call('POST', '/api/auth/register', {
        raw: 'username=ana&password=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });
});

describe('usernames', () => {
  it('are unique case-insensitively: Ana then ana is 409 USERNAME_TAKEN', async () => {
    expect((await call('POST', '/api/auth/register', { body: registerBody('Ana') })).status).toBe(201);
    const dup = await call('POST', '/api/auth/register', {
      body: { username: 'ana', email: 'ana-two@example.com', password: PASSWORD },
    });
    expectError(dup, 409, 'USERNAME_TAKEN');
    const upper = await call('POST', '/api/auth/register', {
      body: { username: 'ANA', email: 'ana-three@example.com', password: PASSWORD },
    });
    expectError(upper, 409, 'USERNAME_TAKEN');
  });

  it('are NFKC-normalised: ＡＤＭＩＮ registers as ADMIN and then collides with admin', async () => {
    const res = await call('POST', '/api/auth/register', {
      body: { username: 'ＡＤＭＩＮ', email: 'fullwidth@example.com', password: PASSWORD },
    });
    expect(res.status).toBe(201);
    expect(res.body.user.username).toBe('ADMIN');
    expectError(
      await call('POST', '/api/auth/register', {
        body: { username: 'admin', email: 'plain-admin@example.com', password: PASSWORD },
      }),
      409,
      'USERNAME_TAKEN',
    );
    // And the other way round: a full-width spelling of a plain name that exists.
    expect((await call('POST', '/api/auth/register', { body: registerBody('root') })).status).toBe(201);
    expectError(
      await call('POST', '/api/auth/register', {
        body: { username: 'ｒｏｏｔ', email: 'fw-root@example.com', password: PASSWORD },
      }),
      409,
      'USERNAME_TAKEN',
    );
  });

  it('refuses ASCII look-alikes of an existing name (adm1n, admln, rn for m)', async () => {
    // ADMIN exists from the previous test.
    for (const lookalike of ['adm1n', 'admln', 'AdMIn', 'adrnin']) {
      const res = await call('POST', '/api/auth/register', {
        body: { username: lookalike, email: `${lookalike}-x@example.com`, password: PASSWORD },
      });
      expectError(res, 409, 'USERNAME_TAKEN');
    }
    expect((await call('POST', '/api/auth/register', { body: registerBody('mary') })).status).toBe(201);
    expectError(
      await call('POST', '/api/auth/register', {
        body: { username: 'rnary', email: 'rnary@example.com', password: PASSWORD },
      }),
      409,
      'USERNAME_TAKEN',
    );
    expectError(
      await call('POST', '/api/auth/register', {
        body: { username: 'r00t', email: 'r00t@example.com', password: PASSWORD },
      }),
      409,
      'USERNAME_TAKEN',
    );
  });

  it('refuses Cyrillic look-alikes, zero-width joiners and bidi overrides with 400', async () => {
    for (const bad of [
      '\u0430dmin',
      'ad\u200dmin',
      '\u202enimda',
      'adm\u200bin',
      'ad\u0000min',
      'ana\u0301',
    ]) {
      const res = await call('POST', '/api/auth/register', {
        body: { username: bad, email: `${uniqueName('bad')}@example.com`, password: PASSWORD },
      });
      expectInvalid(res, 'username');
    }
  });

  it('refuses a duplicate email case-insensitively with 409 EMAIL_TAKEN', async () => {
    const a = uniqueName('em');
    expect(
      (
        await call('POST', '/api/auth/register', {
          body: { username: a, email: `Shared.${a}@Example.com`, password: PASSWORD },
        })
      ).status,
    ).toBe(201);
    const res = await call('POST', '/api/auth/register', {
      body: {
        username: uniqueName('em'),
        email: `SHARED.${a.toUpperCase()}@EXAMPLE.COM`,
        password: PASSWORD,
      },
    });
    expectError(res, 409, 'EMAIL_TAKEN');
  });

  it('lets exactly one of two simultaneous registrations of one name win', async () => {
    const name = uniqueName('race');
    const results = await Promise.all(
      [1, 2, 3].map((i) =>
        call('POST', '/api/auth/register', {
          body: { username: name, email: `${name}-${i}@example.com`, password: PASSWORD },
        }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409]);
    for (const r of results.filter((x) => x.status === 409)) expectError(r, 409, 'USERNAME_TAKEN');
  });
});

describe('every new user lands in general', () => {
  async function expectInGeneral(session: Session): Promise<void> {
    const rooms = await call('GET', '/api/chatrooms', { token: session.accessToken });
    expect(rooms.status).toBe(200);
    const general = rooms.body.rooms.find((r: any) => r.name === 'general');
    expect(general).toBeDefined();
    expect(general.kind).toBe('public');
    expect(general.isMember).toBe(true);
    const history = await call('GET', `/api/chatrooms/${general.id}/messages?limit=100`, {
      token: session.accessToken,
    });
    expect(history.status).toBe(200);
    const joined = history.body.messages.filter(
      (m: any) => m.kind === 'system' && m.event === 'joined' && m.author?.id === session.user.id,
    );
    expect(joined).toHaveLength(1);
    expect(joined[0].roomId).toBe(general.id);
    expect(joined[0].author).not.toHaveProperty('email');
  }

  it('a registered user is a member of general with a joined system message', async () => {
    await expectInGeneral(await register(call));
  });

  it('a guest is too', async () => {
    const res = await call('POST', '/api/auth/guest', { body: { username: uniqueName('g') } });
    expect(res.status).toBe(201);
    await expectInGeneral(res.body);
  });
});

describe('POST /api/auth/login', () => {
  let name: string;
  let session: Session;
  beforeAll(async () => {
    name = `Camel${uniqueName('L')}`;
    session = await register(call, name);
  });

  it('signs in by username, case-insensitively, with a new session each time', async () => {
    for (const username of [name, name.toLowerCase(), name.toUpperCase(), `  ${name}  `]) {
      const res = await call('POST', '/api/auth/login', { body: { username, password: PASSWORD } });
      expect(res.status, username).toBe(200);
      expectSession(res.body, { username: name, email: `${name.toLowerCase()}@example.com`, isGuest: false });
      expect(res.body.user.id).toBe(session.user.id);
      expect(res.body.refreshToken).not.toBe(session.refreshToken);
    }
  });

  it('signs in by email, in the email field or in the username field', async () => {
    const email = `${name}@example.com`;
    for (const body of [
      { email, password: PASSWORD },
      { email: email.toUpperCase(), password: PASSWORD },
      { username: email, password: PASSWORD },
    ]) {
      const res = await call('POST', '/api/auth/login', { body });
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(res.body.user.id).toBe(session.user.id);
    }
  });

  it('does not let a guest sign in with a password', async () => {
    const guest = await call('POST', '/api/auth/guest', { body: { username: uniqueName('gl') } });
    const res = await call('POST', '/api/auth/login', {
      body: { username: guest.body.user.username, password: PASSWORD },
    });
    expectError(res, 401, 'INVALID_CREDENTIALS');
  });

  it('validates its body', async () => {
    expectInvalid(await call('POST', '/api/auth/login', { body: { username: name } }), 'password');
    expectInvalid(await call('POST', '/api/auth/login', { body: { password: PASSWORD } }), 'username');
    expectInvalid(
      await call('POST', '/api/auth/login', {
        body: { username: name, email: `${name}@example.com`, password: PASSWORD },
      }),
      'username',
    );
    expectInvalid(
      await call('POST', '/api/auth/login', { body: { username: name, password: 12345678 } }),
      'password',
    );
    expectError(
      await call('POST', '/api/auth/login', { body: { username: name, password: PASSWORD, remember: true } }),
      400,
      'VALIDATION_ERROR',
    );
    expectError(await call('POST', '/api/auth/login', { raw: '{' }), 400, 'VALIDATION_ERROR');
  });
});

describe('login failure limit per account', () => {
  it('forgets failures after a successful sign-in', async () => {
    const limited = await startTestServer({ loginMaxFailures: 3 });
    try {
      const c = client(limited.url);
      const name = uniqueName('reset');
      await register(c, name);
      for (let i = 0; i < 2; i++) {
        expect(
          (await c('POST', '/api/auth/login', { body: { username: name, password: 'nope-nope' } })).status,
        ).toBe(401);
      }
      expect(
        (await c('POST', '/api/auth/login', { body: { username: name, password: PASSWORD } })).status,
      ).toBe(200);
      for (let i = 0; i < 2; i++) {
        expect(
          (await c('POST', '/api/auth/login', { body: { username: name, password: 'nope-nope' } })).status,
        ).toBe(401);
      }
      expect(
        (await c('POST', '/api/auth/login', { body: { username: name, password: PASSWORD } })).status,
      ).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('POST /api/auth/guest', () => {
  it('answers 201 with a guest Session (no email)', async () => {
    const name = uniqueName('guest');
    const res = await call('POST', '/api/auth/guest', { body: { username: name } });
    expect(res.status).toBe(201);
    expectSession(res.body, { username: name, email: null, isGuest: true });
    const me = await call('GET', '/api/users/me', { token: res.body.accessToken });
    expect(me.body.isGuest).toBe(true);
  });

  it('validates its body', async () => {
    expectInvalid(await call('POST', '/api/auth/guest', { body: {} }), 'username');
    expectInvalid(await call('POST', '/api/auth/guest', { body: { username: 'x' } }), 'username');
    expectInvalid(await call('POST', '/api/auth/guest', { body: { username: 'g\u202eest' } }), 'username');
    expectError(
      await call('POST', '/api/auth/guest', { body: { username: uniqueName('g'), password: PASSWORD } }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('refuses a name a registered user holds (or one that looks like it) with 409', async () => {
    const owner = await register(call, uniqueName('held'));
    for (const username of [owner.user.username, owner.user.username.toUpperCase()]) {
      expectError(await call('POST', '/api/auth/guest', { body: { username } }), 409, 'USERNAME_TAKEN');
    }
    expectError(
      await call('POST', '/api/auth/guest', { body: { username: 'Adm1n' } }),
      409,
      'USERNAME_TAKEN',
    );
  });

  it('refuses a name a guest has just taken, for guests and registrations alike', async () => {
    const name = uniqueName('fresh');
    expect((await call('POST', '/api/auth/guest', { body: { username: name } })).status).toBe(201);
    expectError(await call('POST', '/api/auth/guest', { body: { username: name } }), 409, 'USERNAME_TAKEN');
    expectError(
      await call('POST', '/api/auth/register', { body: registerBody(name) }),
      409,
      'USERNAME_TAKEN',
    );
  });

  it('a quiet guest gives its name up (and its session ends); a connected one keeps it', async () => {
    const quiet = uniqueName('quiet');
    const first = await call('POST', '/api/auth/guest', { body: { username: quiet } });
    expect(first.status).toBe(201);
    const guestEmail = `${quiet}@example.com`;
    const patched = await call('PATCH', '/api/users/me', {
      token: first.body.accessToken,
      body: { email: guestEmail },
    });
    // Guests have no email (issue 13: one a guest held kept its owner from registering).
    expectError(patched, 403, 'FORBIDDEN');
    // Make the guest look idle beyond the hold period (instead of waiting a minute).
    const longAgo = new Date(Date.now() - 10 * 60_000);
    await srv.parley.ctx.models.User.update(
      { lastSeenAt: longAgo },
      { where: { id: Number(first.body.user.id) } },
    );
    const second = await call('POST', '/api/auth/guest', { body: { username: quiet } });
    expect(second.status).toBe(201);
    expect(second.body.user.id).not.toBe(first.body.user.id);
    expectError(await call('GET', '/api/users/me', { token: first.body.accessToken }), 401, 'UNAUTHORIZED');
    // The address it asked for is free.
    const byEmail = await call('POST', '/api/auth/register', {
      body: { username: uniqueName('heir'), email: guestEmail, password: PASSWORD },
    });
    expect(byEmail.status).toBe(201);

    // A guest with a connected socket holds its name however long ago it last signed in.
    const online = uniqueName('online');
    const held = await call('POST', '/api/auth/guest', { body: { username: online } });
    const socket: Socket = io(srv.url, {
      auth: { token: held.body.accessToken },
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        // presence:subscribe is answered once the socket is set up, so its user counts as online by then.
        socket.once('connect', async () => {
          const ack: any = await socket
            .timeout(5_000)
            .emitWithAck('presence:subscribe', { userIds: [held.body.user.id] });
          if (ack.ok && ack.data.online.includes(held.body.user.id)) resolve();
          else reject(new Error(JSON.stringify(ack)));
        });
        socket.on('connect_error', reject);
      });
      await srv.parley.ctx.models.User.update(
        { lastSeenAt: longAgo },
        { where: { id: Number(held.body.user.id) } },
      );
      expectError(
        await call('POST', '/api/auth/guest', { body: { username: online } }),
        409,
        'USERNAME_TAKEN',
      );
    } finally {
      socket.close();
    }
  });

  it('guests cannot create rooms or change a password (403)', async () => {
    const guest = await call('POST', '/api/auth/guest', { body: { username: uniqueName('gf') } });
    expectError(
      await call('POST', '/api/chatrooms', {
        token: guest.body.accessToken,
        body: { name: uniqueName('room') },
      }),
      403,
      'FORBIDDEN',
    );
    expectError(
      await call('POST', '/api/users/me/password', {
        token: guest.body.accessToken,
        body: { currentPassword: PASSWORD, newPassword: 'another-pass-9' },
      }),
      403,
      'FORBIDDEN',
    );
  });

  it('answers 403 when guests are disabled', async () => {
    const closed = await startTestServer({ allowGuests: false });
    try {
      const c = client(closed.url);
      expectError(
        await c('POST', '/api/auth/guest', { body: { username: uniqueName('no') } }),
        403,
        'FORBIDDEN',
      );
      // Registration still works there.
      expect((await c('POST', '/api/auth/register', { body: registerBody(uniqueName('yes')) })).status).toBe(
        201,
      );
    } finally {
      await closed.close();
    }
  });
});

describe('hostile payloads', () => {
  const huge = 'a'.repeat(1024 * 1024);
  const cases: { name: string; raw: string; status?: number }[] = [
    {
      name: 'operator object',
      raw: '{"username":{"$gt":""},"password":{"$ne":null},"email":{"$regex":".*"}}',
    },
    {
      name: 'SQL fragment',
      raw: JSON.stringify({ username: "' OR 1=1 --", password: "' OR '1'='1", email: 'a@b.co' }),
    },
    {
      name: 'SQL in email',
      raw: JSON.stringify({ username: 'bobby', email: "x'; DROP TABLE users; --@x.io", password: PASSWORD }),
    },
    { name: '1 MB string', raw: JSON.stringify({ username: huge, password: huge }), status: 413 },
    { name: 'array body', raw: '[{"username":"ana","password":"correct-horse-9"}]' },
    { name: 'empty array', raw: '[]' },
    { name: 'numbers for strings', raw: '{"username":1e308,"password":12345678,"email":0}' },
    { name: 'arrays for strings', raw: '{"username":["admin"],"password":["x"],"email":["a@b.co"]}' },
    {
      name: '__proto__ key',
      raw: `{"__proto__":{"isGuest":false,"admin":true},"username":"protox","email":"p@x.io","password":"${PASSWORD}"}`,
    },
    {
      name: 'constructor key',
      raw: `{"constructor":{"prototype":{"admin":true}},"username":"ctorx","email":"c@x.io","password":"${PASSWORD}"}`,
    },
    {
      name: 'null bytes',
      raw: `{"username":"ad\\u0000min","email":"n\\u0000@x.io","password":"pass\\u0000word"}`,
    },
    { name: 'JSON null', raw: 'null' },
    { name: 'JSON string', raw: '"username"' },
    { name: 'deep nesting', raw: '['.repeat(5000) + ']'.repeat(5000) },
    { name: 'lone surrogate', raw: '{"username":"\\ud800abc","password":"x","email":"s@x.io"}' },
    { name: 'truncated JSON', raw: '{"username":"ana","password":' },
  ];

  for (const path of ['/api/auth/register', '/api/auth/login', '/api/auth/guest']) {
    it(`${path} answers each with 4xx, never 5xx, and leaks nothing`, async () => {
      for (const c of cases) {
        const res = await call('POST', path, { raw: c.raw });
        expect(res.status, `${c.name}: ${JSON.stringify(res.body)}`).toBeGreaterThanOrEqual(400);
        expect(res.status, c.name).toBeLessThan(500);
        if (c.status) expectError(res, c.status, 'PAYLOAD_TOO_LARGE');
        expect(Object.keys(res.body), c.name).toEqual(['error']);
        expect(JSON.stringify(res.body), c.name).not.toMatch(
          /SELECT|INSERT|sqlite|postgres|\.ts:\d|at \w+ \(/i,
        );
      }
      // Nothing was polluted and the server still answers.
      expect(({} as any).admin).toBeUndefined();
      expect((await call('GET', '/api/health')).status).toBe(200);
      const ok = await call('POST', '/api/auth/register', { body: registerBody(uniqueName('after')) });
      expect(ok.status).toBe(201);
      expect(ok.body.user.isGuest).toBe(false);
    });
  }

  it('a valid-looking SQL fragment login is just a wrong login', async () => {
    const res = await call('POST', '/api/auth/login', {
      body: { username: "' OR 1=1 --", password: "' OR '1'='1" },
    });
    expectError(res, 401, 'INVALID_CREDENTIALS');
    const byEmail = await call('POST', '/api/auth/login', {
      body: { email: "' OR 1=1 --@x", password: 'x' },
    });
    expectError(byEmail, 401, 'INVALID_CREDENTIALS');
  });
});
