import { randomBytes, randomInt } from 'node:crypto';
import type { Ack, ClientAckData, ClientEventName, ClientPayload, Room, Session } from '@parley/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  client,
  register,
  startTestServer,
  uniqueName,
  type Call,
  type TestServer,
} from '../../src/test-support/server.js';
import { png, uploadFile } from '../helpers/images.js';
import {
  closeRawSockets,
  connectReady,
  createRoom,
  expectStatusOf,
  fullHistory,
  newClientId,
  postMessage,
} from '../helpers/realtime.js';
import { closeAllSockets, emitAck, type ClientSocket } from '../helpers/sockets.js';

/*
 * Hardening, guessed ids (issue 8): a signed-in user who belongs to nothing but general tries 1,000 room ids,
 * 1,000 message ids and 1,000 upload ids, over REST and over the socket, and reaches nothing that is not theirs.
 * Room and message ids are sequential integers, so the guesses start with every id from 1 up past the largest
 * one in use (each private room, DM and message of others is tried) and go on with random 31-bit ids. Upload ids
 * are 128 random bits: the guesses have that shape. A hit is any success on something the guesser may not see,
 * or any answer that tells it apart from a missing id (403 instead of 404).
 */

const GUESSES = 1_000;
/** Requests in flight at once: enough to be quick, few enough not to trip anything but authorization. */
const PARALLEL = 16;
/**
 * The guesser's sockets, and the pace of each: the server allows a socket 30 events a second (and cuts off one
 * that keeps exceeding it), which is itself a brake on guessing; the suite stays under it to test authorization.
 */
const SOCKETS = 8;
const SOCKET_ROUND_MS = 40;

let server: TestServer;
let call: Call;
let alice: Session;
let bob: Session;
let guesser: Session;
let sockets: ClientSocket[];
let hidden: { rooms: string[]; messages: string[]; uploads: string[] };

beforeAll(async () => {
  server = await startTestServer();
  call = client(server.url);
  [alice, bob] = [await register(call, uniqueName('alice')), await register(call, uniqueName('bob'))];
  guesser = await register(call, uniqueName('guess'));
  hidden = { rooms: [], messages: [], uploads: [] };
  // Other people's private rooms and a DM, with messages and images in them; a public room for contrast.
  for (let i = 0; i < 3; i++) {
    const room = await createRoom(call, alice, 'private');
    hidden.rooms.push(room.id);
    for (let j = 0; j < 5; j++)
      hidden.messages.push((await postMessage(call, alice, room.id, `secret ${i}.${j}`)).id);
    const up = await uploadFile(server.url, alice.accessToken, await png(8, 8));
    expectStatusOf(up, 201);
    hidden.uploads.push(up.body.id);
    const img = await call('POST', `/api/chatrooms/${room.id}/messages`, {
      token: alice.accessToken,
      body: { attachmentId: up.body.id },
    });
    expectStatusOf(img, 201);
    hidden.messages.push(img.body.id);
  }
  const dm = await call('POST', '/api/dms', { token: alice.accessToken, body: { userId: bob.user.id } });
  expectStatusOf(dm, 200);
  hidden.rooms.push(dm.body.id);
  for (let j = 0; j < 5; j++) hidden.messages.push((await postMessage(call, bob, dm.body.id, `dm ${j}`)).id);
  const unposted = await uploadFile(server.url, bob.accessToken, await png(8, 8));
  hidden.uploads.push(unposted.body.id);
  const open = await createRoom(call, alice, 'public');
  await postMessage(call, alice, open.id, 'anyone may read this');
  sockets = [];
  for (let i = 0; i < SOCKETS; i++) sockets.push(await connectReady(server, guesser));
});
afterAll(async () => {
  closeAllSockets();
  closeRawSockets();
  await server?.close();
});

/** `GUESSES` ids: every id from 1 to `upTo` (all the ids in use), then random 31-bit ones. */
function sequentialThenRandom(upTo: number): string[] {
  expect(upTo, 'the sequential part leaves room for random guesses').toBeLessThan(GUESSES / 2);
  const ids = new Set<string>();
  for (let id = 1; id <= upTo; id++) ids.add(String(id));
  while (ids.size < GUESSES) ids.add(String(randomInt(upTo + 1, 2 ** 31 - 1)));
  return [...ids];
}

/** Runs `probe` for every id, `PARALLEL` at a time, and answers the ids it called a hit. */
async function hitsOf(ids: string[], probe: (id: string) => Promise<boolean>): Promise<string[]> {
  const hits: string[] = [];
  for (let i = 0; i < ids.length; i += PARALLEL) {
    const batch = ids.slice(i, i + PARALLEL);
    const results = await Promise.all(batch.map(probe));
    batch.forEach((id, k) => results[k] && hits.push(id));
  }
  return hits;
}

/**
 * Sends one event per id over the guesser's sockets, one id per socket per round and at most one round per
 * SOCKET_ROUND_MS, and answers the ids whose ack `isHit` calls a hit.
 */
async function socketHitsOf<E extends ClientEventName>(
  ids: string[],
  event: E,
  payload: (id: string) => ClientPayload<E>,
  isHit: (id: string, ack: Ack<ClientAckData[E]>) => boolean,
): Promise<string[]> {
  const hits: string[] = [];
  for (let i = 0; i < ids.length; i += SOCKETS) {
    const roundEnds = Date.now() + SOCKET_ROUND_MS;
    const batch = ids.slice(i, i + SOCKETS);
    const acks = await Promise.all(batch.map((id, k) => emitAck(sockets[k]!, event, payload(id))));
    batch.forEach((id, k) => isHit(id, acks[k]!) && hits.push(id));
    const left = roundEnds - Date.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  }
  return hits;
}

