import type { IncomingMessage } from 'node:http';
import type { HandshakeAuth } from '@parley/protocol';
import DataLoader from 'dataloader';
import type { AppContext } from '../context.js';
import { AppError, toErrorBody } from '../errors.js';
import { messageEvents } from '../modules/messages/socket.js';
import { presenceEvents } from '../modules/presence/socket.js';
import { TypingRelay } from '../modules/presence/typing.js';
import type { User } from '../db/models.js';
import { roomEvents } from '../modules/rooms/socket.js';
import { presentUser } from '../modules/users/presenter.js';
import { channel, type IoServer, type IoSocket } from './channels.js';
import { EventBudget } from './event-budget.js';
import { TokenExpiry } from './expiry.js';
import { Handshake } from './handshake.js';
import { FloodCooldown, guardSlowReaders, SocketQuota } from './socket-limits.js';
import { SocketEvents } from './with-ack.js';

/** Counters the metrics endpoint (scale-out issue) and tests read. */
export const socketStats = { unknownEvents: 0, floodDisconnects: 0 };

export { socketLimitStats } from './socket-limits.js';
export { eventBudgetStats } from './event-budget.js';

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
 * `events` takes middlewares for every handled event (metrics, shutdown).
 */
export function attachRealtime(
  io: IoServer,
  ctx: AppContext,
  addressOf: (req: IncomingMessage) => string = (req) => req.socket.remoteAddress ?? '',
): { events: SocketEvents; close(): void } {
  const typing = new TypingRelay(io);
  const cooldown = new FloodCooldown(ctx.config.socketFloodCooldownSec);
  const guard = new EventBudget(ctx, cooldown, () => socketStats.floodDisconnects++);
  const quota = new SocketQuota(ctx, addressOf);
  const handshake = new Handshake(ctx, cooldown, quota);
  const slowReaders = guardSlowReaders(io, ctx);
  const expiry = new TokenExpiry();
  const events = new SocketEvents(
    ctx,
    guard,
    [...messageEvents(ctx), ...roomEvents(ctx), ...presenceEvents(ctx, typing)],
    () => socketStats.unknownEvents++,
  );
  let closed = false;
  /**
   * `lastSeenAt` of the users going offline, written for all of them at once: a restart sends 10,000 users away
   * within seconds, and one UPDATE each made the shutdown (and the reconnect storm after it) wait behind them.
   */
  const lastSeen = new DataLoader<number, true>(
    async (ids) => {
      await ctx.models.User.update({ lastSeenAt: new Date() }, { where: { id: [...new Set(ids)] } });
      return ids.map(() => true as const);
    },
    { cache: false, maxBatchSize: 1000, batchScheduleFn: (cb) => setImmediate(cb) },
  );
  // The user the handshake just read, for the arrival's presence change: one query fewer per connect.
  const handshakeUsers = new WeakMap<IoSocket, User>();

  io.use(async (socket, next) => {
    try {
      // Cheap checks first, the database last and batched (handshake.ts).
      const actor = await handshake.authenticate(socket);
      socket.data.userId = String(actor.user.id);
      socket.data.sessionId = actor.sessionId;
      handshakeUsers.set(socket, actor.user);
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
      typing.clearUser(userId);
      // `lastSeenAt` holds a guest's name for a while; written before anyone hears the user went offline.
      await lastSeen.load(Number(userId));
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
      // The stamp is taken before the batched read is even issued, so it can only drop too much, never too little.
      const since = ctx.revocations.stamp();
      // Read with the other arrivals of this turn of the event loop: one query for a storm's worth.
      const roomIds = await handshake.roomIdsOf(userId);
      // Gone already: joining now would only leave its id behind in the adapter's rooms.
      if (socket.disconnected) return;
      const rooms = ctx.revocations.keepRooms(userId, roomIds, since);
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

  /**
   * A socket went away (one listener for every socket, called with it as `this`): its departure waits for its
   * arrival, so that a socket that goes while it is being set up is never left counted as online, and its going
   * offline never overtakes its coming online.
   */
  const leave = (socket: IoSocket) => {
    expiry.remove(socket);
    const { userId } = socket.data;
    const socketId = socket.id;
    ctx.bookkeeping.set(
      socket,
      ctx.bookkeeping.settled(socket).then(() => departed(userId, socketId)),
    );
  };
  const onDisconnect = function (this: IoSocket) {
    leave(this);
  };

  io.on('connection', (socket) => {
    // A session or account revoked during the handshake: told and closed, before it joins any channel.
    if (!ctx.revocations.admit(socket)) return;
    const { userId, sessionId } = socket.data;
    events.attach(socket);
    const auth = socket.handshake.auth as Partial<HandshakeAuth>;
    // Before any await: a logout or a room subscription that lands during setup must already find this socket.
    // A client that did not opt in to `messages:new` is marked, so that it gets one `message:new` per message.
    const channels = [channel.user(userId), channel.session(sessionId)];
    if (auth.messageBatches !== true) channels.push(channel.singles);
    socket.join(channels);
    // When the access token expires the socket is told and closed; the client refreshes and reconnects. Nothing
    // reads the token after this: it is not kept for the socket's lifetime.
    const exp = expiryOf(auth.token!);
    delete auth.token;
    if (exp) expiry.add(socket, exp);
    ctx.bookkeeping.set(socket, arrived(socket));
    socket.on('disconnect', onDisconnect);
  });

  return {
    events,
    close: () => {
      closed = true;
      slowReaders.close();
      typing.close();
      expiry.close();
    },
  };
}
