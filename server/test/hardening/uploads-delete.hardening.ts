import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Attachment, Message, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildServers, type ParleyProcess } from '../../src/test-support/process.js';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../../src/test-support/server.js';
import { IMAGES_PER_USER, MAX_WAITING_IMAGES } from '../../src/modules/uploads/queue.js';
import { fetchBytes, png, uploadFile } from '../helpers/images.js';
import { createRoom, joinRoom } from '../helpers/realtime.js';
import { closeAllSockets, connectSocket, nextEvent } from '../helpers/sockets.js';

/*
 * Issue 13, files: a deleted image stops being served at once, everywhere, and its bytes go (T3); avatars are
 * for signed-in users (T4) and a replaced or removed avatar goes like a deleted image (T5); image work is bounded
 * per user and per process (T2). Two nodes: A in this process, B a child process on A's data directory and
 * database, as two nodes given one uploads volume (docs/DECISIONS.md D12) — what A deletes, B must refuse.
 */

let A: TestServer;
let B: ParleyProcess;
let call: Call;
const servers = new ChildServers();

beforeAll(async () => {
  A = await startTestServer();
  call = client(A.url);
  B = await servers.start({
    DATA_DIR: A.config.dataDir,
    DATABASE_URL: A.config.databaseUrl,
    JWT_SECRET: A.config.jwtSecret,
    PASSWORD_HASH_MEMORY_KIB: '8192',
  });
}, 90_000);

afterAll(async () => {
  closeAllSockets();
  await servers.cleanup();
  await A?.close();
});

const onDisk = (key: string) => existsSync(path.join(A.config.dataDir, 'uploads', key));

async function upload(s: Session): Promise<Attachment> {
  const res = await uploadFile(A.url, s.accessToken, await png(40, 30), { filename: 'x.png' });
  expect(res.status).toBe(201);
  return res.body as Attachment;
}

async function postImage(s: Session, roomId: string): Promise<Message> {
  const a = await upload(s);
  const res = await call<Message>('POST', `/api/chatrooms/${roomId}/messages`, {
    token: s.accessToken,
    body: { attachmentId: a.id, clientId: randomUUID() },
  });
  expect(res.status).toBe(201);
  return res.body;
}

/** Status of GET `p` on each node, with the bearer token when given. */
const statusOnBoth = async (p: string, token?: string) => [
  (await fetchBytes(A.url, p, token)).status,
  (await fetchBytes(B.url, p, token)).status,
];

