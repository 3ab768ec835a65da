import {
  clientEventSchemas,
  type Ack,
  type ClientAckData,
  type ClientEventName,
  type ClientPayload,
} from '@parley/protocol';
import DataLoader from 'dataloader';
import type { AppContext } from '../context.js';
import type { User } from '../db/models.js';
import { readUsers, userInstance } from '../modules/users/repo.js';
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
  /** Rejects with RATE_LIMITED when the socket's event budget is spent (and disconnects a socket that keeps flooding). */
  admit(socket: IoSocket): Promise<void>;
}

export interface EventOptions {
  /**
   * Handle these events one at a time per socket, in the order they arrived. For message writes: a client that
   * sends "a" then "b" without waiting for the first ack gets them stored (and delivered) as "a", "b". Without it
   * both handlers run at once and the database decides.
   */
  serial?: boolean;
}

type AnyHandler = (payload: never, caller: SocketCaller) => Promise<unknown>;

/** An event's acknowledgement callback. */
export type AckCallback = (r: Ack<unknown>) => void;

/**
 * Runs before the handler of every handled event, in the order added: returns the ack to use (the one it was
 * given, wrapped or not), or `false` to drop the event unanswered (a server shutting down). Metrics time events
 * with one, the shutdown counts events in flight with another.
 */
export type EventMiddleware = (
  socket: IoSocket,
  event: ClientEventName,
  ack: AckCallback | undefined,
) => AckCallback | undefined | false;

/** One client event's handler and options, as a module declares it (see {@link withAck}). */
export interface EventEntry {
  event: ClientEventName;
  handler: AnyHandler;
  serial: boolean;
}

/**
 * Declares the handler of one client event. The entries of every module are handed once to {@link SocketEvents},
 * which runs each event through the one wrapper: admit → validate with the event's zod schema → load the caller →
 * handler (the same services REST uses) → `{ok:true,data}` or `{ok:false,error}`.
 */
export function withAck<E extends ClientEventName>(
  event: E,
  handler: EventHandler<E>,
  opts: EventOptions = {},
): EventEntry {
  return { event, handler: handler as AnyHandler, serial: opts.serial ?? false };
}

const noop = () => {};

/**
 * Every client event of every socket, built once by the connection layer. A socket gets one listener, shared by
 * all sockets (`onAny`, called with the socket as `this`), instead of a listener and a handler closure per event:
 * what an idle socket costs is what Socket.IO itself keeps for it. Events nobody handles are counted and paid for
 * from the same budget (a flood of made-up events is still a flood). Nothing escapes: an event sent without a
 * callback that fails is answered with an `error` event instead.
 */
export class SocketEvents {
  private readonly entries = new Map<string, EventEntry>();
  private readonly middlewares: EventMiddleware[] = [];
  /** Per socket: the tail of its serial events. */
  private readonly serialTails = new WeakMap<IoSocket, Promise<unknown>>();
  /**
   * Every event reads its user fresh (a released account must stop at once), but the events that arrive while a
   * read is in flight share the next one: under load one query for hundreds of events.
   */
  private readonly users: DataLoader<number, User | null>;
  /** The one listener every socket gets. */
  readonly listener: (this: IoSocket, event: string, ...args: unknown[]) => void;

  constructor(
    private readonly ctx: AppContext,
    private readonly guard: EventGuard,
    entries: EventEntry[],
    /** Called for each event no handler knows (the `socketStats.unknownEvents` counter). */
    private readonly onUnknown: () => void = () => {},
  ) {
    for (const e of entries) {
      if (this.entries.has(e.event)) throw new Error(`two handlers for ${e.event}`);
      this.entries.set(e.event, e);
    }
    this.users = new DataLoader(
      async (ids) => {
        const rows = await readUsers(ctx.db, [...new Set(ids)]);
        const byId = new Map(rows.map((u) => [u.id, u]));
        // Each caller gets an instance of its own: a handler may change it.
        return ids.map((id) => {
          const row = byId.get(id);
          return row ? userInstance(ctx.models, row) : null;
        });
      },
      { cache: false, batchScheduleFn: (cb) => setImmediate(cb) },
    );
    const dispatch = (socket: IoSocket, event: string, args: unknown[]) => this.dispatch(socket, event, args);
    this.listener = function (this: IoSocket, event: string, ...args: unknown[]) {
      dispatch(this, event, args);
    };
  }

  /** Adds a middleware that sees every handled event before its handler runs. */
  use(middleware: EventMiddleware): void {
    this.middlewares.push(middleware);
  }

  /** Starts handling the socket's events. */
  attach(socket: IoSocket): void {
    socket.onAny(this.listener);
  }

  private dispatch(socket: IoSocket, event: string, args: unknown[]): void {
    const entry = this.entries.get(event);
    if (entry) {
      void this.handle(socket, entry, args);
      return;
    }
    this.onUnknown();
    // Refused: the strike is counted; there is nothing to answer.
    this.guard.admit(socket).catch(() => {});
  }

  private async handle(socket: IoSocket, entry: EventEntry, args: unknown[]): Promise<void> {
    const { ctx } = this;
    const { event } = entry;
    let ack = typeof args[args.length - 1] === 'function' ? (args.pop() as AckCallback) : undefined;
    for (const middleware of this.middlewares) {
      const next = middleware(socket, event, ack);
      if (next === false) return;
      ack = next;
    }
    try {
      // Admission settles in arrival order (an in-memory limiter), so serial events still queue in that order.
      await this.guard.admit(socket);
      // Only a missing payload stands for `{}` (presence:list has no fields); `null` is a wrong type like any other.
      const payload = args.length === 0 && event === 'presence:list' ? {} : args[0];
      const parsed = clientEventSchemas[event].safeParse(payload);
      if (!parsed.success) throw fromZod(parsed.error);
      const run = async (queued: () => void) => {
        // The socket's rooms are subscribed before any of its events runs: a client that reconnects and at once
        // fetches what it missed (`messages:fetch {after}`) then hears every message stored after that read.
        await ctx.bookkeeping.settled(socket);
        const user = await this.users.load(Number(socket.data.userId));
        if (!user || user.releasedAt)
          throw new AppError('UNAUTHORIZED', 'This account is no longer available');
        // Events queued before a revocation (or a disconnect) do not run after it.
        if (!socket.connected || ctx.revocations.revocationOf(socket))
          throw new AppError('UNAUTHORIZED', 'This session has ended; sign in again');
        return entry.handler(parsed.data as never, { user, socket, queued });
      };
      // Admission and validation above stay immediate; only the work waits its turn.
      const data = await (entry.serial ? this.inArrivalOrder(socket, run) : run(noop));
      ack?.({ ok: true, data });
    } catch (err) {
      const { status, body } = toErrorBody(err);
      if (status >= 500) ctx.logger.error({ err, event, userId: socket.data.userId }, 'socket event failed');
      if (ack) ack({ ok: false, ...body });
      else socket.emit('error', body);
    }
  }

  private inArrivalOrder<T>(socket: IoSocket, work: (queued: () => void) => Promise<T>): Promise<T> {
    let queued!: () => void;
    const turnOver = new Promise<void>((resolve) => (queued = resolve));
    const run = (this.serialTails.get(socket) ?? Promise.resolve()).then(() => work(queued));
    this.serialTails.set(socket, Promise.race([run.catch(() => undefined), turnOver]));
    return run;
  }
}
