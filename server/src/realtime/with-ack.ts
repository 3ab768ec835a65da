import {
  clientEventSchemas,
  type Ack,
  type ClientAckData,
  type ClientEventName,
  type ClientPayload,
} from '@parley/protocol';
import type { AppContext } from '../context.js';
import type { User } from '../db/models.js';
import { AppError, fromZod, toErrorBody } from '../errors.js';
import type { IoSocket } from './channels.js';

/** The caller of a socket event: the user as stored now, and the socket itself. */
export interface SocketCaller {
  user: User;
  socket: IoSocket;
  /**
   * For serial events: this one has taken its place in the write order (e.g. it is queued for a group commit),
   * so the socket's next event may start without waiting for this one's ack. Calling it is optional.
   */
  queued: () => void;
}

export type EventHandler<E extends ClientEventName> = (
  payload: ClientPayload<E>,
  caller: SocketCaller,
) => Promise<ClientAckData[E]>;

/** Per-socket flood control the connection layer gives every handler. */
export interface EventGuard {
  /** Throws RATE_LIMITED when the socket's event budget is spent (and disconnects a socket that keeps flooding). */
  admit(socket: IoSocket): void;
}

export interface EventOptions {
  /**
   * Handle these events one at a time per socket, in the order they arrived. For message writes: a client that
   * sends "a" then "b" without waiting for the first ack gets them stored (and delivered) as "a", "b". Without it
   * both handlers run at once and the database decides.
   */
  serial?: boolean;
}

type UserModel = AppContext['models']['User'];
interface Waiter {
  resolve(u: User | null): void;
  reject(err: unknown): void;
}
const userLoads = new WeakMap<UserModel, Map<number, Waiter[]>>();

/**
 * Loads the caller of an event. Every event reads its user fresh (a released account must stop at once), but
 * the events that arrive in one turn of the loop share one query: under load that is one read for hundreds of
 * events instead of one each. Each caller gets an instance of its own.
 */
function loadCaller(ctx: AppContext, id: number): Promise<User | null> {
  const model = ctx.models.User;
  let waiting = userLoads.get(model);
  if (!waiting) {
    const batch = new Map<number, Waiter[]>();
    userLoads.set(model, (waiting = batch));
    setImmediate(() => {
      userLoads.delete(model);
      model.findAll({ where: { id: [...batch.keys()] } }).then(
        (users) => {
          const byId = new Map(users.map((u) => [u.id, u]));
          for (const [userId, waiters] of batch) {
            const u = byId.get(userId);
            waiters.forEach((w, i) =>
              w.resolve(
                !u
                  ? null
                  : i === 0
                    ? u
                    : model.build(u.get({ plain: true }), { isNewRecord: false, raw: true }),
              ),
            );
          }
        },
        (err: unknown) => {
          for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
        },
      );
    });
  }
  return new Promise((resolve, reject) => {
    const list = waiting.get(id);
    if (list) list.push({ resolve, reject });
    else waiting.set(id, [{ resolve, reject }]);
  });
}

/** Per socket: the tail of its serial events. */
const serialTails = new WeakMap<IoSocket, Promise<unknown>>();

function inArrivalOrder<T>(socket: IoSocket, work: (queued: () => void) => Promise<T>): Promise<T> {
  let queued!: () => void;
  const turnOver = new Promise<void>((resolve) => (queued = resolve));
  const run = (serialTails.get(socket) ?? Promise.resolve()).then(() => work(queued));
  serialTails.set(socket, Promise.race([run.catch(() => undefined), turnOver]));
  return run;
}

const noop = () => {};

type Listener = (this: IoSocket, ...args: unknown[]) => Promise<void>;
type AnyHandler = (payload: never, caller: SocketCaller) => Promise<unknown>;

/**
 * One listener per (context, guard, event, options), shared by every socket (Socket.IO calls it with the socket as
 * `this`); per socket only its handlers are kept. A closure per event per socket was ~1 KiB of every idle socket.
 */
const sharedListeners = new WeakMap<AppContext, WeakMap<EventGuard, Map<string, Listener>>>();
const socketHandlers = new WeakMap<IoSocket, Map<ClientEventName, AnyHandler>>();

/**
 * The one wrapper every client event goes through: admit → validate with the event's zod schema → load the
 * caller → handler (the same services REST uses) → `{ok:true,data}` or `{ok:false,error}`. Nothing escapes: an
 * event sent without a callback that fails is answered with an `error` event instead.
 */
export function withAck<E extends ClientEventName>(
  ctx: AppContext,
  socket: IoSocket,
  guard: EventGuard,
  event: E,
  handler: EventHandler<E>,
  opts: EventOptions = {},
): void {
  let handlers = socketHandlers.get(socket);
  if (!handlers) socketHandlers.set(socket, (handlers = new Map()));
  if (handlers.has(event)) {
    // A second handler for the same event on this socket: it gets a listener of its own, as the first one did.
    socket.on(
      event as never,
      ((...args: unknown[]) =>
        handleEvent(ctx, socket, guard, event, handler as AnyHandler, opts, args)) as never,
    );
    return;
  }
  handlers.set(event, handler as AnyHandler);
  let byGuard = sharedListeners.get(ctx);
  if (!byGuard) sharedListeners.set(ctx, (byGuard = new WeakMap()));
  let byEvent = byGuard.get(guard);
  if (!byEvent) byGuard.set(guard, (byEvent = new Map()));
  const key = `${event}:${opts.serial ? 's' : ''}`;
  let listener = byEvent.get(key);
  if (!listener) {
    listener = function (this: IoSocket, ...args: unknown[]) {
      return handleEvent(ctx, this, guard, event, socketHandlers.get(this)!.get(event)!, opts, args);
    };
    byEvent.set(key, listener);
  }
  socket.on(event as never, listener as never);
}

async function handleEvent(
  ctx: AppContext,
  socket: IoSocket,
  guard: EventGuard,
  event: ClientEventName,
  handler: AnyHandler,
  opts: EventOptions,
  args: unknown[],
): Promise<void> {
  const ack =
    typeof args[args.length - 1] === 'function' ? (args.pop() as (r: Ack<unknown>) => void) : undefined;
  try {
    guard.admit(socket);
    // Only a missing payload stands for `{}` (presence:list has no fields); `null` is a wrong type like any other.
    const payload = args.length === 0 && event === 'presence:list' ? {} : args[0];
    const parsed = clientEventSchemas[event].safeParse(payload);
    if (!parsed.success) throw fromZod(parsed.error);
    const run = async (queued: () => void) => {
      const user = await loadCaller(ctx, Number(socket.data.userId));
      if (!user || user.releasedAt) throw new AppError('UNAUTHORIZED', 'This account is no longer available');
      // Events queued before a revocation (or a disconnect) do not run after it.
      if (!socket.connected || ctx.revocations.revocationOf(socket))
        throw new AppError('UNAUTHORIZED', 'This session has ended; sign in again');
      return handler(parsed.data as never, { user, socket, queued });
    };
    // Admission and validation above stay immediate; only the work waits its turn.
    const data = await (opts.serial ? inArrivalOrder(socket, run) : run(noop));
    ack?.({ ok: true, data });
  } catch (err) {
    const { status, body } = toErrorBody(err);
    if (status >= 500) ctx.logger.error({ err, event, userId: socket.data.userId }, 'socket event failed');
    if (ack) ack({ ok: false, ...body });
    else socket.emit('error', body);
  }
}