/** Signs in by password and answers the session and its media cookie (`name=value`). */
async function signIn(username: string): Promise<{ session: Session; cookie: string }> {
  const res = await fetch(`${A.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: 'correct-horse-9' }),
  });
  expect(res.status).toBe(200);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith('parley_media='));
  expect(cookie, 'the media cookie').toBeDefined();
  return { session: (await res.json()) as Session, cookie: cookie! };
}

describe('T3 a deleted image is gone at once, on every node', () => {
  it('T3a after DELETE /api/messages/:id its signed URLs and its id answer 404 on both nodes, and its files are gone', async () => {
    const alice = await register(call, uniqueName('alice'));
    const bob = await register(call, uniqueName('bob'));
    const room = await createRoom(call, alice);
    await joinRoom(call, bob, room.id);
    const msg = await postImage(alice, room.id);
    const a = msg.attachment!;
    const byId = `/api/uploads/${a.id}`;
    // Served before, by either node, by signature and by token.
    expect(await statusOnBoth(a.url)).toEqual([200, 200]);
    expect(await statusOnBoth(a.thumbnailUrl)).toEqual([200, 200]);
    expect(await statusOnBoth(byId, bob.accessToken)).toEqual([200, 200]);
    expect([onDisk(a.id), onDisk(`${a.id}.thumb`)]).toEqual([true, true]);

    const bobSocket = await connectSocket(A, bob);
    const deleted = nextEvent(bobSocket, 'message:deleted');
    const del = await call('DELETE', `/api/messages/${msg.id}`, { token: alice.accessToken });
    expect(del.status).toBe(204);
    // No wait: the answer comes after the files are removed.
    expect([onDisk(a.id), onDisk(`${a.id}.thumb`)]).toEqual([false, false]);
    expect(await statusOnBoth(a.url)).toEqual([404, 404]);
    expect(await statusOnBoth(a.thumbnailUrl)).toEqual([404, 404]);
    expect(await statusOnBoth(byId, alice.accessToken)).toEqual([404, 404]);
    expect(await statusOnBoth(byId, bob.accessToken)).toEqual([404, 404]);
    expect(await deleted).toEqual({ id: msg.id, roomId: room.id });
    // The upload cannot be attached again either.
    const again = await call('POST', `/api/chatrooms/${room.id}/messages`, {
      token: alice.accessToken,
      body: { attachmentId: a.id, clientId: randomUUID() },
    });
    expect(again.status).toBe(404);
  });

  it('T3b deleting the room removes its images the same way', async () => {
    const owner = await register(call, uniqueName('owner'));
    const room = await createRoom(call, owner);
    const msgs = [await postImage(owner, room.id), await postImage(owner, room.id)];
    for (const m of msgs) expect(await statusOnBoth(m.attachment!.url)).toEqual([200, 200]);
    expect((await call('DELETE', `/api/chatrooms/${room.id}`, { token: owner.accessToken })).status).toBe(
      204,
    );
    for (const m of msgs) {
      expect(await statusOnBoth(m.attachment!.url)).toEqual([404, 404]);
      expect(await statusOnBoth(m.attachment!.thumbnailUrl)).toEqual([404, 404]);
      expect([onDisk(m.attachment!.id), onDisk(`${m.attachment!.id}.thumb`)]).toEqual([false, false]);
    }
  });

  it('T3c only the author or the room owner deletes: a refused delete leaves the image served', async () => {
    const owner = await register(call, uniqueName('owner'));
    const other = await register(call, uniqueName('other'));
    const room = await createRoom(call, owner, 'public');
    await joinRoom(call, other, room.id);
    const msg = await postImage(owner, room.id);
    expect((await call('DELETE', `/api/messages/${msg.id}`)).status).toBe(401);
    expect((await call('DELETE', `/api/messages/${msg.id}`, { token: other.accessToken })).status).toBe(403);
    expect(await statusOnBoth(msg.attachment!.url)).toEqual([200, 200]);
    expect(onDisk(msg.attachment!.id)).toBe(true);
  });
});

describe('T4 avatars are for signed-in users only', () => {
  it('T4 without sign-in an avatar answers 404 (even by the upload’s own signed URL); by token or media cookie 200; the cookie stops at sign-out', async () => {
    const carol = await register(call, uniqueName('carol'));
    const dave = await register(call, uniqueName('dave'));
    const a = await upload(carol);
    const set = await call('PATCH', '/api/users/me', {
      token: carol.accessToken,
      body: { avatarAttachmentId: a.id },
    });
    expect(set.status).toBe(200);
    const avatarUrl: string = set.body.avatarUrl;
    expect(avatarUrl).toBe(`/api/uploads/${a.id}`);

    expect(await statusOnBoth(avatarUrl)).toEqual([404, 404]);
    expect(await statusOnBoth(`${avatarUrl}/thumbnail`)).toEqual([404, 404]);
    expect(await statusOnBoth(a.url)).toEqual([404, 404]); // the signed URL of the upload answer
    expect(await statusOnBoth(avatarUrl, 'not-a-token')).toEqual([404, 404]);
    expect(await statusOnBoth(avatarUrl, dave.accessToken)).toEqual([200, 200]);

    // The web client: <img> sends the cookie every session answer sets.
    const { session, cookie } = await signIn(dave.user.username);
    const withCookie = async (base: string) =>
      (await fetch(base + avatarUrl, { headers: { cookie } })).status;
    expect([await withCookie(A.url), await withCookie(B.url)]).toEqual([200, 200]);
    const out = await fetch(`${A.url}/api/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: session.refreshToken }),
    });
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().some((c) => /^parley_media=;/.test(c))).toBe(true);
    expect([await withCookie(A.url), await withCookie(B.url)]).toEqual([404, 404]);
  });
});

