import { randomUUID } from 'node:crypto';
import {
  clientAckSchemas,
  type Ack,
  type ClientAckData,
  type ClientEventName,
  type HandshakeAuth,
  type Message,
  type Room,
  type ServerEventName,
  type Session,
} from '@parley/protocol';
import { io, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import { expect } from 'vitest';
import { uniqueName, type Call, type Res, type TestServer } from '../../src/test-support/server.js';
import {
  connectSocket,
  DEFAULT_TIMEOUT_MS,
  emitAck,
  nextEvent,
  received,
  waitFor,
  type ClientSocket,
} from './sockets.js';

/*
 * What the real-time suites (realtime, presence, delivery) add to helpers/sockets.ts: handshakes that must fail,
 * raw emits (no callback, unknown events, wrong payloads), disconnect waits, and exact shape checks of acks.
 */

export const USER_KEYS = ['avatarUrl', 'createdAt', 'displayName', 'id', 'isGuest', 'username'];
export const ROOM_KEYS = [
  'createdAt',
  'description',
  'id',
  'isMember',
  'kind',
  'lastMessageAt',
  'memberCount',
  'mentionCount',
  'name',
  'notifications',
  'ownerId',
  'unreadCount',
  'updatedAt',
];
export const MESSAGE_KEYS = [
  'attachment',
  'author',
  'clientId',
  'createdAt',
  'deleted',
  'editedAt',
  'event',
  'id',
  'kind',
  'mentions',
  'reactions',
  'replyTo',
  'roomId',
  'text',
];
/** Larger than any id this suite makes, and than a 32-bit integer column holds. */
export const MISSING_ID = '9999999999';

export const sortedKeys = (o: object) => Object.keys(o).sort();

/** The public User of a session (a Me without its email). */
export function userOf(s: Session) {
  const { email: _email, ...user } = s.user;
  return user;
}

export function expectUser(u: any, expected?: Session): void {
  expect(sortedKeys(u)).toEqual(USER_KEYS);
  if (expected) expect(u).toEqual(userOf(expected));
}

export function expectMessage(m: any, expected: Partial<Message> = {}): void {
  expect(sortedKeys(m)).toEqual(MESSAGE_KEYS);
  if (m.author !== null) expectUser(m.author);
  expect(m).toMatchObject(expected);
}

export function expectRoom(r: any, expected: Partial<Room> = {}): void {
  expect(sortedKeys(r)).toEqual(ROOM_KEYS);
  expect(r).toMatchObject(expected);
}

/** A successful ack: `{ok: true, data}` whose data matches the event's ack schema; answers the data. */
export function expectOk<E extends ClientEventName>(event: E, res: Ack<ClientAckData[E]>): ClientAckData[E] {
  expect(res, JSON.stringify(res)).toMatchObject({ ok: true });
  expect(sortedKeys(res)).toEqual(['data', 'ok']);
  const data = (res as { data: unknown }).data;
  const parsed = clientAckSchemas[event].safeParse(data);
  expect(parsed.success, `ack of ${event} does not match its schema: ${JSON.stringify(parsed.error)}`).toBe(
    true,
  );
  return data as ClientAckData[E];
}

/** A failed ack with the contract's error shape and `code`; answers the error. */
export function expectFail(res: Ack<unknown>, code: string) {
  expect(res, JSON.stringify(res)).toMatchObject({ ok: false, error: { code, message: expect.any(String) } });
  expect(sortedKeys(res)).toEqual(['error', 'ok']);
  const error = (res as { error: { code: string; message: string; details?: unknown[] } }).error;
  expect(sortedKeys(error).filter((k) => k !== 'details' && k !== 'retryAfter')).toEqual(['code', 'message']);
  // The extension `retryAfter` (seconds) comes with RATE_LIMITED and nothing else.
  if (code === 'RATE_LIMITED') expect((error as { retryAfter?: unknown }).retryAfter).toBeGreaterThan(0);
  else expect(error).not.toHaveProperty('retryAfter');
  return error;
}

/** A VALIDATION_ERROR ack whose details name `path` (an exact detail path). */
export function expectValidation(res: Ack<unknown>, path: string, message?: RegExp) {
  const error = expectFail(res, 'VALIDATION_ERROR');
  expect(Array.isArray(error.details) && error.details.length > 0, JSON.stringify(error)).toBe(true);
  const detail = (error.details as { path: string; message: string }[]).find((d) => d.path === path);
  expect(detail, `no detail for "${path}" in ${JSON.stringify(error.details)}`).toBeDefined();
  if (message) expect(detail!.message).toMatch(message);
  return error;
}

/** Emits anything (an unknown event, a payload of the wrong type) and resolves with whatever the ack says. */
export function emitRaw(
  socket: ClientSocket,
  event: string,
  args: unknown[],
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for "${event}" in ${timeoutMs} ms`)), timeoutMs);
    (socket.emit as (...a: unknown[]) => void)(event, ...args, (res: unknown) => {
      clearTimeout(timer);
      resolve(res);
    });
  });
}

/** Emits without a callback (a failure must then come back as an `error` event). */
export function emitNoAck(socket: ClientSocket, event: string, ...args: unknown[]): void {
  (socket.emit as (...a: unknown[]) => void)(event, ...args);
}

/**
 * `connectSocket`, then waits until the server has finished setting the socket up: subscribed to every room of
 * the user, counted in presence (and its subscribers' `presence:changed` queued if it was the user's first socket).
 */
export async function connectReady(
  server: TestServer,
  session: Pick<Session, 'accessToken' | 'user'>,
  auth: Omit<HandshakeAuth, 'token'> = {},
): Promise<ClientSocket> {
  const socket = await connectSocket(server, session, undefined, auth);
  await server.parley.ctx.bookkeeping.settled(serverSocketOf(server, socket));
  return socket;
}

/** The server's side of a connected client socket. */
export function serverSocketOf(server: TestServer, socket: ClientSocket) {
  const serverSide = server.parley.io.sockets.sockets.get(socket.id!);
  if (!serverSide) throw new Error(`the server does not know socket ${socket.id}`);
  return serverSide;
}

/**
 * Closes a client socket and waits until the server has dropped it and finished its departure (presence, and
 * its subscribers' `presence:changed` queued if it was the user's last socket).
 */
export async function closeAndSettle(server: TestServer, socket: ClientSocket): Promise<void> {
  const serverSide = serverSocketOf(server, socket);
  socket.disconnect();
  await serverDropped(server, serverSide.id);
  await server.parley.ctx.bookkeeping.settled(serverSide);
}

type ConnectOptions = Partial<ManagerOptions & SocketOptions>;

const rawSockets = new Set<ClientSocket>();

/** A socket that is not waited for (closed by `closeRawSockets`, or earlier by the caller). */
export function rawSocket(server: TestServer, opts: ConnectOptions = {}): ClientSocket {
  const socket = io(server.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    timeout: DEFAULT_TIMEOUT_MS,
    ...opts,
  }) as ClientSocket;
  rawSockets.add(socket);
  return socket;
}

/** Closes every socket made by `rawSocket`, `connectWith` and `expectHandshakeRefused` (call in afterAll). */
export function closeRawSockets(): void {
  for (const socket of rawSockets) socket.disconnect();
  rawSockets.clear();
}

/**
 * Tries a handshake that must be refused: resolves with the `connect_error`, fails if the socket connects. The
 * socket is closed either way.
 */
export async function expectHandshakeRefused(
  server: TestServer,
  opts: ConnectOptions,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<Error & { data?: unknown }> {
  const socket = rawSocket(server, opts);
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('handshake neither refused nor accepted')), timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        reject(new Error('the handshake was accepted'));
      });
      socket.once('connect_error', (err) => {
        clearTimeout(timer);
        resolve(err);
      });
    });
  } finally {
    socket.disconnect();
  }
}

/** Connects a socket with options of the caller's choosing and waits for `connect`. The caller closes it. */
export async function connectWith(
  server: TestServer,
  opts: ConnectOptions,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<ClientSocket> {
  const socket = rawSocket(server, opts);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timed out')), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      socket.disconnect();
      reject(err);
    });
  });
  return socket;
}

/** Resolves with the disconnect reason once the socket is disconnected (at once if it already is). */
export function disconnected(socket: ClientSocket, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
  if (socket.disconnected && !socket.active) return Promise.resolve('already disconnected');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`socket ${socket.id} still connected after ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.once('disconnect', (reason) => {
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

/** Waits until the server no longer holds the socket (its disconnect handlers have started). */
export async function serverDropped(server: TestServer, socketId: string): Promise<void> {
  await waitFor(() => !server.parley.io.sockets.sockets.has(socketId), `the server to drop ${socketId}`);
}

/** The server's id for the `general` room. */
export async function generalRoomId(call: Call, s: Session): Promise<string> {
  const res = await call('GET', '/api/chatrooms', { token: s.accessToken });
  expectStatusOf(res, 200);
  const general = res.body.rooms.find((r: Room) => r.name === 'general');
  if (!general) throw new Error('no general room');
  return general.id;
}

export function expectStatusOf(res: Res, status: number): void {
  expect(res.status, `${res.status} ${JSON.stringify(res.body)}`).toBe(status);
}

export async function createRoom(
  call: Call,
  owner: Session,
  kind: 'public' | 'private' = 'public',
): Promise<Room> {
  const res = await call('POST', '/api/chatrooms', {
    token: owner.accessToken,
    body: { name: uniqueName('room'), kind },
  });
  expectStatusOf(res, 201);
  return res.body;
}

/** `s` joins a public room over REST. */
export async function joinRoom(call: Call, s: Session, roomId: string): Promise<void> {
  expectStatusOf(
    await call('POST', `/api/chatrooms/${roomId}/members`, { token: s.accessToken, body: {} }),
    200,
  );
}

/** The owner adds `member` to a (private) room over REST. */
export async function addMember(call: Call, owner: Session, roomId: string, member: Session): Promise<void> {
  const res = await call('POST', `/api/chatrooms/${roomId}/members`, {
    token: owner.accessToken,
    body: { userId: member.user.id },
  });
  expectStatusOf(res, 200);
}

/** Posts a text message over REST and answers it. */
/** A room of `owner`'s with `members` in it: joined when public, added by the owner when private. */
export async function roomWith(
  call: Call,
  owner: Session,
  kind: 'public' | 'private',
  ...members: Session[]
): Promise<Room> {
  const r = await createRoom(call, owner, kind);
  for (const m of members)
    if (kind === 'public') await joinRoom(call, m, r.id);
    else await addMember(call, owner, r.id, m);
  return r;
}

/** The ids of a room's members (first page of 200) as `s` sees them, sorted: the list is online first, then by name. */
export async function memberIds(call: Call, s: Session, roomId: string): Promise<string[]> {
  const res = await call('GET', `/api/chatrooms/${roomId}/members?limit=200`, { token: s.accessToken });
  expectStatusOf(res, 200);
  return (res.body.members as { user: { id: string } }[]).map((m) => m.user.id).sort();
}

/** Every room `s` lists (rooms and DMs, first pages of 200), as they see them. */
export async function listedRooms(call: Call, s: Session): Promise<Room[]> {
  const out: Room[] = [];
  for (const path of ['/api/chatrooms', '/api/dms']) {
    const res = await call('GET', `${path}?limit=200`, { token: s.accessToken });
    expectStatusOf(res, 200);
    out.push(...(res.body.rooms as Room[]));
  }
  return out;
}

export async function postMessage(call: Call, s: Session, roomId: string, text: string): Promise<Message> {
  const res = await call('POST', `/api/chatrooms/${roomId}/messages`, {
    token: s.accessToken,
    body: { text },
  });
  expectStatusOf(res, 201);
  return res.body;
}

/**
 * A marker for "did not receive": a message posted by `by` in `roomId` (usually general, where everyone is), which
 * each member socket gets after whatever was sent to it before (`receivedBeforeMarker`, `expectNoneBy`).
 */
export async function messageMarker(call: Call, by: Session, roomId: string) {
  const m = await postMessage(call, by, roomId, `marker ${uniqueName('m')}`);
  return { name: 'message:new' as const, where: (p: { id: string }) => p.id === m.id };
}

/** The whole history of a room as `s` sees it, oldest first (walks back from the newest in pages of 100). */
export async function fullHistory(call: Call, s: Session, roomId: string): Promise<Message[]> {
  let all: Message[] = [];
  for (let page = 0; page < 1000; page++) {
    const before = all.length ? `&before=${all[0]!.id}` : '';
    const res = await call('GET', `/api/chatrooms/${roomId}/messages?limit=100${before}`, {
      token: s.accessToken,
    });
    expectStatusOf(res, 200);
    all = [...res.body.messages, ...all];
    if (!res.body.hasMore) return all;
  }
  throw new Error('history did not end');
}

/** The room as `s` sees it over REST. */
export async function roomAs(call: Call, s: Session, roomId: string): Promise<Room> {
  const res = await call('GET', `/api/chatrooms/${roomId}`, { token: s.accessToken });
  expectStatusOf(res, 200);
  return res.body;
}

export const newClientId = () => randomUUID();

/** Ids compare as numbers (they are decimal strings). */
export const byId = (a: { id: string }, b: { id: string }) =>
  BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0;

/** The users' ids in id order, as a message's `mentions` lists them. */
export const userIds = (...s: Session[]) => s.sort((a, b) => byId(a.user, b.user)).map((x) => x.user.id);

type Check = [name: ServerEventName, predicate: (payload: any) => boolean];

/**
 * Waits for the marker event on `socket` (one the server sent after whatever is checked), then asserts that none
 * of `checks` ever arrived on it: neither before the marker (which the server's in-order delivery proves) nor
 * since.
 */
export async function expectNoneBy(
  socket: ClientSocket,
  marker: { name: ServerEventName; where: (payload: any) => boolean },
  checks: Check[],
): Promise<void> {
  await nextEvent(socket, marker.name, marker.where);
  for (const [name, predicate] of checks) {
    const got = received(socket, name, predicate);
    expect(got, `socket got "${name}" it should not have: ${JSON.stringify(got[0])}`).toEqual([]);
  }
}

/**
 * Sends `texts` to `roomId` from `socket` so that at least two of them are stored by one commit, and answers the
 * stored messages in order. The room's writes are held (SQLite: a transaction holds the writer; PostgreSQL: it
 * holds the room's row lock) while the sends queue for their group commit; a serial event of the same socket
 * after them (an edit of a missing message, answered without writing) proves they all queued; then the hold
 * ends. The first commit takes one or more of them and the next all the others, so with three or more texts one
 * of the two stores at least two.
 */
export async function sendBurst(
  server: TestServer,
  socket: ClientSocket,
  roomId: string,
  texts: string[],
): Promise<Message[]> {
  const { ctx } = server.parley;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let held!: () => void;
  const holding = new Promise<void>((resolve) => (held = resolve));
  const hold = ctx.db.tx(async (t) => {
    if (ctx.db.dialect === 'postgres')
      await ctx.db.sequelize.query('SELECT id FROM rooms WHERE id = :id FOR UPDATE', {
        replacements: { id: Number(roomId) },
        transaction: t,
      });
    held();
    await gate;
  });
  let acks: Promise<Ack<ClientAckData['message:send']>>[] = [];
  try {
    await holding;
    acks = texts.map((text) => emitAck(socket, 'message:send', { roomId, text, clientId: newClientId() }));
    expectFail(
      await emitAck(socket, 'message:edit', { messageId: MISSING_ID, text: 'queued?' }),
      'NOT_FOUND',
    );
  } finally {
    release();
    await hold;
  }
  return (await Promise.all(acks)).map((a) => expectOk('message:send', a).message);
}
