import type { IncomingMessage } from 'node:http';
import { clientEventSchemas } from '@parley/protocol';
import type { AppContext } from '../context.js';
import { AppError, toErrorBody } from '../errors.js';
import { authenticateToken } from '../modules/auth/authenticate.js';
import { registerMessageEvents } from '../modules/messages/socket.js';
import { registerPresenceEvents } from '../modules/presence/socket.js';
import { TypingRelay } from '../modules/presence/typing.js';
import type { User } from '../db/models.js';
import { registerRoomEvents } from '../modules/rooms/socket.js';
import { presentUser } from '../modules/users/presenter.js';
import { setBookkeeping } from './bookkeeping.js';
import { channel, type IoServer, type IoSocket } from './channels.js';
import { TokenExpiry } from './expiry.js';
import { FloodCooldown, guardSlowReaders, SocketQuota } from './socket-limits.js';
import type { EventGuard } from './with-ack.js';

/** Events per socket: a burst of this many, refilled at EVENT_RATE per second. */
const EVENT_BURST = 60;
const EVENT_RATE = 30;
/**
 * A socket whose events this bucket refused this many times within STRIKE_WINDOW_MS is disconnected: it is
 * flooding, not chatting. A client flushing 100 queued messages at once is refused ~40 times and stays; one that
 * keeps going (hundreds of events, or a steady 60/s) is cut off within seconds. Refusals by the per-user message
 * limit (MESSAGE_RATE_PER_SEC) are not strikes: they are answered RATE_LIMITED and cost the socket nothing more.
 */
const MAX_STRIKES = 60;
const STRIKE_WINDOW_MS = 10_000;

const KNOWN_EVENTS = new Set(Object.keys(clientEventSchemas));

/** Counters the metrics endpoint (scale-out issue) and tests read. */
export const socketStats = { unknownEvents: 0, floodDisconnects: 0 };

export { socketSettled } from './bookkeeping.js';
export { socketLimitStats } from './socket-limits.js';

/** Token bucket and strike count per socket; kept on the socket object, so it dies with it. */
function createGuard(ctx: AppContext, cooldown: FloodCooldown): EventGuard {
  const state = new WeakMap<IoSocket, { tokens: number; at: number; strikes: number[] }>();
  const strike = (socket: IoSocket) => {
    const s = state.get(socket)!;
    const now = Date.now();
    s.strikes = s.strikes.filter((t) => t > now - STRIKE_WINDOW_MS);
    s.strikes.push(now);
    if (s.strikes.length >= MAX_STRIKES && socket.connected) {
      socketStats.floodDisconnects++;
      cooldown.start(socket.data.userId);
      ctx.logger.warn({ userId: socket.data.userId }, 'socket disconnected for flooding');
      socket.emit('error', { error: { code: 'RATE_LIMITED', message: 'Too many events; disconnected' } });
      socket.disconnect(true);
    }
  };
  return {
    admit(socket) {
      const now = Date.now();
      let s = state.get(socket);
      if (!s) state.set(socket, (s = { tokens: EVENT_BURST, at: now, strikes: [] }));
      s.tokens = Math.min(EVENT_BURST, s.tokens + ((now - s.at) / 1000) * EVENT_RATE);
      s.at = now;
      if (s.tokens < 1) {
        strike(socket);
        throw new AppError('RATE_LIMITED', 'Too many events; slow down', undefined, 1);
      }
      s.tokens -= 1;
    },
  };
}

/**
 * The `exp` claim of a token that was just verified. Read directly: `jwt.decode` parses the header too and costs
 * ~50 us per handshake, for a field whose signature was already checked.
 */
function expiryOf(token: string): number | undefined {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
    exp?: unknown;
  };
  return typeof payload.exp === 'number' ? payload.exp : undefined;
}

/** A refused handshake: `connect_error` with the code as its message and the contract's error body as data. */
function handshakeError(err: unknown): Error & { data?: unknown } {
  if (err instanceof AppError && err.code === 'RATE_LIMITED')
    return Object.assign(new Error(err.code), { data: toErrorBody(err).body });
  return new Error(
    err instanceof AppError && err.code === 'TOKEN_EXPIRED' ? 'TOKEN_EXPIRED' : 'UNAUTHORIZED',
  );
}

/**
 * Handshake authentication, subscriptions, presence and the event handlers. A socket joins its user's and
 * session's channels and every room the user belongs to, so broadcasts reach all of a user's tabs.
 * `addressOf` gives a handshake's client address as REST sees it (TRUST_PROXY), for the per-address socket limit.
 */
