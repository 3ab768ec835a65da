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
 * GET/PATCH /api/users/me, POST /api/users/me/password, GET /api/users?q=&online=&limit=, GET /api/users/:id.
 */

const PASSWORD = 'correct-horse-9';
const USER_KEYS = ['avatarUrl', 'createdAt', 'displayName', 'id', 'isGuest', 'username'];
const ME_KEYS = [...USER_KEYS, 'email'].sort();
/** How long a test waits for something it expects before failing with a clear message. */
const DEADLINE_MS = 5_000;

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

function expectInvalid(res: Res, path: string): void {
  expectError(res, 400, 'VALIDATION_ERROR');
  expect(res.body.error.details.map((d: any) => d.path)).toContain(path);
}

/** A public User: exactly the contract's keys, so no email and certainly no password hash. */
function expectUser(u: any): void {
  expect(Object.keys(u).sort()).toEqual(USER_KEYS);
  expect(u.id).toMatch(/^[1-9][0-9]*$/);
  expect(new Date(u.createdAt).toISOString()).toBe(u.createdAt);
}

/** A socket whose user is online: resolves once the server has recorded its presence. */
async function goOnline(session: Session): Promise<Socket> {
  const s = io(srv.url, {
    auth: { token: session.accessToken },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  sockets.push(s);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('never came online')), DEADLINE_MS);
    // presence:subscribe is answered once the socket is set up, so its user counts as online by then.
    s.once('connect', async () => {
      const ack: any = await s
        .timeout(DEADLINE_MS)
        .emitWithAck('presence:subscribe', { userIds: [session.user.id] });
      if (!ack.ok || !ack.data.online.includes(session.user.id))
        return reject(new Error(JSON.stringify(ack)));
      clearTimeout(timer);
      resolve();
    });
    s.once('connect_error', (err) => reject(err));
  });
  return s;
}

/** A connected socket for `session`, once the server has put it in its session's channel. */
async function connect(session: Session): Promise<Socket> {
  const s = io(srv.url, {
    auth: { token: session.accessToken },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  sockets.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', (err) => reject(err));
  });
  const channel = `session:${(jwt.decode(session.accessToken) as jwt.JwtPayload).sid}`;
  await eventually(
    async () => (await srv.parley.io.in(channel).fetchSockets()).some((x) => x.id === s.id),
    `the socket joined ${channel}`,
  );
  return s;
}

/** Polls `check` until it holds or the deadline passes (for state with no event to wait for). */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const until = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise<void>((r) => setImmediate(r));
  }
}

