import { LIMITS, type Message as MessageDto, type MessagePage } from '@parley/protocol';
import { Op, type Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Message, User } from '../../db/models.js';
import { inTx, type After } from '../../db/unit-of-work.js';
import { forbidden, notFound } from '../../errors.js';
import { sid } from '../../http/present.js';
import { isBanned } from '../rooms/bans.js';
import { findMembership } from '../rooms/membership.js';
import { canDeleteMessage, canEditMessage } from '../rooms/policy.js';
import { discardAttachments } from '../uploads/service.js';
import { loadVisibleRoom, unreadCounts } from '../rooms/queries.js';
import { presentMessages, presentRecord } from './presenter.js';
import { liveReplyIds, readHistoryPage } from './repo.js';
import { deleteAllReactions } from './reactions-repo.js';
import { encodeMentions, resolveMentions } from './mentions.js';
import type { SendInput, SendResult } from './writer.js';

export interface HistoryQuery {
  before?: string;
  after?: string;
  around?: string;
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
  const limit = q.limit ?? LIMITS.historyDefault;
  if (q.around !== undefined) return historyAround(ctx, user, roomId, q.around, limit);
  const page = await readHistoryPage(ctx.db, {
    roomId,
    userId: user.id,
    ...(q.before !== undefined && { before: Number(q.before) }),
    ...(q.after !== undefined && { after: Number(q.after) }),
    take: limit + 1,
  });
  if (!page.visible) throw notFound('Room not found');
  const hasMore = page.rows.length > limit;
  const rows = page.rows.slice(0, limit);
  // Forward from `after`; otherwise backward from the newest (or from `before`), read newest first.
  if (q.after === undefined) rows.reverse();
  return { messages: rows.map((r) => presentRecord(r, ctx.uploads.urls)), hasMore };
}

/**
 * The page centred on a message (a search result, a reply): the message and the older half of the page before it,
 * then the newer half, as two keyset pages. `hasMoreBefore`/`hasMoreAfter` say where the client can load more;
 * `hasMore` is `hasMoreBefore`, what it means on a backward page. The id is a position: a message of another room
 * (or none) gives the page where it would be, which tells nothing about it.
 */
async function historyAround(
  ctx: AppContext,
  user: User,
  roomId: number,
  around: string,
  limit: number,
): Promise<MessagePage> {
  const newer = Math.floor(limit / 2);
  // Both halves at once: each is one indexed read, and each checks the room's visibility itself.
  const [older, after] = await Promise.all([
    history(ctx, user, roomId, { before: String(Number(around) + 1), limit: limit - newer }),
    history(ctx, user, roomId, { after: around, limit: newer }),
  ]);
  return {
    messages: [...older.messages, ...after.messages],
    hasMore: older.hasMore,
    hasMoreBefore: older.hasMore,
    hasMoreAfter: after.hasMore,
  };
}

export { type SendInput, type SendResult } from './writer.js';

/**
 * Stores a message and, after commit, broadcasts it to the room (group commit: see writer.ts). Idempotent by
 * (author, clientId): a resend returns the stored message and broadcasts nothing.
 */
export function send(
  ctx: AppContext,
  user: User,
  roomId: number,
  input: SendInput,
  onQueued?: () => void,
): Promise<SendResult> {
  return ctx.messages.writer.send(user, roomId, input, onQueued);
}

/** A message the user may see, with its room and their membership there (NOT_FOUND alike for both). */
export async function loadVisibleMessage(ctx: AppContext, user: User, messageId: number) {
  const message = await ctx.models.Message.findByPk(messageId);
  if (!message) throw notFound('Message not found');
  const { room, membership } = await loadVisibleRoom(ctx, user, Number(message.roomId)).catch(() => {
    throw notFound('Message not found');
  });
  return { message, room, membership };
}

/** A refusal that tells a banned author why, and anyone else what the rule is. */
const refusal = (banned: boolean, message: Message, user: User, rule: string) =>
  forbidden(
    banned && message.authorId === user.id
      ? 'The owner removed you from this room: your messages there are no longer yours to change'
      : rule,
  );

