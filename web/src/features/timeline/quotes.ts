import type { Message, User } from '@parley/protocol';
import { LIMITS } from '../../lib/limits';

/*
 * A reply carries a copy of its parent's start (`replyTo`). When the parent changes under our eyes (edited,
 * deleted), the loaded replies that quote it are brought up to date here, so that they do not show text the parent
 * no longer has until the next reload.
 */

interface ParentState {
  id: string;
  text: string;
  deleted: boolean;
  author?: User | null;
}

/** The replies in `messages` to `parent`, their quotes rebuilt from it; the same array when none changes. */
export function refreshQuotes(messages: Message[], parent: ParentState): Message[] {
  const text = parent.deleted ? '' : parent.text.slice(0, LIMITS.replyQuoteMax);
  let changed = false;
  const next = messages.map((m) => {
    const q = m.replyTo;
    if (!q || q.id !== parent.id) return m;
    const author = parent.author === undefined ? q.author : parent.author;
    if (q.text === text && q.deleted === parent.deleted && author === q.author) return m;
    changed = true;
    return { ...m, replyTo: { ...q, text, deleted: parent.deleted, author } };
  });
  return changed ? next : messages;
}

/** The replies to a deleted parent (held or not): "Original message deleted". */
export const quotesOfDeleted = (messages: Message[], parentId: string): Message[] =>
  refreshQuotes(messages, { id: parentId, text: '', deleted: true });

/** The first line of a text, for one-line previews ("" for none). */
export const firstLine = (text: string): string =>
  text
    .split('\n')
    .find((l) => l.trim())
    ?.trim() ?? '';
