import type { Ack, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RateSpec, WriteLimitClass } from '../../src/config.js';
import { up as clearGuestEmails } from '../../src/db/migrations/004-limits-guest-emails.js';
import {
  client,
  generousWriteLimits,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type Res,
  type TestServer,
} from '../../src/test-support/server.js';
import { expectError } from '../helpers/http.js';
import { createRoom, expectFail, generalRoomId, postMessage } from '../helpers/realtime.js';
import {
  closeAllSockets,
  connectSocket,
  emitAck,
  nextEvent,
  received,
  type ClientSocket,
} from '../helpers/sockets.js';

/*
 * Hardening, issue 13 ("Abuse that still works"): sign-in attempts counted before hashing (L1, L2), a lockout that
 * does not tell which email belongs to which account (L3), no email for guests and a limit on email changes (L4,
 * L5), and per-user limits on every class of write, REST and socket (L6–L10). Each test name starts with the id
 * docs/SECURITY.md cites. Traffic goes to 127.0.0.1 only; every loop is bounded.
 */

const PASSWORD = 'correct-horse-9';
/**
 * Where the right password is among the 55 parallel attempts: the last one sent. A success clears the counts (the
 * caller has the password then), so one evaluated among the first ten would let the stragglers through.
 */
const RIGHT = 54;
const MIN = 60;

/** The write limits of the `tight` server: small enough to reach in a test, the rest generous. */
const TIGHT: Partial<Record<WriteLimitClass, RateSpec>> = {
  roomCreate: { points: 10, durationSec: 60 * MIN },
  roomUpdate: { points: 10, durationSec: 10 * MIN },
  membership: { points: 20, durationSec: 10 * MIN },
  messageEdit: { points: 20, durationSec: 10 * MIN },
  profile: { points: 20, durationSec: 10 * MIN },
  emailChange: { points: 10, durationSec: 15 * MIN },
  dmOpen: { points: 5, durationSec: 10 * MIN },
  readMarker: { points: 10, durationSec: 10 * MIN },
  typing: { points: 10, durationSec: 10 * MIN },
};

let srv: TestServer;
let call: Call;
let tight: TestServer;
let tcall: Call;

beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.url);
  tight = await startTestServer({ writeLimits: generousWriteLimits(TIGHT) });
  tcall = client(tight.url);
});
afterAll(async () => {
  closeAllSockets();
  await srv?.close();
  await tight?.close();
});

/** A 429 RATE_LIMITED with a Retry-After of 1 s up to `maxSec`. */
function expectLimited(res: Res, maxSec: number): void {
  expectError(res, 429, 'RATE_LIMITED');
  const retry = Number(res.headers.get('retry-after'));
  expect(retry).toBeGreaterThan(0);
  expect(retry).toBeLessThanOrEqual(maxSec);
}

/** Runs `count` requests, `parallel` at a time (the shape of the reported abuse), and answers them in order. */
async function burst(count: number, parallel: number, one: (i: number) => Promise<Res>): Promise<Res[]> {
  const out: Res[] = [];
  for (let i = 0; i < count; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - i) }, (_, j) => one(i + j));
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** Every answer is `ok` or 429; at most `limit` are `ok`; every 429 has a Retry-After up to `maxSec`. */
function expectCapped(results: Res[], ok: number[], limit: number, maxSec: number): number {
  const accepted = results.filter((r) => r.status !== 429);
  for (const r of accepted) expect(ok, `${r.status} ${JSON.stringify(r.body)}`).toContain(r.status);
  for (const r of results.filter((r) => r.status === 429)) expectLimited(r, maxSec);
  expect(accepted.length).toBeGreaterThan(0);
  expect(accepted.length).toBeLessThanOrEqual(limit);
  return accepted.length;
}

/** Waits until `observer` has everything the server sent it before a marker message posted now by `by`. */
async function settle(observer: ClientSocket, by: Session, c: Call): Promise<void> {
  const general = await generalRoomId(c, by);
  const marker = await postMessage(c, by, general, `marker ${uniqueName('m')}`);
  await nextEvent(observer, 'message:new', (m) => m.id === marker.id, 10_000);
}

