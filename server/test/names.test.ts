import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Session } from '@parley/protocol';
import { QueryTypes } from 'sequelize';
import { SequelizeStorage, Umzug } from 'umzug';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import { migrations } from '../src/db/migrations/index.js';
import { openDb } from '../src/db/sequelize.js';
import { createLogger } from '../src/logger.js';
import { roomNameClaim, usernameClaim } from '../src/modules/names/claims.js';
import { freshPostgresDatabase } from '../src/test-support/postgres.js';
import {
  client,
  DIALECT,
  PG_URL,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../src/test-support/server.js';
import { expectError, expectStatus } from './helpers/http.js';
import { connectSocket, nextEvent, received } from './helpers/sockets.js';

/*
 * Names unique by confusable skeleton (issue 13, item 4; docs/DECISIONS.md "Look-alike names"): the user and room flows, what
 * the other clients see, and the migration that backfills the keys over data that already holds look-alikes.
 * The abuse cases themselves are I3d–I3h and I5a in hardening/input-names.hardening.ts.
 */

let srv: TestServer;
let call: Call;
beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.url);
});
afterAll(() => srv?.close());

const patchMe = (s: Session, displayName: string) =>
  call('PATCH', '/api/users/me', { token: s.accessToken, body: { displayName } });

describe(`display names (${DIALECT})`, () => {
  it("a display name is claimed while held and free again once changed; reading as one's own username is fine", async () => {
    const ana = await register(call, uniqueName('ana'));
    const bo = await register(call, uniqueName('bo'));
    const name = `Ana ${uniqueName('L')}`;
    expectStatus(await patchMe(ana, name), 200);
    expectError(await patchMe(bo, name.toLowerCase()), 409, 'CONFLICT');
    // Ana moves on: the old name is free.
    expectStatus(await patchMe(ana, `${name} Jr`), 200);
    const taken = await patchMe(bo, name);
    expectStatus(taken, 200);
    expect(taken.body.displayName).toBe(name);
    // Ana's own username, however spelled, is no conflict with herself.
    expectStatus(await patchMe(ana, ana.user.username.toUpperCase()), 200);
    expectStatus(await patchMe(ana, [...ana.user.username].join(' ')), 200);
    // Setting the same display name again changes nothing.
    expectStatus(await patchMe(bo, name), 200);
  });

  it('what others see: the refused name never shows; the accepted one does (members list)', async () => {
    const ana = await register(call, uniqueName('ana'));
    const bo = await register(call, uniqueName('bo'));
    const room = (
      await call('POST', '/api/chatrooms', { token: ana.accessToken, body: { name: uniqueName('dn') } })
    ).body;
    await call('POST', `/api/chatrooms/${room.id}/members`, { token: bo.accessToken, body: {} });
    expectError(await patchMe(bo, ana.user.username), 409, 'CONFLICT');
    const fresh = `Bo ${uniqueName('C')}`;
    expectStatus(await patchMe(bo, fresh), 200);
    const members = await call('GET', `/api/chatrooms/${room.id}/members`, { token: ana.accessToken });
    const shown = members.body.members.map((m: { user: { displayName: string } }) => m.user.displayName);
    expect(shown).toContain(fresh);
    expect(shown.filter((n: string) => n === ana.user.username)).toHaveLength(1);
  });

  it("registration refuses a display name that reads as another user's name, and creates nothing", async () => {
    const victim = await register(call, uniqueName('vic'));
    const before = await srv.parley.ctx.models.User.count();
    const name = uniqueName('reg');
    const res = await call('POST', '/api/auth/register', {
      body: {
        username: name,
        email: `${name}@example.com`,
        password: 'correct-horse-9',
        displayName: victim.user.username,
      },
    });
    expectError(res, 409, 'CONFLICT');
    expect(res.body.error.details[0].path).toBe('displayName');
    expect(await srv.parley.ctx.models.User.count()).toBe(before);
    // The username alone was fine.
    expectStatus(
      await call('POST', '/api/auth/register', {
        body: { username: name, email: `${name}@example.com`, password: 'correct-horse-9' },
      }),
      201,
    );
  });

  it('a released guest gives up its names; it reads "(former guest)" in profiles and DMs', async () => {
    const name = uniqueName('gst');
    const first = (await call('POST', '/api/auth/guest', { body: { username: name } })).body as Session;
    const shown = `Guest ${uniqueName('G')}`;
    expectStatus(await patchMe(first, shown), 200);
    const bo = await register(call, uniqueName('bo'));
    const dm = await call('POST', '/api/dms', { token: bo.accessToken, body: { userId: first.user.id } });
    expect(dm.body.name).toBe(name);
    await srv.parley.ctx.models.User.update(
      { lastSeenAt: new Date(Date.now() - 3_600_000) },
      { where: { id: Number(first.user.id) } },
    );
    const next = await call('POST', '/api/auth/guest', { body: { username: `${name}.` } });
    expectStatus(next, 201);
    // Its display name was released with it.
    expectStatus(await patchMe(bo, shown), 200);
    const old = await call('GET', `/api/users/${first.user.id}`, { token: bo.accessToken });
    expect(old.body).toMatchObject({
      displayName: `${shown} (former guest)`,
      username: name,
      avatarUrl: null,
    });
    const dms = await call('GET', '/api/dms', { token: bo.accessToken });
    const room = dms.body.rooms.find((r: { id: string }) => r.id === dm.body.id);
    expect(room).toMatchObject({
      name: `${name} (former guest)`,
      peer: { displayName: `${shown} (former guest)` },
    });
  });
});