export function attachRealtime(
  io: IoServer,
  ctx: AppContext,
  addressOf: (req: IncomingMessage) => string = (req) => req.socket.remoteAddress ?? '',
): { close(): void } {
  const typing = new TypingRelay(io);
  const cooldown = new FloodCooldown(ctx.config.socketFloodCooldownSec);
  const guard = createGuard(ctx, cooldown);
  const quota = new SocketQuota(ctx, addressOf);
  const slowReaders = guardSlowReaders(io, ctx);
  const expiry = new TokenExpiry();
  let closed = false;
  // The user the handshake just read, for the arrival's presence change: one query fewer per connect.
  const handshakeUsers = new WeakMap<IoSocket, User>();

  io.use(async (socket, next) => {
    try {
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || !token) throw new AppError('UNAUTHORIZED', 'No access token');
      const actor = await authenticateToken(ctx, token);
      socket.data.userId = String(actor.user.id);
      socket.data.sessionId = actor.sessionId;
      handshakeUsers.set(socket, actor.user);
      cooldown.check(socket.data.userId);
      quota.take(socket, socket.data.userId);
      next();
    } catch (err) {
      next(handshakeError(err));
    }
  });

  /** A socket went away: when it was the user's last, the user is offline (their typing indicators end). */
  async function departed(userId: string, socketId: string): Promise<void> {
    try {
      if (!(await ctx.presence.remove(userId, socketId))) return;
      // Shutting down: every socket is being closed and the database is about to be; nobody is left to tell.
      if (closed) return;
      const user = await ctx.models.User.findByPk(Number(userId));
      if (user) {
        typing.clearUser(presentUser(user));
        await user.update({ lastSeenAt: new Date() });
      }
      ctx.presenceHub.changed({ offline: [{ userId }] });
    } catch (err) {
      ctx.logger.error({ err }, 'disconnect bookkeeping failed');
    }
  }

  /** Subscribes the socket to the user's rooms and counts it in presence. Never rejects. */
  async function arrived(socket: IoSocket): Promise<void> {
    const { userId } = socket.data;
    try {
      // Removals from rooms applied while the memberships are read are dropped from what was read (revocations.ts).
      const since = ctx.revocations.stamp();
      // A plain read (no model instances): what every connect allocates while it waits stays in the heap.
      const memberships = await ctx.db.read<{ roomId: number }>(
        'SELECT "roomId" FROM memberships WHERE "userId" = $userId',
        { userId: Number(userId) },
      );
      // Gone already: joining now would only leave its id behind in the adapter's rooms.
      if (socket.disconnected) return;
      const rooms = ctx.revocations.keepRooms(
        userId,
        memberships.map((m) => m.roomId),
        since,
      );
      if (!rooms) throw new Error('room subscriptions could not be checked against revocations');
      socket.join(rooms.map(channel.room));
      const user = handshakeUsers.get(socket) ?? (await ctx.models.User.findByPk(Number(userId)));
      handshakeUsers.delete(socket);
      if (!user) throw new Error('the user of a connected socket is gone');
      if (await ctx.presence.add(userId, socket.id, user.usernameKey)) {
        ctx.presenceHub.changed({ online: [presentUser(user)] });
      }
    } catch (err) {
      ctx.logger.error({ err }, 'socket setup failed');
      socket.disconnect(true);
    }
  }

  /** One for every socket (Socket.IO calls it with the socket as `this`), not a closure per socket. */
  function unknownEvent(this: IoSocket, event: string): void {
    if (KNOWN_EVENTS.has(event)) return;
    // Ignored, but counted, and paid for from the same bucket: a flood of made-up events is still a flood.
    socketStats.unknownEvents++;
    try {
      guard.admit(this);
    } catch {
      // Refused: the strike is counted; there is nothing to answer.
    }
  }

  io.on('connection', (socket) => {
    // A session or account revoked during the handshake: told and closed, before it joins any channel.
    if (!ctx.revocations.admit(socket)) return;
    const { userId, sessionId } = socket.data;
    registerMessageEvents(ctx, socket, guard);
    registerRoomEvents(ctx, socket, guard);
    registerPresenceEvents(ctx, socket, guard, typing);
    socket.onAny(unknownEvent);
    // Before any await: a logout or a room subscription that lands during setup must already find this socket.
    socket.join([channel.user(userId), channel.session(sessionId)]);
    // When the access token expires the socket is told and closed; the client refreshes and reconnects.
    const exp = expiryOf((socket.handshake.auth as { token: string }).token);
    if (exp) expiry.add(socket, exp);
    const setup = arrived(socket);
    setBookkeeping(socket, setup);
    // The departure waits for the arrival, so that a socket that goes while it is being set up is never left
    // counted as online, and its going offline never overtakes its coming online.
    socket.on('disconnect', () => {
      if (exp) expiry.remove(socket, exp);
      setBookkeeping(
        socket,
        setup.then(() => departed(userId, socket.id)),
      );
    });
  });

  return {
    close: () => {
      closed = true;
      slowReaders.close();
      typing.close();
      expiry.close();
    },
  };
}
