import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import { authenticateToken } from '../modules/auth/authenticate.js';
import { presentUser } from '../modules/users/presenter.js';
import { channel, type IoServer } from './channels.js';

/**
 * Handshake authentication and per-socket subscriptions: the socket joins its user's and session's channels and
 * every room the user belongs to, so broadcasts reach all of a user's tabs.
 */
export function attachConnectionHandling(io: IoServer, ctx: AppContext): void {
  io.use(async (socket, next) => {
    try {
      const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
      if (typeof token !== 'string' || !token) throw new AppError('UNAUTHORIZED', 'No access token');
      const actor = await authenticateToken(ctx, token);
      socket.data.userId = String(actor.user.id);
      socket.data.sessionId = actor.sessionId;
      next();
    } catch (err) {
      const code = err instanceof AppError && err.code === 'TOKEN_EXPIRED' ? 'TOKEN_EXPIRED' : 'UNAUTHORIZED';
      next(new Error(code));
    }
  });

  io.on('connection', async (socket) => {
    const { userId, sessionId } = socket.data;
    const memberships = await ctx.models.Membership.findAll({
      where: { userId: Number(userId) },
      attributes: ['roomId'],
    });
    socket.join([
      channel.user(userId),
      channel.session(sessionId),
      ...memberships.map((m) => channel.room(m.roomId)),
    ]);
    if (await ctx.presence.add(userId, socket.id)) {
      const user = await ctx.models.User.findByPk(Number(userId));
      if (user) io.emit('presence:online', { user: presentUser(user), at: new Date().toISOString() });
    }
    socket.on('disconnect', async () => {
      if (await ctx.presence.remove(userId, socket.id)) {
        await ctx.models.User.update({ lastSeenAt: new Date() }, { where: { id: Number(userId) } }).catch(
          () => undefined,
        );
        io.emit('presence:offline', { userId, at: new Date().toISOString() });
      }
    });
  });
}
