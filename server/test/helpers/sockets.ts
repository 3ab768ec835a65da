import type {
  Ack,
  ClientAckData,
  ClientEventName,
  ClientPayload,
  ClientToServerEvents,
  HandshakeAuth,
  Message,
  ServerEventName,
  ServerPayload,
  ServerToClientEvents,
  Session,
} from '@parley/protocol';
import { io, type Socket } from 'socket.io-client';
import type { TestServer } from '../../src/test-support/server.js';

/*
 * Real socket.io-client connections for tests, with an event log per socket so that tests never race the wire:
 *
 * - every server → client event is recorded from the moment the socket is created, so `nextEvent` may be called
 *   before or after the action that causes the event;
 * - `nextEvent` takes the first matching event that no earlier `nextEvent` took, so predicates should be specific
 *   (a message id, a text, a room id);
 * - proving a socket did NOT get something uses a marker: the test causes a later event that the socket surely
 *   gets (the server sends in order on one connection), waits for it, and checks nothing unwanted came first.
 */

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

interface Recorded {
  name: string;
  payload: any;
  taken: boolean;
}

interface SocketLog {
  events: Recorded[];
  listeners: Set<() => void>;
}

const logs = new WeakMap<ClientSocket, SocketLog>();
const open = new Set<ClientSocket>();

export const DEFAULT_TIMEOUT_MS = 5_000;

function logOf(socket: ClientSocket): SocketLog {
  const log = logs.get(socket);
  if (!log) throw new Error('socket was not made by connectSocket()');
  return log;
}

/** Polls `condition` until it holds; fails after `timeoutMs` naming `what`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Connects a socket for `session` (websocket transport, no reconnection) and resolves once the server has
 * subscribed it to its user channel and all its rooms, so that broadcasts made afterwards reach it. Fails with
 * the server's `connect_error` (e.g. `UNAUTHORIZED`) when the handshake is refused.
 */
export async function connectSocket(
  server: TestServer,
  session: Pick<Session, 'accessToken' | 'user'>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  auth: Omit<HandshakeAuth, 'token'> = {},
): Promise<ClientSocket> {
  const socket: ClientSocket = io(server.url, {
    auth: { ...auth, token: session.accessToken } satisfies HandshakeAuth,
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  const log: SocketLog = { events: [], listeners: new Set() };
  logs.set(socket, log);
  open.add(socket);
  socket.onAny((name: string, payload: unknown) => {
    log.events.push({ name, payload, taken: false });
    for (const listener of [...log.listeners]) listener();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('socket connect timed out')), timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  // The server subscribes the socket in its `connection` handler, which may still be running when `connect`
  // reaches the client: wait until the socket is in its user channel and every room of the user, and the user
  // counts as online (the last step of the set-up).
  const { ctx, io: ioServer } = server.parley;
  const memberships = await ctx.models.Membership.findAll({
    where: { userId: Number(session.user.id) },
    attributes: ['roomId'],
  });
  const channels = [`user:${session.user.id}`, ...memberships.map((m) => `room:${m.roomId}`)];
  await waitFor(
    async () => {
      const serverSide = ioServer.sockets.sockets.get(socket.id!);
      if (!serverSide || !channels.every((c) => serverSide.rooms.has(c))) return false;
      return ctx.presence.isOnline(String(session.user.id));
    },
    `the server to subscribe socket ${socket.id}`,
    timeoutMs,
  );
  return socket;
}

/** Disconnects every socket made by `connectSocket` (call in afterAll). */
export function closeAllSockets(): void {
  for (const socket of open) socket.disconnect();
  open.clear();
}

type Predicate<P> = (payload: P) => boolean;

/**
 * The first event `name` (matching `predicate`) that no earlier call took, whether it already arrived or arrives
 * within `timeoutMs`.
 */
export function nextEvent<E extends ServerEventName>(
  socket: ClientSocket,
  name: E,
  predicate: Predicate<ServerPayload<E>> = () => true,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<ServerPayload<E>> {
  const log = logOf(socket);
  const find = () => log.events.find((e) => !e.taken && e.name === name && predicate(e.payload));
  return new Promise((resolve, reject) => {
    const done = (e: Recorded) => {
      e.taken = true;
      log.listeners.delete(check);
      clearTimeout(timer);
      resolve(e.payload);
    };
    const check = () => {
      const e = find();
      if (e) done(e);
    };
    const timer = setTimeout(() => {
      log.listeners.delete(check);
      const seen = log.events.map((e) => e.name).join(', ') || 'nothing';
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${name}"; this socket got: ${seen}`));
    }, timeoutMs);
    log.listeners.add(check);
    check();
  });
}

/** Every `name` event (matching `predicate`) this socket has received so far. */
export function received<E extends ServerEventName>(
  socket: ClientSocket,
  name: E,
  predicate: Predicate<ServerPayload<E>> = () => true,
): ServerPayload<E>[] {
  return logOf(socket)
    .events.filter((e) => e.name === name && predicate(e.payload))
    .map((e) => e.payload);
}

/**
 * The messages this socket received so far (matching `predicate`), in arrival order, whether each came as its own
 * `message:new` or inside a `messages:new` batch.
 */
export function messagesReceived(
  socket: ClientSocket,
  predicate: Predicate<Message> = () => true,
): Message[] {
  return logOf(socket).events.flatMap((e) => {
    const list: Message[] =
      e.name === 'message:new'
        ? [e.payload]
        : e.name === 'messages:new'
          ? (e.payload as ServerPayload<'messages:new'>).messages
          : [];
    return list.filter(predicate);
  });
}

/**
 * Waits for the marker event, then answers the `name` events (matching `predicate`) that arrived before it. The
 * server sends one connection's events in order, so whatever it sent before the marker has arrived by then.
 */
export async function receivedBeforeMarker<E extends ServerEventName, M extends ServerEventName>(
  socket: ClientSocket,
  name: E,
  predicate: Predicate<ServerPayload<E>>,
  marker: { name: M; where: Predicate<ServerPayload<M>> },
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<ServerPayload<E>[]> {
  const markerPayload = await nextEvent(socket, marker.name, marker.where, timeoutMs);
  const events = logOf(socket).events;
  const markerAt = events.findIndex((e) => e.payload === markerPayload);
  return events
    .slice(0, markerAt)
    .filter((e) => e.name === name && predicate(e.payload))
    .map((e) => e.payload);
}

/** Asserts the socket did not receive `name` (matching `predicate`) before the marker event arrived. */
export async function expectNoEventBeforeMarker<E extends ServerEventName, M extends ServerEventName>(
  socket: ClientSocket,
  name: E,
  predicate: Predicate<ServerPayload<E>>,
  marker: { name: M; where: Predicate<ServerPayload<M>> },
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<void> {
  const unwanted = await receivedBeforeMarker(socket, name, predicate, marker, timeoutMs);
  if (unwanted.length)
    throw new Error(`socket received "${name}" it should not have: ${JSON.stringify(unwanted[0])}`);
}

/** Emits a client event and resolves with its acknowledgement. */
export async function emitAck<E extends ClientEventName>(
  socket: ClientSocket,
  name: E,
  payload: ClientPayload<E>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<Ack<ClientAckData[E]>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for "${name}" in ${timeoutMs} ms`)), timeoutMs);
    const emit = socket.emit.bind(socket) as (
      ev: string,
      p: unknown,
      cb: (res: Ack<ClientAckData[E]>) => void,
    ) => void;
    emit(name, payload, (res) => {
      clearTimeout(timer);
      resolve(res);
    });
  });
}
