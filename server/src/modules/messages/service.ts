import { LIMITS, type Message as MessageDto, type MessagePage } from '@parley/protocol';
import { Op, UniqueConstraintError, type WhereOptions } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Message, User } from '../../db/models.js';
import { inTx } from '../../db/unit-of-work.js';
import { AppError, forbidden, notFound } from '../../errors.js';
import { sid } from '../../http/present.js';
import { findMembership } from '../rooms/membership.js';
import { canDeleteMessage, canEditMessage, canPost } from '../rooms/policy.js';
import { loadVisibleRoom, unreadCounts } from '../rooms/queries.js';
import { presentAttachment } from '../uploads/presenter.js';
import { presentMessage, presentMessages } from './presenter.js';
import { appendMessage } from './store.js';

export interface HistoryQuery {
  before?: string;
  after?: string;
  limit?: number;
}

/**
 * A page of a room's history, oldest first. Keyset paging on `(roomId, id)`: `before` walks back from a message,
 * `after` forward from one (catch-up), neither gives the newest page. Cost does not grow with the room's size.
 */
export async function history(
  ctx: AppContext,
  user: User,
  roomId: number,
  q: HistoryQuery,
): Promise<MessagePage> {
  const { room } = await loadVisibleRoom(ctx, user, roomId);
  const limit = q.limit ?? LIMITS.historyDefault;
  const idRange: Record<symbol, number> = {};
  if (q.before !== undefined) idRange[Op.lt] = Number(q.before);
  if (q.after !== undefined) idRange[Op.gt] = Number(q.after);
  const where: WhereOptions<Message> = { roomId: room.id };
  if (q.before !== undefined || q.after !== undefined) Object.assign(where, { id: idRange });
  // Forward from `after`; otherwise backward from the newest (or from `before`).
  const forward = q.after !== undefined;
  const rows = await ctx.models.Message.findAll({
    where,
    order: [['id', forward ? 'ASC' : 'DESC']],
    limit: limit + 1,
  });
  const hasMore = rows.length > limit;
  const page = rows.slice(0, limit);
  if (!forward) page.reverse();
  return { messages: await presentMessages(ctx, page), hasMore };
}

export interface SendInput {
  text?: string;
  attachmentId?: string;
  clientId?: string;
}

/**
 * Stores a message and, after commit, broadcasts it to the room. Idempotent by (author, clientId): a resend
 * returns the stored message and broadcasts nothing.
 */
export async function send(
  ctx: AppContext,
  user: User,
  roomId: number,
  input: SendInput,
): Promise<{ message: MessageDto; replayed: boolean }> {
  if (input.clientId) {
    const earlier = await replayOf(ctx, user, roomId, input.clientId);
    if (earlier) return earlier;
  }
  const { room, membership } = await loadVisibleRoom(ctx, user, roomId);
  if (!canPost(room, membership)) throw forbidden('Join the room before posting');
  const limited = await ctx.limits.take(
    `msg:${user.id}`,
    ctx.config.messageBurst,
    ctx.config.messageRatePerSec,
  );
  if (!limited.ok) {
    throw new AppError('RATE_LIMITED', 'You are sending messages too fast', undefined, limited.retryAfterSec);
  }
  try {
    return await inTx(ctx, async (t, after) => {
      let attachment = null;
      if (input.attachmentId) {
        attachment = await ctx.models.Attachment.findByPk(input.attachmentId, { transaction: t });
        const expired = attachment && (attachment.expiredAt || attachment.expiresAt.getTime() <= Date.now());
        if (!attachment || attachment.ownerId !== user.id || expired) throw notFound('Upload not found');
        if (attachment.messageId !== null)
          throw new AppError('CONFLICT', 'That upload is already attached to a message');
      }
      const message = await appendMessage(ctx, t, room, {
        authorId: user.id,
        kind: attachment ? 'image' : 'text',
        text: input.text ?? '',
        clientId: input.clientId ?? null,
        attachmentId: attachment?.id ?? null,
      });
      if (attachment) {
        // Claimed with a condition, so two sends racing for one upload cannot both attach it (PostgreSQL runs
        // them concurrently; the check above only catches the common case early).
        const [claimed] = await ctx.models.Attachment.update(
          { messageId: message.id, roomId: room.id },
          { where: { id: attachment.id, messageId: null }, transaction: t },
        );
        if (claimed !== 1) throw new AppError('CONFLICT', 'That upload is already attached to a message');
        attachment.messageId = message.id;
        attachment.roomId = room.id;
      }
      // What you write yourself is read.
      await ctx.models.Membership.update(
        { lastReadMessageId: message.id },
        { where: { roomId: room.id, userId: user.id }, transaction: t },
      );
      const dto = presentMessage(
        message,
        user,
        attachment && presentAttachment(attachment, ctx.uploads.urls),
      );
      after(() => ctx.rt.toRoom(room.id, 'message:new', dto));
      return { message: dto, replayed: false };
    });
  } catch (err) {
    // Two copies of one send raced; the other one won and was broadcast.
    if (err instanceof UniqueConstraintError && input.clientId) {
      const earlier = await replayOf(ctx, user, roomId, input.clientId);
      if (earlier) return earlier;
    }
    throw err;
  }
}

