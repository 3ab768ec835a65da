import type { Message } from '@parley/protocol';
import { describeError } from '../../api/errors';
import { chatStore, setNotice, updateTimeline } from '../../store/chat';
import { emitAck } from '../../socket/connection';
import { myId } from '../auth/me';
import { rememberEmoji } from '../emoji/recent';
import { canAddReaction, reactionEmoji, toggleReaction } from './reactionLogic';

function patchReactions(roomId: string, id: string, fn: (m: Message) => Message): void {
  const t = chatStore.get().timelines[roomId];
  if (!t?.messages.some((m) => m.id === id)) return;
  updateTimeline(roomId, (x) => ({ messages: x.messages.map((m) => (m.id === id ? fn(m) : m)) }));
}

/**
 * Adds (`on`) or takes back our `emoji` on a message. Shown at once; the ack's message then replaces it (the
 * server's copy is the truth, with everyone else's reactions in it). Refused: our change is undone on whatever
 * the message holds by then, and the server's reason is shown.
 */
export async function setReaction(message: Message, picked: string, on: boolean): Promise<void> {
  const me = myId();
  const emoji = reactionEmoji(picked);
  if (!me) return;
  if (!emoji) {
    setNotice(`${picked} cannot be used as a reaction.`);
    return;
  }
  // The message as it is now (a picker may have stayed open while others reacted).
  const current = chatStore.get().timelines[message.roomId]?.messages.find((m) => m.id === message.id);
  if (on && !canAddReaction((current ?? message).reactions ?? [], emoji)) {
    setNotice('This message already has 20 different reactions. Join one of them instead.');
    return;
  }
  if (on) rememberEmoji(emoji);
  const apply = (state: boolean) =>
    patchReactions(message.roomId, message.id, (m) => ({
      ...m,
      reactions: toggleReaction(m.reactions ?? [], emoji, me, state),
    }));
  apply(on);
  try {
    const { message: stored } = await emitAck(on ? 'reaction:add' : 'reaction:remove', {
      messageId: message.id,
      emoji,
    });
    patchReactions(message.roomId, message.id, () => stored);
  } catch (err) {
    apply(!on);
    setNotice(`Reaction not ${on ? 'added' : 'removed'}: ${describeError(err)}`);
  }
}
