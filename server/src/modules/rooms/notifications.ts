import type { NotificationLevel, Room as RoomDto } from '@parley/protocol';
import type { AppContext } from '../../context.js';
import type { User } from '../../db/models.js';
import { inTx } from '../../db/unit-of-work.js';
import { forbidden } from '../../errors.js';
import { loadVisibleRoom, presentRoomsFor } from './queries.js';

/**
 * PUT /api/chatrooms/:id/notifications: the caller's notification level for a room, kept on their membership.
 * Members only (DMs included): a room the caller cannot see is 404, a visible one they are not in is 403, as for
 * posting. Nothing is broadcast: the level is the caller's alone, and their other tabs read it with the room list.
 */
export async function setNotifications(
  ctx: AppContext,
  user: User,
  roomId: number,
  level: NotificationLevel,
): Promise<RoomDto> {
  const { room, membership } = await loadVisibleRoom(ctx, user, roomId);
  if (!membership) throw forbidden('Join the room first');
  if (membership.notifications !== level) {
    await inTx(ctx, (t) =>
      ctx.models.Membership.update(
        { notifications: level },
        { where: { roomId: room.id, userId: user.id }, transaction: t },
      ),
    );
  }
  return (await presentRoomsFor(ctx, user, [room]))[0]!;
}