async function replayOf(ctx: AppContext, user: User, roomId: number, clientId: string) {
  const earlier = await ctx.models.Message.findOne({ where: { authorId: user.id, clientId } });
  if (!earlier) return null;
  if (Number(earlier.roomId) !== roomId) {
    throw new AppError('CONFLICT', 'That clientId was already used for a message in another room');
  }
  const [dto] = await presentMessages(ctx, [earlier]);
  return { message: dto!, replayed: true };
}

/** A message the user may see, with its room and their membership there. */
async function loadVisibleMessage(ctx: AppContext, user: User, messageId: number) {
  const message = await ctx.models.Message.findByPk(messageId);
  if (!message) throw notFound('Message not found');
  const { room, membership } = await loadVisibleRoom(ctx, user, Number(message.roomId)).catch(() => {
    throw notFound('Message not found');
  });
  return { message, room, membership };
}

/** PATCH /api/messages/:id: the author edits. */
export async function edit(
  ctx: AppContext,
  user: User,
  messageId: number,
  text: string,
): Promise<MessageDto> {
  const { message, room } = await loadVisibleMessage(ctx, user, messageId);
  if (message.deletedAt) throw notFound('Message not found');
  if (!canEditMessage(message, user)) throw forbidden('Only the author may edit a message');
  return inTx(ctx, async (t, after) => {
    await message.update({ text, editedAt: new Date() }, { transaction: t });
    const [dto] = await presentMessages(ctx, [message], t);
    after(() => ctx.rt.toRoom(room.id, 'message:updated', dto!));
    return dto!;
  });
}

/** DELETE /api/messages/:id: the author or the room's owner. Deleting twice is not an error. */
export async function remove(ctx: AppContext, user: User, messageId: number): Promise<void> {
  const { message, room } = await loadVisibleMessage(ctx, user, messageId);
  if (!canDeleteMessage(message, room, user))
    throw forbidden('Only the author or the room owner may delete it');
  if (message.deletedAt) return;
  await inTx(ctx, async (t, after) => {
    await message.update({ deletedAt: new Date(), text: '' }, { transaction: t });
    after(() => ctx.rt.toRoom(room.id, 'message:deleted', { id: sid(message.id), roomId: sid(room.id) }));
  });
}

/** Moves the member's read marker forward (never back) and answers the room's unread count. */
export async function markRead(
  ctx: AppContext,
  user: User,
  roomId: number,
  messageId: number,
): Promise<number> {
  const { room } = await loadVisibleRoom(ctx, user, roomId);
  const membership = await findMembership(ctx, room.id, user.id);
  if (!membership) throw forbidden('Join the room first');
  const target = Math.min(messageId, Number(room.lastMessageId ?? 0));
  if (target > Number(membership.lastReadMessageId)) {
    await inTx(ctx, (t) =>
      ctx.models.Membership.update(
        { lastReadMessageId: target },
        {
          where: { roomId: room.id, userId: user.id, lastReadMessageId: { [Op.lt]: target } },
          transaction: t,
        },
      ),
    );
  }
  return (await unreadCounts(ctx, user.id, [room.id])).get(room.id) ?? 0;
}