/** PATCH /api/messages/:id: the author edits, unless banned from the room. */
export async function edit(
  ctx: AppContext,
  user: User,
  messageId: number,
  text: string,
): Promise<MessageDto> {
  const { message, room } = await loadVisibleMessage(ctx, user, messageId);
  if (message.deletedAt) throw notFound('Message not found');
  // An edit that read no ban just before a kick committed is an edit made before that kick (which reads no
  // message): nothing is gained by reading it in the write transaction.
  const banned = await isBanned(ctx, room.id, user.id);
  if (!canEditMessage(message, user, banned))
    throw refusal(banned, message, user, 'Only the author may edit a message');
  return inTx(ctx, async (t, after) => {
    // Mentions follow the new text: a name added is mentioned, one removed no longer is.
    const [mentions] = await resolveMentions(ctx, t, [
      { roomId: room.id, authorId: message.authorId, ownerId: room.ownerId, text },
    ]);
    const change = { text, editedAt: new Date(), mentions: encodeMentions(mentions!) };
    // Text and mentions are written together (an edit that raced this one may have changed either since this
    // instance was read: SECURITY.md M4), and only while the message is not deleted: a delete that committed since
    // it was read wins, and its text stays gone (E1).
    const [updated] = await ctx.models.Message.update(change, {
      where: { id: message.id, deletedAt: null },
      transaction: t,
    });
    if (updated !== 1) throw notFound('Message not found');
    // The row is held until commit: the room's turn taken now orders this broadcast after every earlier write's.
    ctx.messages.log.changes(t, room.id);
    message.set(change);
    const [dto] = await presentMessages(ctx, [message], t);
    after(() => ctx.rt.toRoom(room.id, 'message:updated', dto!));
    await retellReplies(ctx, t, after, room.id, message.id);
    return dto!;
  });
}

/**
 * How many of a message's replies hear that their quote changed: the newest (those a client most likely shows).
 * Older ones show the new quote when read again; it bounds what one edit can make the server send.
 */
const QUOTES_RETOLD_MAX = 100;

/**
 * After an edit or a delete of a message, its live replies are told again (message:updated), after the message's
 * own event and in the same turn: their quote is its current text, or none once it is deleted.
 */
async function retellReplies(
  ctx: AppContext,
  t: Transaction,
  after: After,
  roomId: number,
  messageId: number,
) {
  const ids = await liveReplyIds(ctx.db, t, messageId, QUOTES_RETOLD_MAX);
  if (!ids.length) return;
  const replies = await presentMessages(
    ctx,
    ids.map((id) => ({ id })),
    t,
  );
  after(() => {
    for (const r of replies) ctx.rt.toRoom(roomId, 'message:updated', r);
  });
}

/**
 * DELETE /api/messages/:id: the author (unless banned from the room) or the room's owner. Deleting twice is not
 * an error.
 */
export async function remove(ctx: AppContext, user: User, messageId: number): Promise<void> {
  const { message, room } = await loadVisibleMessage(ctx, user, messageId);
  const banned = await isBanned(ctx, room.id, user.id);
  if (!canDeleteMessage(message, room, user, banned))
    throw refusal(banned, message, user, 'Only the author or the room owner may delete it');
  if (message.deletedAt) return;
  await inTx(ctx, async (t, after) => {
    const [updated] = await ctx.models.Message.update(
      { deletedAt: new Date(), text: '', reactions: '' },
      { where: { id: message.id, deletedAt: null }, transaction: t },
    );
    // Deleted meanwhile by another request: that one tells the room.
    if (updated !== 1) return;
    // Its reactions go with its content (after the row's lock: a reaction change waits, then finds it deleted).
    await deleteAllReactions(ctx.db, t, message.id);
    // After the row's lock: an edit that committed before this is broadcast before this delete (E1).
    ctx.messages.log.changes(t, room.id);
    // Its image goes with it, at once: row marked (every node refuses the URL) and files unlinked (T4).
    if (message.attachmentId)
      await discardAttachments(ctx, t, after, { id: message.attachmentId, messageId: message.id });
    after(() => ctx.rt.toRoom(room.id, 'message:deleted', { id: sid(message.id), roomId: sid(room.id) }));
    await retellReplies(ctx, t, after, room.id, message.id);
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
