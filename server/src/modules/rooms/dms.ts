import type { Room as RoomDto } from '@parley/protocol';
import { UniqueConstraintError } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Room, User } from '../../db/models.js';
import { inTx } from '../../db/unit-of-work.js';
import { notFound } from '../../errors.js';
import { addMembership } from './membership.js';
import { presentRoom } from './presenter.js';
import { presentRoomsFor } from './queries.js';

/** The same pair of users always maps to the same key, whoever opens the conversation. */
const directKeyOf = (a: number, b: number) => (a < b ? `${a}:${b}` : `${b}:${a}`);

/** POST /api/dms: finds or creates the direct room with `peerId` (a note-to-self when it is the caller). */
export async function openDm(ctx: AppContext, user: User, peerId: number): Promise<RoomDto> {
  const peer = peerId === user.id ? user : await ctx.models.User.findByPk(peerId);
  if (!peer || peer.releasedAt) throw notFound('User not found');
  const directKey = directKeyOf(user.id, peer.id);
  let room = await ctx.models.Room.findOne({ where: { directKey } });
  if (!room) {
    try {
      room = await inTx(ctx, async (t, after) => {
        const created = await ctx.models.Room.create(
          {
            name: 'direct',
            nameKey: null,
            description: '',
            kind: 'direct',
            ownerId: null,
            directKey,
            memberCount: 0,
            lastMessageId: null,
            lastMessageAt: null,
          },
          { transaction: t },
        );
        for (const member of peer.id === user.id ? [user] : [user, peer]) {
          await addMembership(ctx, t, after, created, member, { role: 'member', silent: true });
        }
        after(() => announceDm(ctx, created, user, peer));
        return created;
      });
    } catch (err) {
      // Both users opened it at the same moment: the other request created it.
      if (!(err instanceof UniqueConstraintError)) throw err;
      room = await ctx.models.Room.findOne({ where: { directKey } });
      if (!room) throw err;
    }
  }
  return (await presentRoomsFor(ctx, user, [room]))[0]!;
}

function announceDm(ctx: AppContext, room: Room, a: User, b: User): void {
  ctx.rt.toUsers([a.id], 'room:created', presentRoom(room, { isMember: true, unreadCount: 0, peer: b }));
  if (a.id !== b.id)
    ctx.rt.toUsers([b.id], 'room:created', presentRoom(room, { isMember: true, unreadCount: 0, peer: a }));
}