describe('sign-in attempts are counted before the hash is checked', () => {
  it('L1 55 parallel sign-ins with the right password among them, limit 10: at most 10 evaluated, the rest 429 with Retry-After', async () => {
    const name = uniqueName('par');
    await register(call, name);
    const { passwords } = srv.parley.ctx;
    const verify = passwords.verify;
    let verified = 0;
    passwords.verify = (hash, password) => {
      verified++;
      return verify(hash, password);
    };
    try {
      const results = await Promise.all(
        Array.from({ length: 55 }, (_, i) =>
          call('POST', '/api/auth/login', {
            body: { username: name, password: i === RIGHT ? PASSWORD : `wrong-pass-${i}` },
          }),
        ),
      );
      const evaluated = expectCapped(results, [200, 401], 10, 15 * MIN);
      console.warn(`L1 figures: ${evaluated} of 55 answered, ${verified} argon2 verifications, the rest 429`);
      expect(verified).toBeLessThanOrEqual(10);
    } finally {
      passwords.verify = verify;
    }
  });

  it('L2 55 parallel password changes with the right current password among them: at most 10 evaluated, the rest 429', async () => {
    const s = await register(call, uniqueName('pwd'));
    const results = await Promise.all(
      Array.from({ length: 55 }, (_, i) =>
        call('POST', '/api/users/me/password', {
          token: s.accessToken,
          body: {
            currentPassword: i === RIGHT ? PASSWORD : `wrong-pass-${i}`,
            newPassword: `new-pass-${i}-x`,
          },
        }),
      ),
    );
    const evaluated = expectCapped(results, [204, 401], 10, 15 * MIN);
    console.warn(`L2 figures: ${evaluated} of 55 answered, the rest 429`);
  });
});

describe('the lockout does not tell which email belongs to which account', () => {
  it('L3 after 10 failures on a username, its email and an unrelated or unknown email answer identically', async () => {
    const x = uniqueName('locked');
    await register(call, x);
    const y = uniqueName('bystander');
    await register(call, y);
    for (let i = 0; i < 10; i++) {
      const res = await call('POST', '/api/auth/login', {
        body: { username: x, password: `wrong-${i}-pass` },
      });
      expectError(res, 401, 'INVALID_CREDENTIALS');
    }
    // The typed name itself is spent: 429, the attacker's own doing.
    expectLimited(
      await call('POST', '/api/auth/login', { body: { username: x, password: 'wrong-pass' } }),
      900,
    );
    const login = (email: string, password: string) =>
      call('POST', '/api/auth/login', { body: { email, password } });
    const answers = [
      await login(`${x}@example.com`, 'wrong-pass-a'), // the locked account's email
      await login(`${x}@example.com`, PASSWORD), // ... even with its right password: not checked
      await login(`${y}@example.com`, 'wrong-pass-b'), // an unrelated account's email
      await login(`${uniqueName('nobody')}@example.com`, 'wrong-pass-c'), // no account at all
    ];
    for (const res of answers) {
      expectError(res, 401, 'INVALID_CREDENTIALS');
      expect(res.body).toEqual(answers[0]!.body);
      expect(res.headers.get('retry-after')).toBeNull();
    }
    // And once an email's own count is spent, it answers 429 whether or not it belongs to anyone.
    for (const email of [`${x}@example.com`, `${uniqueName('nobody')}@example.com`]) {
      const tries: Res[] = [];
      for (let i = 0; i < 11; i++) tries.push(await login(email, `wrong-${i}-pass`));
      // The locked account's email was typed twice above.
      const allowed = email.startsWith(x) ? 8 : 10;
      expect(tries.map((r) => r.status)).toEqual([
        ...Array<number>(allowed).fill(401),
        ...Array<number>(11 - allowed).fill(429),
      ]);
    }
    // The bystander signs in.
    expect(
      (await call('POST', '/api/auth/login', { body: { username: y, password: PASSWORD } })).status,
    ).toBe(200);
  });
});