describe('T5 a replaced or removed avatar goes at once', () => {
  it('T5 the old avatar’s URL answers 404 on both nodes and its files are gone; the new one is served', async () => {
    const erin = await register(call, uniqueName('erin'));
    const first = await upload(erin);
    const second = await upload(erin);
    const setTo = (id: string | null) =>
      call('PATCH', '/api/users/me', { token: erin.accessToken, body: { avatarAttachmentId: id } });
    expect((await setTo(first.id)).status).toBe(200);
    expect(await statusOnBoth(`/api/uploads/${first.id}`, erin.accessToken)).toEqual([200, 200]);

    expect((await setTo(second.id)).body.avatarUrl).toBe(`/api/uploads/${second.id}`);
    expect(await statusOnBoth(`/api/uploads/${first.id}`, erin.accessToken)).toEqual([404, 404]);
    expect([onDisk(first.id), onDisk(`${first.id}.thumb`)]).toEqual([false, false]);
    expect(await statusOnBoth(`/api/uploads/${second.id}`, erin.accessToken)).toEqual([200, 200]);
    // Setting the same avatar again keeps it.
    expect((await setTo(second.id)).status).toBe(200);
    expect(onDisk(second.id)).toBe(true);

    expect((await setTo(null)).body.avatarUrl).toBeNull();
    expect(await statusOnBoth(`/api/uploads/${second.id}`, erin.accessToken)).toEqual([404, 404]);
    expect([onDisk(second.id), onDisk(`${second.id}.thumb`)]).toEqual([false, false]);
    // A discarded avatar cannot be adopted again.
    expect((await setTo(first.id)).status).toBe(404);
  });

  it('T5b an image is either a message’s or an avatar, never both (deleting one would take the other)', async () => {
    const fay = await register(call, uniqueName('fay'));
    const room = await createRoom(call, fay);
    const msg = await postImage(fay, room.id);
    const adopt = await call('PATCH', '/api/users/me', {
      token: fay.accessToken,
      body: { avatarAttachmentId: msg.attachment!.id },
    });
    expect(adopt.status).toBe(404);
    const avatar = await upload(fay);
    await call('PATCH', '/api/users/me', { token: fay.accessToken, body: { avatarAttachmentId: avatar.id } });
    const send = await call('POST', `/api/chatrooms/${room.id}/messages`, {
      token: fay.accessToken,
      body: { attachmentId: avatar.id, clientId: randomUUID() },
    });
    expect(send.status).toBe(409);
  });
});

describe('T2 image work is bounded per user and per process', () => {
  it(`T2 a user's upload beyond ${IMAGES_PER_USER} in processing answers 429; beyond ${MAX_WAITING_IMAGES} waiting, 503 with Retry-After`, async () => {
    const gus = await register(call, uniqueName('gus'));
    const queue = A.parley.ctx.uploads.images;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // Gus's two slots held by work that waits for the gate (as two slow decodes would).
    const held = Array.from({ length: IMAGES_PER_USER }, () => queue.run(Number(gus.user.id), () => gate));
    const third = await uploadFile(A.url, gus.accessToken, await png(20, 20));
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe('RATE_LIMITED');
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);

    // The whole process: fill the waiting line with other (made-up) users' work.
    await new Promise((resolve) => setImmediate(resolve)); // p-limit starts its first job a microtask later
    expect(queue.load).toEqual({ running: 1, waiting: IMAGES_PER_USER - 1 });
    const room = MAX_WAITING_IMAGES - queue.load.waiting;
    const fillers = Array.from({ length: room }, (_, i) => queue.run(-1 - i, () => gate));
    expect(queue.load.waiting).toBe(MAX_WAITING_IMAGES);
    const hal = await register(call, uniqueName('hal'));
    const busy = await uploadFile(A.url, hal.accessToken, await png(20, 20));
    expect(busy.status).toBe(503);
    expect(busy.body.error.code).toBe('UNAVAILABLE');
    expect(Number(busy.headers.get('retry-after'))).toBeGreaterThan(0);

    release();
    await Promise.all([...held, ...fillers]);
    expect(queue.load).toEqual({ running: 0, waiting: 0 });
    expect((await uploadFile(A.url, hal.accessToken, await png(20, 20))).status).toBe(201);
    expect((await uploadFile(A.url, gus.accessToken, await png(20, 20))).status).toBe(201);
  });
});
