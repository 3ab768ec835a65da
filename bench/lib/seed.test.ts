import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../server/src/test-support/server.js';
import { api, createRoom, registerUsers, seedMessages, seedUsers, type SeedTarget } from './seed.js';
import { insertRooms } from './seed-db.js';
import { connectParley } from './seed-sockets.js';

/*
 * The benchmark's seeding against a real server (SQLite, or PostgreSQL with TEST_DATABASE_URL): what it writes
 * behind the server's back must be indistinguishable from what the API writes, and the server must carry on
 * appending after it.
 */

let server: TestServer;
let target: SeedTarget;

beforeAll(async () => {
  server = await startTestServer();
  target = {
    url: server.url,
    env: {
      DATA_DIR: server.config.dataDir,
      DATABASE_URL: server.config.databaseUrl,
      JWT_SECRET: server.config.jwtSecret,
    },
  };
});
afterAll(async () => {
  await server?.close();
});

describe('seedUsers', () => {
  it.each(['api', 'db'] as const)('gives members of general with working tokens (via %s)', async (via) => {
    const { users, roomId } = await seedUsers(target, 30, { via });
    expect(users).toHaveLength(30);
    const me = await api(server.url, 'GET', '/api/users/me', undefined, users[29]!.accessToken);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: users[29]!.id, username: users[29]!.name, isGuest: true });
    const members = await api(
      server.url,
      'GET',
      `/api/chatrooms/${roomId}/members?limit=200`,
      undefined,
      users[0]!.accessToken,
    );
    const ids = new Set(
      (members.body as { members: { user: { id: string } }[] }).members.map((m) => m.user.id),
    );
    for (const u of users) expect(ids.has(u.id)).toBe(true);
    const room = await api(server.url, 'GET', `/api/chatrooms/${roomId}`, undefined, users[0]!.accessToken);
    expect((room.body as { memberCount: number }).memberCount).toBe(ids.size);
    const socket = await connectParley(server.url, users[5]!.accessToken);
    try {
      const ack = (await socket.emitWithAck('message:send', {
        roomId,
        text: `hello from ${via}`,
        clientId: crypto.randomUUID(),
      })) as { ok: boolean };
      expect(ack.ok).toBe(true);
    } finally {
      socket.close();
    }
  });
});

describe('seedMessages', () => {
  it('fills a room the server pages through and keeps appending to', async () => {
    const [owner] = await registerUsers(target, 1);
    const roomId = await createRoom(target, owner!, `seeded-${Date.now()}`);
    const seeded = await seedMessages(target, roomId, 1000, [owner!.id]);
    expect(seeded.lastId - seeded.firstId).toBe(999);
    const page = async (q: string) => {
      const r = await api(
        server.url,
        'GET',
        `/api/chatrooms/${roomId}/messages${q}`,
        undefined,
        owner!.accessToken,
      );
      expect(r.status).toBe(200);
      return (r.body as { messages: { id: string; text: string }[]; hasMore: boolean }).messages;
    };
    const newest = await page('?limit=50');
    expect(newest.at(-1)).toMatchObject({
      id: String(seeded.lastId),
      text: expect.stringMatching(/^seeded message 1000:/),
    });
    const oldest = await page(`?limit=50&before=${seeded.firstId + 50}`);
    expect(oldest.slice(-50).map((m) => Number(m.id))).toEqual(
      Array.from({ length: 50 }, (_, i) => seeded.firstId + i),
    );
    const sent = await api(
      server.url,
      'POST',
      `/api/chatrooms/${roomId}/messages`,
      { text: 'after' },
      owner!.accessToken,
    );
    expect(sent.status).toBe(201);
    expect(Number((sent.body as { id: string }).id)).toBeGreaterThan(seeded.lastId);
    expect((await page('?limit=1')).map((m) => m.text)).toEqual(['after']);
  });
});

describe('insertRooms', () => {
  it('gives each owner a room of their own to post in', async () => {
    const { users } = await seedUsers(target, 3, { via: 'db' });
    const roomIds = await insertRooms(
      target.env,
      users.map((u) => u.id),
      `own-${Date.now()}`,
    );
    const rooms = await api(server.url, 'GET', '/api/chatrooms', undefined, users[1]!.accessToken);
    const mine = (rooms.body as { rooms: { id: string; isMember: boolean; ownerId: string }[] }).rooms.find(
      (r) => r.id === roomIds[1],
    );
    expect(mine).toMatchObject({ isMember: true, ownerId: users[1]!.id });
    const sent = await api(
      server.url,
      'POST',
      `/api/chatrooms/${roomIds[1]}/messages`,
      { text: 'x' },
      users[1]!.accessToken,
    );
    expect(sent.status).toBe(201);
    const other = await api(
      server.url,
      'POST',
      `/api/chatrooms/${roomIds[0]}/messages`,
      { text: 'x' },
      users[1]!.accessToken,
    );
    expect(other.status).toBe(403);
  });
});