describe('emails', () => {
  it('L4 a guest cannot set an email (403 FORBIDDEN), so cannot squat one; emails guests held are let go', async () => {
    const guest = await call('POST', '/api/auth/guest', { body: { username: uniqueName('squat') } });
    expect(guest.status).toBe(201);
    const email = `${uniqueName('owner')}@example.com`;
    const res = await call('PATCH', '/api/users/me', { token: guest.body.accessToken, body: { email } });
    expectError(res, 403, 'FORBIDDEN');
    expect((await call('GET', '/api/users/me', { token: guest.body.accessToken })).body.email).toBeNull();
    // The owner registers with it.
    const owner = await call('POST', '/api/auth/register', {
      body: { username: uniqueName('owner'), email, password: PASSWORD },
    });
    expect(owner.status).toBe(201);
    // An email a guest got before this fix is released by the migration.
    const { models, db } = srv.parley.ctx;
    const held = `${uniqueName('held')}@example.com`;
    await models.User.update({ email: held }, { where: { id: Number(guest.body.user.id) } });
    await clearGuestEmails({ context: db.sequelize.getQueryInterface() });
    expect((await models.User.findByPk(Number(guest.body.user.id)))!.email).toBeNull();
    expect((await models.User.findByPk(Number(owner.body.user.id)))!.email).toBe(email);
  });

  it('L5 300 email probes (PATCH /users/me {email}): at most LIMIT_EMAIL_CHANGE (10) answered, the rest 429', async () => {
    const s = await register(tcall, uniqueName('probe'));
    const taken = await Promise.all([1, 2, 3].map(() => register(tcall, uniqueName('known'))));
    const results = await burst(300, 20, (i) =>
      tcall('PATCH', '/api/users/me', {
        token: s.accessToken,
        body: { email: i % 2 ? taken[i % 3]!.user.email! : `free${i}-${s.user.username}@example.com` },
      }),
    );
    const answered = expectCapped(results, [200, 409], 10, 15 * MIN);
    console.warn(`L5 figures: ${answered} of 300 email probes answered, the rest 429`);
  });
});

