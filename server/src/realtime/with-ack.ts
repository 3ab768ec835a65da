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

/** Per-socket hooks the connection layer gives every handler (flood control, accounting). */
export interface EventGuard {
  /** Throws RATE_LIMITED (and may disconnect a socket that keeps flooding). */
  admit(socket: IoSocket): void;
  onError(socket: IoSocket, err: unknown): void;
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
): void {
  const schema = clientEventSchemas[event];
  socket.on(
    event as never,
    (async (...args: unknown[]) => {
      const ack =
        typeof args[args.length - 1] === 'function' ? (args.pop() as (r: Ack<unknown>) => void) : undefined;
      try {
        guard.admit(socket);
        const parsed = schema.safeParse(args[0] ?? (event === 'presence:list' ? {} : undefined));
        if (!parsed.success) throw fromZod(parsed.error);
        const user = await ctx.models.User.findByPk(Number(socket.data.userId));
        if (!user || user.releasedAt)
          throw new AppError('UNAUTHORIZED', 'This account is no longer available');
        const data = await handler(parsed.data as ClientPayload<E>, { user, socket });
        ack?.({ ok: true, data });
      } catch (err) {
        guard.onError(socket, err);
        const { status, body } = toErrorBody(err);
        if (status >= 500)
          ctx.logger.error({ err, event, userId: socket.data.userId }, 'socket event failed');
        if (ack) ack({ ok: false, ...body });
        else socket.emit('error', body);
      }
    }) as never,
  );
}
