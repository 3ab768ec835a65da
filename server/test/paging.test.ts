import {
  MemberPageSchema,
  RoomPageSchema,
  UserPageSchema,
  type Member,
  type Room,
  type Session,
} from '@parley/protocol';
import { Op } from 'sequelize';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  DIALECT,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type Res,
  type TestServer,
} from '../src/test-support/server.js';
import { closeAllSockets } from './helpers/sockets.js';
import { expectError, expectStatus } from './helpers/http.js';
import { connectReady, createRoom, joinRoom, postMessage } from './helpers/realtime.js';

/*
 * Contract v2 "Lists are paged": GET /api/chatrooms, /api/dms, /api/chatrooms/:id/members and /api/users take
 * `limit` (default 100, max 200) and `after` (the previous page's `next`) and answer `{<items>, hasMore, next}`.
 * Walking a list page by page must give exactly the list one big page gives, in the same order. Runs on SQLite,
 * and on PostgreSQL when TEST_DATABASE_URL is set.
 */

let server: TestServer;
let call: Call;
let alice: Session, bob: Session, carol: Session, dave: Session;

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  // Names that sort in this order, so that expectations can be written down.
  const tag = uniqueName('');
  alice = await register(call, `pa${tag}`);
  bob = await register(call, `pb${tag}`);
  carol = await register(call, `pc${tag}`);
  dave = await register(call, `pd${tag}`);
  // alice and carol are online; bob and dave are not.
  await connectReady(server, alice);
  await connectReady(server, carol);
});

afterAll(async () => {
  closeAllSockets();
  await server?.close();
});

const LIST_SCHEMAS = { rooms: RoomPageSchema, members: MemberPageSchema, users: UserPageSchema } as const;
type Key = keyof typeof LIST_SCHEMAS;

/** Every page of a list from `path`, `limit` at a time; checks each page's envelope. */
async function walk<T>(
  s: Session,
  path: string,
  key: Key,
  limit: number,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let after: string | null = null;
  let pages = 0;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const res: Res = await call('GET', `${path}${sep}limit=${limit}${after ? `&after=${after}` : ''}`, {
      token: s.accessToken,
    });
    expectStatus(res, 200);
    expect(Object.keys(res.body)).toEqual([key, 'hasMore', 'next']);
    expect(LIST_SCHEMAS[key].safeParse(res.body).success).toBe(true);
    const page = res.body[key] as T[];
    expect(page.length).toBeLessThanOrEqual(limit);
    if (res.body.hasMore) {
      expect(typeof res.body.next).toBe('string');
      expect(page.length).toBeGreaterThan(0);
    } else expect(res.body.next).toBeNull();
    items.push(...page);
    after = res.body.next;
    pages++;
    if (pages > 1000) throw new Error('the list does not end');
  } while (after);
  return { items, pages };
}

/** One page of the largest size, which must hold the whole list. */
async function whole<T>(s: Session, path: string, key: Key): Promise<T[]> {
  const { items, pages } = await walk<T>(s, path, key, 200);
  expect(pages).toBe(1);
  return items;
}

const ids = (xs: Array<{ id: string }>) => xs.map((x) => x.id);
const memberIds = (xs: Member[]) => xs.map((m) => m.user.id);