describe('per-user write limits', () => {
  it('L6 500 room creations: at most LIMIT_ROOM_CREATE accepted, the rest 429 with Retry-After; no more room:created', async () => {
    const [attacker, watcher] = await Promise.all([
      register(tcall, uniqueName('rc')),
      register(tcall, uniqueName('w')),
    ]);
    const observer = await connectSocket(tight, watcher);
    const results = await burst(500, 25, () =>
      tcall('POST', '/api/chatrooms', { token: attacker.accessToken, body: { name: uniqueName('spam') } }),
    );
    const created = expectCapped(results, [201], 10, 60 * MIN);
    await settle(observer, watcher, tcall);
    const announced = received(observer, 'room:created', (r) => r.ownerId === attacker.user.id).length;
    console.warn(`L6 figures: ${created} of 500 rooms created, ${announced} room:created received`);
    expect(announced).toBe(created);
    // Another user still creates rooms.
    await createRoom(tcall, watcher);
  });

  it('L7 500 edits (REST) and socket edits/deletes beyond LIMIT_MESSAGE_EDIT: 429 / ack RATE_LIMITED with retryAfter', async () => {
    const [author, watcher] = await Promise.all([
      register(tcall, uniqueName('ed')),
      register(tcall, uniqueName('w')),
    ]);
    const general = await generalRoomId(tcall, author);
    const message = await postMessage(tcall, author, general, 'original');
    const observer = await connectSocket(tight, watcher);
    const results = await burst(500, 25, (i) =>
      tcall('PATCH', `/api/messages/${message.id}`, {
        token: author.accessToken,
        body: { text: `edit ${i}` },
      }),
    );
    const edited = expectCapped(results, [200], 20, 10 * MIN);
    const socket = await connectSocket(tight, author);
    for (const ack of [
      await emitAck(socket, 'message:edit', { messageId: message.id, text: 'one more' }),
      await emitAck(socket, 'message:delete', { messageId: message.id }),
    ]) {
      expect(expectFail(ack, 'RATE_LIMITED')).toMatchObject({ retryAfter: expect.any(Number) });
    }
    expectLimited(
      await tcall('DELETE', `/api/messages/${message.id}`, { token: author.accessToken }),
      10 * MIN,
    );
    await settle(observer, watcher, tcall);
    const updates = received(observer, 'message:updated', (m) => m.id === message.id).length;
    console.warn(`L7 figures: ${edited} of 500 edits accepted, ${updates} message:updated received`);
    expect(updates).toBe(edited);
  });

  it('L8 500 renames of a room: at most LIMIT_ROOM_UPDATE accepted, the rest 429', async () => {
    const owner = await register(tcall, uniqueName('rn'));
    const room = await createRoom(tcall, owner);
    const results = await burst(500, 25, (i) =>
      tcall('PATCH', `/api/chatrooms/${room.id}`, {
        token: owner.accessToken,
        body: { name: `${room.name.slice(0, 40)}-${i}` },
      }),
    );
    const renamed = expectCapped(results, [200], 10, 10 * MIN);
    console.warn(`L8 figures: ${renamed} of 500 renames accepted`);
    expectLimited(await tcall('DELETE', `/api/chatrooms/${room.id}`, { token: owner.accessToken }), 10 * MIN);
  });

  it('L9 250 join/leave cycles (REST and socket): at most LIMIT_MEMBERSHIP changes, the rest refused; members hear no more', async () => {
    const [owner, cycler] = await Promise.all([
      register(tcall, uniqueName('own')),
      register(tcall, uniqueName('cyc')),
    ]);
    const room = await createRoom(tcall, owner);
    const observer = await connectSocket(tight, owner);
    const results: Res[] = [];
    for (let i = 0; i < 250; i++) {
      results.push(
        await tcall('POST', `/api/chatrooms/${room.id}/members`, { token: cycler.accessToken, body: {} }),
      );
      results.push(
        await tcall('DELETE', `/api/chatrooms/${room.id}/members/${cycler.user.id}`, {
          token: cycler.accessToken,
        }),
      );
      if (results.at(-1)!.status === 429 && results.at(-2)!.status === 429) break;
    }
    const changes = expectCapped(results, [200, 204], 20, 10 * MIN);
    const socket = await connectSocket(tight, cycler);
    expect(expectFail(await emitAck(socket, 'room:join', { roomId: room.id }), 'RATE_LIMITED')).toMatchObject(
      {
        retryAfter: expect.any(Number),
      },
    );
    await settle(observer, owner, tcall);
    const heard =
      received(observer, 'room:member-joined', (e) => e.roomId === room.id).length +
      received(observer, 'room:member-left', (e) => e.roomId === room.id && e.userId === cycler.user.id)
        .length;
    console.warn(
      `L9 figures: ${changes} membership changes accepted of ${results.length} tried, ${heard} heard`,
    );
    expect(heard).toBeLessThanOrEqual(20);
  });

  it('L10 read markers, typing, DM opens and profile updates are bounded too (ack RATE_LIMITED / 429)', async () => {
    const [s, peer] = await Promise.all([
      register(tcall, uniqueName('misc')),
      register(tcall, uniqueName('peer')),
    ]);
    const general = await generalRoomId(tcall, s);
    const message = await postMessage(tcall, s, general, 'read me');
    const socket = await connectSocket(tight, s);
    for (const [event, payload] of [
      ['room:read', { roomId: general, messageId: message.id }],
      ['typing', { roomId: general, isTyping: true }],
    ] as const) {
      const acks: Ack<unknown>[] = [];
      for (let i = 0; i < 15; i++) acks.push(await emitAck(socket, event, payload as never));
      expect(acks.filter((a) => a.ok)).toHaveLength(10);
      for (const a of acks.filter((a) => !a.ok)) expectFail(a, 'RATE_LIMITED');
    }
    const dms = await burst(15, 5, () =>
      tcall('POST', '/api/dms', { token: s.accessToken, body: { userId: peer.user.id } }),
    );
    expectCapped(dms, [200], 5, 10 * MIN);
    const profile = await burst(25, 5, (i) =>
      tcall('PATCH', '/api/users/me', { token: s.accessToken, body: { displayName: `Name ${i}` } }),
    );
    expectCapped(profile, [200], 20, 10 * MIN);
  });
});
