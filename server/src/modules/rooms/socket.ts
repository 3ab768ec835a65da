import type { AppContext } from '../../context.js';
import { AppError, notFound } from '../../errors.js';
import { channel } from '../../realtime/channels.js';
import { withAck, type EventEntry } from '../../realtime/with-ack.js';
import { history } from '../messages/service.js';
import { onlineMembers } from '../presence/service.js';
import { canSelfJoin } from './policy.js';
import { loadVisibleRoom, presentRoomsFor } from './queries.js';
import { joinRoomAs, removeMember } from './service.js';

/** room:join and room:leave; built once per app, the socket comes with each call. */
export function roomEvents(ctx: AppContext): EventEntry[] {
  const join = withAck('room:join', async (p, { user, socket }) => {
    const since = ctx.revocations.stamp();
    const { room, membership } = await loadVisibleRoom(ctx, user, Number(p.roomId));
    if (!membership) {
      if (!canSelfJoin(room)) throw notFound('Room not found');
      // Only a real join is a membership change: clients send room:join for rooms they are in when they open one.
      await ctx.limits.take('membership', user.id);
      await joinRoomAs(ctx, room, user);
    }
    // Already a member: make sure this socket listens (it may have connected before the membership began).
    // Unless the user was removed (or the room deleted) meanwhile: then the removal is the answer.
    if (!ctx.revocations.keepRooms(user.id, [room.id], since)?.length || socket.disconnected)
      throw new AppError('CONFLICT', 'Your membership of this room changed while joining it; try again');
    socket.join(channel.room(room.id));
    // Asked right after connecting: `online` includes the caller.
    await ctx.bookkeeping.settled(socket);
    const [dto, page, online] = await Promise.all([
      presentRoomsFor(ctx, user, [room]).then((r) => r[0]!),
      history(ctx, user, room.id, {}),
      onlineMembers(ctx, room.id),
    ]);
    return { room: dto, messages: page.messages, online };
  });
  const leave = withAck('room:leave', async (p, { user }) => {
    await ctx.limits.take('membership', user.id);
    await removeMember(ctx, user, Number(p.roomId), user.id);
    return {};
  });
  return [join, leave];
}