describe('GET /api/chatrooms paged', () => {
  it('pages by name: the pages together are the whole list, in order, with no repeat', async () => {
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await createRoom(call, alice));
    const priv = await createRoom(call, alice, 'private');
    const all = await whole<Room>(dave, '/api/chatrooms', 'rooms');
    expect(ids(all)).toEqual(expect.arrayContaining(ids(made)));
    expect(ids(all)).not.toContain(priv.id);
    const { items, pages } = await walk<Room>(dave, '/api/chatrooms', 'rooms', 2);
    expect(ids(items)).toEqual(ids(all));
    expect(pages).toBe(Math.ceil(all.length / 2));
    // The private room shows on its member's pages only.
    expect(ids((await walk<Room>(alice, '/api/chatrooms', 'rooms', 2)).items)).toContain(priv.id);
  });

  it('answers 100 rooms by default and goes on after a cursor even when rooms come and go', async () => {
    const first = await call('GET', '/api/chatrooms?limit=1', { token: bob.accessToken });
    expectStatus(first, 200);
    const [shown] = first.body.rooms as Room[];
    // A room that sorts before the cursor appears on no later page; the rest go on as before.
    await call('POST', '/api/chatrooms', {
      token: alice.accessToken,
      body: { name: `!${uniqueName('early')}` },
    });
    const rest = await call('GET', `/api/chatrooms?limit=200&after=${first.body.next}`, {
      token: bob.accessToken,
    });
    expectStatus(rest, 200);
    expect(ids(rest.body.rooms)).not.toContain(shown!.id);
    expect((rest.body.rooms as Room[]).some((r) => r.name.startsWith('!'))).toBe(false);
    const byDefault = await call('GET', '/api/chatrooms', { token: bob.accessToken });
    expect(byDefault.body.rooms.length).toBeLessThanOrEqual(100);
  });
});

describe('GET /api/dms paged', () => {
  it('pages most recently active first, those without messages last', async () => {
    const open = async (to: Session) =>
      (await call('POST', '/api/dms', { token: alice.accessToken, body: { userId: to.user.id } }))
        .body as Room;
    const withBob = await open(bob);
    const withCarol = await open(carol);
    const withDave = await open(dave);
    const self = await open(alice);
    await postMessage(call, alice, withCarol.id, 'first');
    await postMessage(call, alice, withBob.id, 'second');
    const all = await whole<Room>(alice, '/api/dms', 'rooms');
    // bob's is the latest active, then carol's; dave's and the note-to-self have none, newest first.
    expect(ids(all)).toEqual([withBob.id, withCarol.id, self.id, withDave.id]);
    expect(ids((await walk<Room>(alice, '/api/dms', 'rooms', 1)).items)).toEqual(ids(all));
    expect(ids((await walk<Room>(bob, '/api/dms', 'rooms', 1)).items)).toEqual([withBob.id]);
  });
});

describe('GET /api/chatrooms/:id/members paged', () => {
  it('lists online members first, then the others, each by username', async () => {
    const room = await createRoom(call, dave);
    for (const s of [carol, bob, alice]) await joinRoom(call, s, room.id);
    const expected = [alice, carol, bob, dave].map((s) => s.user.id);
    const all = await whole<Member>(bob, `/api/chatrooms/${room.id}/members`, 'members');
    expect(memberIds(all)).toEqual(expected);
    expect(all.map((m) => m.online)).toEqual([true, true, false, false]);
    expect(all.map((m) => m.role)).toEqual(['member', 'member', 'member', 'owner']);
    for (const limit of [1, 2, 3]) {
      const { items, pages } = await walk<Member>(bob, `/api/chatrooms/${room.id}/members`, 'members', limit);
      expect(memberIds(items), `limit ${limit}`).toEqual(expected);
      expect(pages).toBe(Math.ceil(4 / limit));
    }
  });

  it('hides a private room’s members from outsiders (404) and asks for a session (401)', async () => {
    const room = await createRoom(call, alice, 'private');
    expectError(
      await call('GET', `/api/chatrooms/${room.id}/members`, { token: dave.accessToken }),
      404,
      'NOT_FOUND',
    );
    expectError(await call('GET', `/api/chatrooms/${room.id}/members?limit=1`), 401, 'UNAUTHORIZED');
  });
});

describe('GET /api/users paged', () => {
  it('carries next, the after of the following page', async () => {
    const q = alice.user.username.slice(2);
    const prefix = `/api/users?q=p`;
    const { items } = await walk<{ id: string; username: string }>(alice, prefix, 'users', 1);
    const mine = items.filter((u) => u.username.endsWith(q)).map((u) => u.id);
    expect(mine).toEqual([alice, bob, carol, dave].map((s) => s.user.id));
  });
});