const search = async (token: string, query: string) => {
  const res = await call('GET', `/api/users?${query}`, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(Object.keys(res.body).sort()).toEqual(['hasMore', 'next', 'users']);
  expect(res.body.hasMore).toBe(res.body.next !== null);
  for (const u of res.body.users) expectUser(u);
  return res.body.users as any[];
};
const names = (users: any[]) => users.map((u) => u.username).sort();

describe('signed-in only', () => {
  it.each([
    ['GET', '/api/users/me'],
    ['PATCH', '/api/users/me'],
    ['POST', '/api/users/me/password'],
    ['GET', '/api/users'],
    ['GET', '/api/users?q=a&online=true'],
    ['GET', '/api/users/1'],
  ])('%s %s without a token is 401 UNAUTHORIZED', async (method, path) => {
    const res = await call(method, path, method === 'GET' ? {} : { body: { displayName: 'x' } });
    expectError(res, 401, 'UNAUTHORIZED');
  });
});

describe('GET /api/users/me', () => {
  it('answers the Me shape (with email, without secrets)', async () => {
    const s = await register(call);
    const res = await call('GET', '/api/users/me', { token: s.accessToken });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(ME_KEYS);
    expect(res.body).toEqual(s.user);
    expect(res.body.email).toBe(`${s.user.username}@example.com`);
  });
});

describe('PATCH /api/users/me', () => {
  let s: Session;
  beforeAll(async () => {
    s = await register(call);
  });

  it('changes the display name and answers Me', async () => {
    const res = await call('PATCH', '/api/users/me', {
      token: s.accessToken,
      body: { displayName: '  Zoë Ärger ' },
    });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(ME_KEYS);
    expect(res.body.displayName).toBe('Zoë Ärger');
    expect(res.body.username).toBe(s.user.username);
    const again = await call('GET', '/api/users/me', { token: s.accessToken });
    expect(again.body.displayName).toBe('Zoë Ärger');
    // Others see it too.
    const other = await register(call);
    expect(
      (await call('GET', `/api/users/${s.user.id}`, { token: other.accessToken })).body.displayName,
    ).toBe('Zoë Ärger');
  });

  it('changes the email (normalised); a taken one is 409 EMAIL_TAKEN, case-insensitively', async () => {
    const fresh = `New.${uniqueName('mail')}@Example.com`;
    const res = await call('PATCH', '/api/users/me', { token: s.accessToken, body: { email: fresh } });
    expect(res.status).toBe(200);
    expect(res.body.email).toBe(fresh.toLowerCase());
    // Sign-in by the new email works.
    expect(
      (await call('POST', '/api/auth/login', { body: { email: fresh, password: PASSWORD } })).body.user.id,
    ).toBe(s.user.id);
    // Setting your own email again is fine.
    expect(
      (await call('PATCH', '/api/users/me', { token: s.accessToken, body: { email: fresh } })).status,
    ).toBe(200);

    const other = await register(call);
    expectError(
      await call('PATCH', '/api/users/me', {
        token: other.accessToken,
        body: { email: fresh.toUpperCase() },
      }),
      409,
      'EMAIL_TAKEN',
    );
    expect((await call('GET', '/api/users/me', { token: other.accessToken })).body.email).toBe(
      other.user.email,
    );
  });

  it('rejects unknown fields, wrong types, malformed JSON and spoofing characters with 400', async () => {
    const res = await call('PATCH', '/api/users/me', { token: s.accessToken, body: { username: 'renamed' } });
    expectError(res, 400, 'VALIDATION_ERROR');
    expect(JSON.stringify(res.body.error.details)).toContain('username');
    expectError(
      await call('PATCH', '/api/users/me', { token: s.accessToken, body: { isGuest: true } }),
      400,
      'VALIDATION_ERROR',
    );
    expectInvalid(
      await call('PATCH', '/api/users/me', { token: s.accessToken, body: { displayName: 7 } }),
      'displayName',
    );
    expectInvalid(
      await call('PATCH', '/api/users/me', { token: s.accessToken, body: { displayName: '' } }),
      'displayName',
    );
    expectInvalid(
      await call('PATCH', '/api/users/me', { token: s.accessToken, body: { displayName: 'x'.repeat(65) } }),
      'displayName',
    );
    expectInvalid(
      await call('PATCH', '/api/users/me', {
        token: s.accessToken,
        body: { displayName: 'evil\u202etxt.exe' },
      }),
      'displayName',
    );
    expectInvalid(
      await call('PATCH', '/api/users/me', { token: s.accessToken, body: { email: 'nope' } }),
      'email',
    );
    expectInvalid(
      await call('PATCH', '/api/users/me', {
        token: s.accessToken,
        body: { avatarAttachmentId: '../../etc/passwd' },
      }),
      'avatarAttachmentId',
    );
    expectError(
      await call('PATCH', '/api/users/me', { token: s.accessToken, raw: '{"displayName":' }),
      400,
      'VALIDATION_ERROR',
    );
    expectError(
      await call('PATCH', '/api/users/me', { token: s.accessToken, raw: '["displayName"]' }),
      400,
      'VALIDATION_ERROR',
    );
    // Nothing changed.
    const me = await call('GET', '/api/users/me', { token: s.accessToken });
    expect(me.body.isGuest).toBe(false);
    expect(me.body.username).toBe(s.user.username);
  });

  it('an unknown avatarAttachmentId is 404 NOT_FOUND; null clears the avatar', async () => {
    expectError(
      await call('PATCH', '/api/users/me', {
        token: s.accessToken,
        body: { avatarAttachmentId: 'A'.repeat(22) },
      }),
      404,
      'NOT_FOUND',
    );
    const res = await call('PATCH', '/api/users/me', {
      token: s.accessToken,
      body: { avatarAttachmentId: null },
    });
    expect(res.status).toBe(200);
    expect(res.body.avatarUrl).toBeNull();
  });

  it('a guest may change its display name', async () => {
    const g = await call('POST', '/api/auth/guest', { body: { username: uniqueName('gp') } });
    const res = await call('PATCH', '/api/users/me', {
      token: g.body.accessToken,
      body: { displayName: 'Visitor' },
    });
    expect(res.status).toBe(200);
    expect(res.body.displayName).toBe('Visitor');
    expect(res.body.isGuest).toBe(true);
  });
});

describe('POST /api/users/me/password', () => {
  it('wrong current password is 401 INVALID_CREDENTIALS and changes nothing', async () => {
    const s = await register(call);
    expectError(
      await call('POST', '/api/users/me/password', {
        token: s.accessToken,
        body: { currentPassword: 'not-my-password', newPassword: 'brand-new-pass-1' },
      }),
      401,
      'INVALID_CREDENTIALS',
    );
    expect((await call('GET', '/api/users/me', { token: s.accessToken })).status).toBe(200);
    expect(
      (await call('POST', '/api/auth/login', { body: { username: s.user.username, password: PASSWORD } }))
        .status,
    ).toBe(200);
  });

  it('validates its body', async () => {
    const s = await register(call);
    const post = (body: unknown) => call('POST', '/api/users/me/password', { token: s.accessToken, body });
    expectInvalid(await post({ currentPassword: PASSWORD, newPassword: 'short' }), 'newPassword');
    expectInvalid(await post({ currentPassword: PASSWORD, newPassword: 'x'.repeat(129) }), 'newPassword');
    expectInvalid(await post({ currentPassword: PASSWORD }), 'newPassword');
    expectInvalid(await post({ newPassword: 'brand-new-pass-1' }), 'currentPassword');
    expectInvalid(
      await post({ currentPassword: 12345678, newPassword: 'brand-new-pass-1' }),
      'currentPassword',
    );
    expectError(
      await post({ currentPassword: PASSWORD, newPassword: 'brand-new-pass-1', all: 1 }),
      400,
      'VALIDATION_ERROR',
    );
  });

  it('succeeds with 204, revokes every other session, keeps this one, swaps the passwords', async () => {
    const s = await register(call);
    const username = s.user.username;
    const other = (await call('POST', '/api/auth/login', { body: { username, password: PASSWORD } }))
      .body as Session;
    const otherSocket = await connect(other);
    const ended = new Promise<any>((resolve) => otherSocket.once('session:ended', resolve));
    const thisSocket = await connect(s);

    const res = await call('POST', '/api/users/me/password', {
      token: s.accessToken,
      body: { currentPassword: PASSWORD, newPassword: 'brand-new-pass-1' },
    });
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();

    // The other session is over everywhere.
    expect(await ended).toEqual({ reason: 'password_changed' });
    expectError(await call('GET', '/api/users/me', { token: other.accessToken }), 401, 'UNAUTHORIZED');
    expectError(
      await call('POST', '/api/auth/refresh', { body: { refreshToken: other.refreshToken } }),
      401,
      'UNAUTHORIZED',
    );
    // This one goes on: access token, refresh token and socket.
    expect((await call('GET', '/api/users/me', { token: s.accessToken })).status).toBe(200);
    const ack = await thisSocket.timeout(DEADLINE_MS).emitWithAck('presence:list', {});
    expect(ack.ok).toBe(true);
    const refreshed = await call('POST', '/api/auth/refresh', { body: { refreshToken: s.refreshToken } });
    expect(refreshed.status).toBe(200);

    expectError(
      await call('POST', '/api/auth/login', { body: { username, password: PASSWORD } }),
      401,
      'INVALID_CREDENTIALS',
    );
    const fresh = await call('POST', '/api/auth/login', { body: { username, password: 'brand-new-pass-1' } });
    expect(fresh.status).toBe(200);
    expect(fresh.body.user.id).toBe(s.user.id);
    // The old password no longer counts as the current one.
    expectError(
      await call('POST', '/api/users/me/password', {
        token: fresh.body.accessToken,
        body: { currentPassword: PASSWORD, newPassword: 'third-pass-123' },
      }),
      401,
      'INVALID_CREDENTIALS',
    );
  });

  it('guests have no password to change: 403', async () => {
    const g = await call('POST', '/api/auth/guest', { body: { username: uniqueName('gpw') } });
    expectError(
      await call('POST', '/api/users/me/password', {
        token: g.body.accessToken,
        body: { currentPassword: 'whatever-1', newPassword: 'brand-new-pass-1' },
      }),
      403,
      'FORBIDDEN',
    );
  });
});

describe('GET /api/users/:id', () => {
  it('answers the public User (no email), for users and guests', async () => {
    const viewer = await register(call);
    const target = await register(call);
    const res = await call('GET', `/api/users/${target.user.id}`, { token: viewer.accessToken });
    expect(res.status).toBe(200);
    expectUser(res.body);
    const { email: _email, ...publicPart } = target.user;
    expect(res.body).toEqual(publicPart);

    const g = await call('POST', '/api/auth/guest', { body: { username: uniqueName('gv') } });
    const guest = await call('GET', `/api/users/${g.body.user.id}`, { token: viewer.accessToken });
    expect(guest.status).toBe(200);
    expect(guest.body.isGuest).toBe(true);
    expectUser(guest.body);
  });

  it('an unknown or malformed id is 404 NOT_FOUND', async () => {
    const viewer = await register(call);
    for (const id of ['999999999', 'abc', '0', '-1', '1.5', "1' OR '1'='1", '1e3']) {
      expectError(
        await call('GET', `/api/users/${encodeURIComponent(id)}`, { token: viewer.accessToken }),
        404,
        'NOT_FOUND',
      );
    }
  });
});

describe('GET /api/users?q=&online=&limit=', () => {
  let viewer: Session;
  const p = `s${process.pid % 1000}`; // a prefix only this file's users have
  beforeAll(async () => {
    viewer = await register(call, `${p}viewer`);
    for (const name of [`${p}Alpha`, `${p}alpine`, `${p}beta`, `${p}a_b`, `${p}axb`])
      await register(call, name);
    const patch = async (name: string, displayName: string) => {
      const s = (await call('POST', '/api/auth/login', { body: { username: name, password: PASSWORD } }))
        .body;
      expect(
        (await call('PATCH', '/api/users/me', { token: s.accessToken, body: { displayName } })).status,
      ).toBe(200);
    };
    await patch(`${p}beta`, 'Zed Gamma');
    await patch(`${p}axb`, '100% Real');
    await patch(`${p}a_b`, '100x Real');
  });

  it('finds by username prefix, case-insensitively', async () => {
    expect(names(await search(viewer.accessToken, `q=${p}alp`))).toEqual([`${p}Alpha`, `${p}alpine`]);
    expect(names(await search(viewer.accessToken, `q=${p.toUpperCase()}ALP`))).toEqual([
      `${p}Alpha`,
      `${p}alpine`,
    ]);
    // A prefix, not a substring.
    expect(await search(viewer.accessToken, `q=lpha`)).toEqual([]);
  });

  it('finds by display-name prefix, case-insensitively', async () => {
    expect(names(await search(viewer.accessToken, 'q=zed%20g'))).toEqual([`${p}beta`]);
    expect(names(await search(viewer.accessToken, 'q=ZED'))).toEqual([`${p}beta`]);
  });

  it('treats LIKE wildcards literally', async () => {
    expect(names(await search(viewer.accessToken, `q=${encodeURIComponent(`${p}a_`)}`))).toEqual([`${p}a_b`]);
    expect(names(await search(viewer.accessToken, `q=${encodeURIComponent('100%')}`))).toEqual([`${p}axb`]);
    expect(await search(viewer.accessToken, `q=${encodeURIComponent('%')}`)).toEqual([]);
    expect(await search(viewer.accessToken, `q=${encodeURIComponent('_')}`)).toEqual([]);
    expect(await search(viewer.accessToken, `q=${encodeURIComponent('!')}`)).toEqual([]);
    expect(await search(viewer.accessToken, `q=${encodeURIComponent("' OR 1=1 --")}`)).toEqual([]);
  });

  it('honours limit and validates the query', async () => {
    const two = await search(viewer.accessToken, `q=${p}&limit=2`);
    expect(two).toHaveLength(2);
    expect((await search(viewer.accessToken, `q=${p}&limit=100`)).length).toBe(6);
    for (const bad of [
      'limit=0',
      'limit=201',
      'limit=abc',
      'online=yes',
      `q=${'a'.repeat(33)}`,
      'after=%25',
    ]) {
      expectError(
        await call('GET', `/api/users?${bad}`, { token: viewer.accessToken }),
        400,
        'VALIDATION_ERROR',
      );
    }
  });

  it('online=true returns only users with a connected socket', async () => {
    const on = await register(call, `${p}onl1`);
    await register(call, `${p}onl2`);
    expect(await search(viewer.accessToken, `q=${p}onl&online=true`)).toEqual([]);
    expect(names(await search(viewer.accessToken, `q=${p}onl&online=false`))).toEqual([
      `${p}onl1`,
      `${p}onl2`,
    ]);

    const socket = await goOnline(on);
    const online = await search(viewer.accessToken, `q=${p}onl&online=true`);
    expect(names(online)).toEqual([`${p}onl1`]);
    expect(online[0].id).toBe(on.user.id);
    expect(names(await search(viewer.accessToken, 'online=true&limit=100'))).toContain(`${p}onl1`);

    socket.close();
    await eventually(
      async () => (await search(viewer.accessToken, `q=${p}onl&online=true`)).length === 0,
      'the user is offline after its socket closed',
    );
  });
});
