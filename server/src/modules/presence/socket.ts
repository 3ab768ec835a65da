import { LIMITS } from '@parley/protocol';
import type { AppContext } from '../../context.js';
import { forbidden } from '../../errors.js';
import { loadVisibleRoom } from '../rooms/queries.js';
import { channel } from '../../realtime/channels.js';
import { withAck, type EventEntry } from '../../realtime/with-ack.js';
import { presentUser } from '../users/presenter.js';
import { onlinePage } from './service.js';
import type { TypingRelay } from './typing.js';

/** presence:list, presence:subscribe and typing; built once per app, the socket comes with each call. */
export function presenceEvents(ctx: AppContext, typing: TypingRelay): EventEntry[] {
  const list = withAck('presence:list', async (p, { socket }) => {
    // Asked right after connecting: the answer includes the caller.
    await ctx.bookkeeping.settled(socket);
    return onlinePage(ctx, p.limit ?? LIMITS.presencePageDefault, p.after);
  });
  const subscribe = withAck('presence:subscribe', async (p, { socket }) => {
    // Watching starts before the look-up below: a change that lands meanwhile is sent, not lost.
    const ids = ctx.presenceHub.subscribe(socket, p.userIds);
    if (!ids.length) return { online: [] };
    await ctx.bookkeeping.settled(socket);
    const online = await ctx.presence.filterOnline(ids);
    // The caller's own user is online for its own sockets, whatever the shared view says at this instant.
    return { online: ids.filter((id) => online.has(id) || id === socket.data.userId) };
  });
  const typingEvent = withAck('typing', async (p, { user, socket }) => {
    await ctx.limits.take('typing', user.id);
    // A socket listens to exactly the rooms its user belongs to, so this is the membership check, without a query.
    if (!socket.rooms.has(channel.room(p.roomId))) {
      await loadVisibleRoom(ctx, user, Number(p.roomId)); // 404 for what the user may not see
      throw forbidden('Join the room first');
    }
    typing.set(p.roomId, presentUser(user), p.isTyping);
    return {};
  });
  return [list, subscribe, typingEvent];
}