/** The rooms the guesser may see (public ones) and the messages in them. */
async function visibleToGuesser() {
  // One page of the largest size: hasMore says it holds every room the guesser may see.
  const res = await call('GET', '/api/chatrooms?limit=200', { token: guesser.accessToken });
  expect(res.body.hasMore).toBe(false);
  const rooms = (res.body.rooms as Room[]).filter((r) => r.kind === 'public').map((r) => r.id);
  const messages = new Set<string>();
  for (const id of rooms) for (const m of await fullHistory(call, guesser, id)) messages.add(m.id);
  return { rooms: new Set(rooms), messages };
}

const maxId = (ids: string[]) => Math.max(...ids.map(Number));

describe('B4 guessed ids reach nothing', () => {
  it('B4 1,000 guessed room ids: 0 hits over REST and over the socket', { timeout: 120_000 }, async () => {
    const visible = await visibleToGuesser();
    const ids = sequentialThenRandom(maxId([...hidden.rooms, ...visible.rooms]) + 20);
    for (const id of hidden.rooms) expect(ids).toContain(id);
    const rest = await hitsOf(ids, async (id) => {
      const res = await call('GET', `/api/chatrooms/${id}`, { token: guesser.accessToken });
      return visible.rooms.has(id) ? res.status !== 200 : res.status !== 404;
    });
    const history = await hitsOf(ids, async (id) => {
      const res = await call('GET', `/api/chatrooms/${id}/messages`, { token: guesser.accessToken });
      return visible.rooms.has(id) ? res.status !== 200 : res.status !== 404;
    });
    const io = await socketHitsOf(
      ids,
      'messages:fetch',
      (id) => ({ roomId: id }),
      (id, ack) => (visible.rooms.has(id) ? !ack.ok : ack.ok || ack.error.code !== 'NOT_FOUND'),
    );
    console.warn(
      `B4 rooms: ${rest.length}/${history.length}/${io.length} hits (room, history, socket) of ${ids.length} ids, ` +
        `${hidden.rooms.length} hidden rooms among them`,
    );
    expect({ rest, history, io }).toEqual({ rest: [], history: [], io: [] });
  });

  it('B4 1,000 guessed message ids: 0 hits over REST and over the socket', { timeout: 120_000 }, async () => {
    const visible = await visibleToGuesser();
    const ids = sequentialThenRandom(maxId([...hidden.messages, ...visible.messages]) + 20);
    for (const id of hidden.messages) expect(ids).toContain(id);
    // The guesser wrote nothing: a visible message is someone else's (403), anything else must look missing.
    const expected = (id: string) => (visible.messages.has(id) ? 'FORBIDDEN' : 'NOT_FOUND');
    const rest = await hitsOf(ids, async (id) => {
      const res = await call('PATCH', `/api/messages/${id}`, {
        token: guesser.accessToken,
        body: { text: 'guessed' },
      });
      return res.status !== (expected(id) === 'FORBIDDEN' ? 403 : 404);
    });
    const io = await socketHitsOf(
      ids,
      'message:delete',
      (id) => ({ messageId: id }),
      (id, ack) => ack.ok || ack.error.code !== expected(id),
    );
    console.warn(
      `B4 messages: ${rest.length}/${io.length} hits (REST edit, socket delete) of ${ids.length} ids, ` +
        `${hidden.messages.length} hidden messages among them`,
    );
    expect({ rest, io }).toEqual({ rest: [], io: [] });
    // Nothing was changed by all that.
    for (const roomId of hidden.rooms) {
      const owner = roomId === hidden.rooms.at(-1) ? bob : alice;
      for (const m of await fullHistory(call, owner, roomId)) {
        expect(m.deleted).toBe(false);
        expect(m.text).not.toBe('guessed');
      }
    }
  });

  it('B4 1,000 guessed upload ids: 0 hits over REST and over the socket', { timeout: 120_000 }, async () => {
    const ids = Array.from({ length: GUESSES }, () => randomBytes(16).toString('base64url'));
    const rest = await hitsOf([...ids, ...hidden.uploads], async (id) => {
      const res = await fetch(`${server.url}/api/uploads/${id}`, {
        headers: { authorization: `Bearer ${guesser.accessToken}` },
      });
      await res.arrayBuffer();
      return res.status !== 404;
    });
    const generalId = (
      (await call('GET', '/api/chatrooms?limit=200', { token: guesser.accessToken })).body.rooms as Room[]
    ).find((r) => r.name === 'general')!.id;
    const io = await socketHitsOf(
      [...ids, ...hidden.uploads],
      'message:send',
      (id) => ({ roomId: generalId, attachmentId: id, clientId: newClientId() }),
      (_id, ack) => ack.ok || ack.error.code !== 'NOT_FOUND',
    );
    console.warn(
      `B4 uploads: ${rest.length}/${io.length} hits (GET, attach over the socket) of ${ids.length} random ids ` +
        `and the ${hidden.uploads.length} real ids of others`,
    );
    expect({ rest, io }).toEqual({ rest: [], io: [] });
  });
});