describe(`room names (${DIALECT})`, () => {
  it('a look-alike is refused and announced to nobody; the owner may change the case of its own name', async () => {
    const ana = await register(call, uniqueName('ana'));
    const bo = await register(call, uniqueName('bo'));
    const watcher = await connectSocket(srv, bo);
    try {
      const name = uniqueName('plaza'); // plaza1234x5
      const created = await call('POST', '/api/chatrooms', { token: ana.accessToken, body: { name } });
      expectStatus(created, 201);
      await nextEvent(watcher, 'room:created', (r) => r.id === created.body.id);
      const lookalike = name.replace('a', '\u0430');
      expectError(
        await call('POST', '/api/chatrooms', { token: ana.accessToken, body: { name: lookalike } }),
        409,
        'ROOM_NAME_TAKEN',
      );
      // The next room proves the refused one was never announced (events arrive in order).
      const marker = await call('POST', '/api/chatrooms', {
        token: ana.accessToken,
        body: { name: uniqueName('m') },
      });
      await nextEvent(watcher, 'room:created', (r) => r.id === marker.body.id);
      expect(received(watcher, 'room:created', (r) => r.name === lookalike)).toEqual([]);

      const upper = await call('PATCH', `/api/chatrooms/${created.body.id}`, {
        token: ana.accessToken,
        body: { name: name.toUpperCase() },
      });
      expectStatus(upper, 200);
      expect(upper.body.name).toBe(name.toUpperCase());
      // Deleting the room frees its name.
      expectStatus(
        await call('DELETE', `/api/chatrooms/${created.body.id}`, { token: ana.accessToken }),
        204,
      );
      expectStatus(
        await call('POST', '/api/chatrooms', { token: ana.accessToken, body: { name: lookalike } }),
        201,
      );
    } finally {
      watcher.disconnect();
    }
  });
});

describe(`migration 003-name-skeletons (${DIALECT})`, () => {
  it('backfills over data that already holds look-alikes: the oldest keeps the claim, nothing fails', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-names-'));
    const pg = PG_URL ? await freshPostgresDatabase(PG_URL) : null;
    const db = await openDb(pg?.url ?? `sqlite:${path.join(dir, 'old.db')}`, createLogger('silent'));
    try {
      const qi = db.sequelize.getQueryInterface();
      await new Umzug({
        // Every migration before this one: the database as it was when the names were taken.
        migrations: migrations.slice(
          0,
          migrations.findIndex((m) => m.name === '003-name-skeletons'),
        ),
        context: qi,
        storage: new SequelizeStorage({ sequelize: db.sequelize, tableName: 'schema_migrations' }),
        logger: undefined,
      }).up();
      const now = new Date().toISOString();
      const users = [
        ['victim', 'victim', 'Victim'],
        ['victim.', 'victim.', 'Victim'],
        ['v.i.c.t.i.m', 'v.i.c.t.i.m', 'v.i.c.t.i.m'],
        ['ana', 'ana', 'victim'], // a display name reading as an older username
      ];
      for (const [i, [username, key, displayName]] of users.entries())
        await db.sequelize.query(
          `INSERT INTO users (username, "usernameKey", "usernameSkeleton", "displayName", "isGuest", "createdAt", "updatedAt")
           VALUES (:username, :key, :skel, :displayName, false, :now, :now)`,
          { replacements: { username, key, skel: `old${i}`, displayName, now } },
        );
      for (const name of ['general', 'g\u0435neral', 'General ']) {
        await db.sequelize.query(
          `INSERT INTO rooms (name, "nameKey", kind, description, "memberCount", "createdAt", "updatedAt")
           VALUES (:name, :key, 'public', '', 0, :now, :now)`,
          { replacements: { name, key: name, now } },
        );
      }
      // This one and any later (004-limits-guest-emails, …).
      const pending = migrations.slice(migrations.findIndex((m) => m.name === '003-name-skeletons'));
      expect(await migrate(db, createLogger('silent'))).toEqual(pending.map((m) => m.name));

      const select = <T extends object>(sql: string) =>
        db.sequelize.query<T>(sql, { type: QueryTypes.SELECT });
      const claims = await select<{ key: string; userId: number; kind: string }>(
        'SELECT "key", "userId", kind FROM name_claims ORDER BY "userId"',
      );
      // victim (id 1) holds the key; its look-alikes and ana's display name claim nothing; ana holds her username.
      expect(claims.map((c) => [c.userId, c.kind])).toEqual([
        [1, 'username'],
        [4, 'username'],
      ]);
      expect(claims[0]!.key).toBe(usernameClaim('victim'));
      const rooms = await select<{ name: string; nameSkeleton: string | null }>(
        'SELECT name, "nameSkeleton" FROM rooms ORDER BY id',
      );
      expect(rooms.map((r) => r.nameSkeleton)).toEqual([roomNameClaim('general'), null, null]);
      const skeletons = await select<{ usernameSkeleton: string }>(
        'SELECT "usernameSkeleton" FROM users ORDER BY id',
      );
      expect(skeletons.map((u) => u.usernameSkeleton)).toEqual(['vlctlrn', '~2', '~3', 'ana']);
    } finally {
      await db.close();
      await pg?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
