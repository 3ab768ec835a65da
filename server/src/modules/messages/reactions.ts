import { LIMITS, type Message as MessageDto, type Reaction } from '@parley/protocol';
import type { AppContext } from '../../context.js';
import type { User } from '../../db/models.js';
import { inTx } from '../../db/unit-of-work.js';
import { forbidden, invalidField, notFound } from '../../errors.js';
import { isBanned } from '../rooms/bans.js';
import { acceptsReactions, canReact } from '../rooms/policy.js';
import { presentMessages } from './presenter.js';
import { lockMessage, setReaction, summariseReactions, writeReactionSummary } from './reactions-repo.js';
import { loadVisibleMessage } from './service.js';

/*
 * Reactions (contract v2, issue 16): POST/DELETE /api/messages/:id/reactions and reaction:add/remove share this
 * service. The message_reactions table is the truth; the message's summary column, rewritten from it under the
 * message's row lock in the same transaction, is what every read shows (no extra query on the history path).
 */

const tooMany = () =>
  invalidField(
    'emoji',
    `A message takes at most ${LIMITS.reactionsPerMessageMax} different reactions: add one of those already there`,
  );

/**
 * Adds (`on`) or takes back the user's reaction `emoji` (already normalised by EmojiSchema) and answers the
 * message. Idempotent: a change that changes nothing answers the message as it is and tells nobody. Members of
 * the message's room only, not while banned from it; a message the user may not see, a deleted one and a missing
 * one are NOT_FOUND alike; a system message takes no reactions (FORBIDDEN).
 */
export async function react(
  ctx: AppContext,
  user: User,
  messageId: number,
  emoji: string,
  on: boolean,
): Promise<MessageDto> {
  const { message, room, membership } = await loadVisibleMessage(ctx, user, messageId);
  if (message.deletedAt) throw notFound('Message not found');
  // A ban ends the membership; read only for a member, in case one was left over.
  const banned = membership !== null && (await isBanned(ctx, room.id, user.id));
  if (!canReact(membership, banned)) throw forbidden('Join the room to react to its messages');
  if (!acceptsReactions(message)) throw forbidden('System messages take no reactions');
  return inTx(ctx, async (t, after) => {
    // The row's lock orders this after a delete that committed since it was read (which then wins: nothing is
    // brought back), and makes the 20-emoji check and the summary's rewrite one step for concurrent reactions.
    const locked = await lockMessage(ctx.db, t, message.id);
    if (!locked || locked.deletedAt) throw notFound('Message not found');
    const current: Reaction[] = locked.reactions ? JSON.parse(locked.reactions) : [];
    if (on && current.length >= LIMITS.reactionsPerMessageMax && !current.some((r) => r.emoji === emoji))
      throw tooMany();
    const changed = await setReaction(ctx.db, t, { messageId: message.id, userId: user.id, emoji }, on);
    if (changed) {
      await writeReactionSummary(ctx.db, t, message.id, await summariseReactions(ctx.db, t, message.id));
      // After the row's lock: the room hears this in the order the message's changes committed (E1, R4).
      ctx.messages.log.changes(t, room.id);
    }
    const [dto] = await presentMessages(ctx, [message], t);
    if (changed) after(() => ctx.rt.toRoom(room.id, 'message:updated', dto!));
    return dto!;
  });
}