describe('limits and cursors', () => {
  const lists = () => ['/api/chatrooms', '/api/dms', '/api/users'];

  it('refuses a limit over 200, under 1 or not a number, and a cursor no page handed out (400)', async () => {
    const general = (
      (await call('GET', '/api/chatrooms?limit=200', { token: bob.accessToken })).body.rooms as Room[]
    )[0]!;
    const paths = [...lists(), `/api/chatrooms/${general.id}/members`];
    const roomCursor = (await call('GET', '/api/chatrooms?limit=1', { token: bob.accessToken })).body.next;
    for (const path of paths) {
      expectStatus(await call('GET', `${path}?limit=200`, { token: bob.accessToken }), 200);
      for (const bad of [
        'limit=201',
        'limit=0',
        'limit=-1',
        'limit=abc',
        'limit=1.5',
        'after=',
        'after=%21%21',
      ]) {
        expectError(await call('GET', `${path}?${bad}`, { token: bob.accessToken }), 400, 'VALIDATION_ERROR');
      }
      // Well-formed base64url, but not a cursor of this list.
      const forged = Buffer.from('["x"]').toString('base64url');
      expectError(
        await call('GET', `${path}?after=${forged}`, { token: bob.accessToken }),
        400,
        'VALIDATION_ERROR',
      );
      expectError(await call('GET', `${path}?limit=1`), 401, 'UNAUTHORIZED');
    }
    // A room cursor is no member cursor.
    expectError(
      await call('GET', `/api/chatrooms/${general.id}/members?after=${roomCursor}`, {
        token: bob.accessToken,
      }),
      400,
      'VALIDATION_ERROR',
    );
  });
});

describe('a room of 5,000 members', () => {
  it('answers its first page of members, online first, and pages through all of them', async () => {
    const { User, Membership, Room: Rooms } = server.parley.ctx.models;
    const room = await createRoom(call, alice);
    await joinRoom(call, carol, room.id);
    const tag = uniqueName('big');
    // Written straight into the database: 5,000 registrations would test the password hash, not the list.
    const now = new Date();
    const rows = Array.from({ length: 4_998 }, (_, i) => {
      const name = `${tag}_${String(i).padStart(4, '0')}`;
      return {
        username: name,
        usernameKey: name,
        usernameSkeleton: name,
        displayName: name,
        email: null,
        passwordHash: null,
        isGuest: false,
        avatarAttachmentId: null,
        lastSeenAt: null,
        releasedAt: null,
      };
    });
    for (let i = 0; i < rows.length; i += 500) await User.bulkCreate(rows.slice(i, i + 500));
    const users = await User.findAll({
      where: { usernameKey: { [Op.startsWith]: `${tag}_` } },
      attributes: ['id'],
    });
    expect(users).toHaveLength(4_998);
    const joined = users.map((u) => ({
      roomId: Number(room.id),
      userId: u.id,
      role: 'member' as const,
      joinedAt: now,
      lastReadMessageId: 0,
    }));
    for (let i = 0; i < joined.length; i += 500) await Membership.bulkCreate(joined.slice(i, i + 500));
    await Rooms.update({ memberCount: 5_000 }, { where: { id: Number(room.id) } });

    const started = performance.now();
    const res = await call('GET', `/api/chatrooms/${room.id}/members`, { token: bob.accessToken });
    const ms = performance.now() - started;
    console.warn(`[paging] first members page of a 5,000-member room (${DIALECT}): ${ms.toFixed(1)} ms`);
    expectStatus(res, 200);
    expect(res.body.members).toHaveLength(100);
    expect(res.body.hasMore).toBe(true);
    expect(memberIds(res.body.members.slice(0, 2))).toEqual([alice.user.id, carol.user.id]);
    expect(res.body.members[2].user.username).toBe(`${tag}_0000`);

    const walked = performance.now();
    const { items, pages } = await walk<Member>(bob, `/api/chatrooms/${room.id}/members`, 'members', 200);
    console.warn(
      `[paging] all ${items.length} members in ${pages} pages (${DIALECT}): ${(performance.now() - walked).toFixed(0)} ms`,
    );
    expect(items).toHaveLength(5_000);
    expect(new Set(memberIds(items)).size).toBe(5_000);
    expect(pages).toBe(25);
  });
});
