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

/** Per socket: the tail of its serial events. */
const serialTails = new WeakMap<IoSocket, Promise<unknown>>();

function inArrivalOrder<T>(socket: IoSocket, work: () => Promise<T>): Promise<T> {
  const run = (serialTails.get(socket) ?? Promise.resolve()).then(work);
  serialTails.set(
    socket,
    run.catch(() => undefined),
  );
  return run;
}

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
  const schema = clientEventSchemas[event];
  socket.on(
    event as never,
    (async (...args: unknown[]) => {
      const ack =
        typeof args[args.length - 1] === 'function' ? (args.pop() as (r: Ack<unknown>) => void) : undefined;
      try {
        guard.admit(socket);
        // Only a missing payload stands for `{}` (presence:list has no fields); `null` is a wrong type like any other.
        const payload = args.length === 0 && event === 'presence:list' ? {} : args[0];
        const parsed = schema.safeParse(payload);
        if (!parsed.success) throw fromZod(parsed.error);
        const run = async () => {
          const user = await ctx.models.User.findByPk(Number(socket.data.userId));
          if (!user || user.releasedAt)
            throw new AppError('UNAUTHORIZED', 'This account is no longer available');
          return handler(parsed.data as ClientPayload<E>, { user, socket });
        };
        // Admission and validation above stay immediate; only the work waits its turn.
        const data = await (opts.serial ? inArrivalOrder(socket, run) : run());
        ack?.({ ok: true, data });
      } catch (err) {
        const { status, body } = toErrorBody(err);
        if (status >= 500)
          ctx.logger.error({ err, event, userId: socket.data.userId }, 'socket event failed');
        if (ack) ack({ ok: false, ...body });
        else socket.emit('error', body);
      }
    }) as never,
  );
}
