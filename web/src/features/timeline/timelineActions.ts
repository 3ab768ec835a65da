import type { Message, MessagePage } from '@parley/protocol';
import { api } from '../../api/client';
import { describeError } from '../../api/errors';
import { compareIds } from '../../lib/ids';
import {
  addMessages,
  chatStore,
  emptyTimeline,
  lastStoredId,
  patchRoom,
  updateTimeline,
} from '../../store/chat';
import { emitAck, isConnected } from '../../socket/connection';
import { myId } from '../auth/me';
import { quotesOfDeleted, refreshQuotes } from './quotes';

const PAGE = 50;
const CATCH_UP_PAGE = 100;
/** Further behind than this many pages, a room starts again from its latest page instead. */
const CATCH_UP_MAX_PAGES = 10;

/** Counts like the server's unread count: others' messages that are not system notices or deleted. */
export const countsAsUnread = (m: Message, me: string | null) =>
  m.kind !== 'system' && !m.deleted && m.author?.id !== me;

/** The message the "New messages" divider goes above, given how many are unread. */
export function dividerFor(messages: Message[], unread: number): string | null {
  if (unread <= 0) return null;
  const me = myId();
  let seen = 0;
  for (let i = messages.length - 1; i >= 0; i--) {
    if (countsAsUnread(messages[i]!, me)) seen++;
    if (seen >= unread) return messages[i]!.id;
  }
  return messages[0]?.id ?? null;
}

/** The newest page of a room, once; afterwards live events (and catch-up after a reconnect) keep it whole. */
export async function loadLatest(roomId: string, unread: number): Promise<void> {
  const t = chatStore.get().timelines[roomId];
  if (t?.loaded) {
    // Rooms we only preview get no live messages: fetch what is new.
    if (!chatStore.get().rooms[roomId]?.isMember) await catchUpRoom(roomId);
    updateTimeline(roomId, (x) => ({ dividerId: dividerFor(x.messages, unread) }));
    return;
  }
  updateTimeline(roomId, () => ({ error: null }));
  try {
    const page = await api.history(roomId, { limit: PAGE });
    const merged = [...(t?.messages ?? []), ...page.messages];
    addMessages(roomId, page.messages, {
      loaded: true,
      hasMoreBefore: page.hasMore,
      dividerId: dividerFor(merged, unread),
    });
    // Live messages are taken only from now on: fetch any stored while this page was on its way.
    const last = page.messages[page.messages.length - 1];
    if (last && isConnected() && chatStore.get().rooms[roomId]?.isMember) await catchUpRoom(roomId, last.id);
  } catch (err) {
    updateTimeline(roomId, () => ({ error: describeError(err) }));
  }
}

/** Infinite scroll: the page before the oldest message we have. */
export async function loadOlder(roomId: string): Promise<void> {
  const t = chatStore.get().timelines[roomId];
  const first = t?.messages[0];
  if (!t || !first || t.loadingOlder || !t.hasMoreBefore) return;
  updateTimeline(roomId, () => ({ loadingOlder: true }));
  try {
    const page = await api.history(roomId, { before: first.id, limit: PAGE });
    addMessages(roomId, page.messages, { hasMoreBefore: page.hasMore, loadingOlder: false });
  } catch (err) {
    updateTimeline(roomId, () => ({ loadingOlder: false, error: describeError(err) }));
  }
}

/**
 * Opens a room's history at one message (a search result): the page around it, the message highlighted. Held
 * already: just highlighted. Otherwise the timeline becomes that page, which may stop short of the latest
 * (`hasMoreAfter`); scrolling loads both ways from there.
 */
export async function jumpToMessage(roomId: string, messageId: string): Promise<void> {
  const t = chatStore.get().timelines[roomId];
  if (t?.loaded && t.messages.some((m) => m.id === messageId)) {
    updateTimeline(roomId, () => ({ highlightId: messageId }));
    return;
  }
  const page = await api.history(roomId, { around: messageId, limit: PAGE });
  updateTimeline(roomId, (x) => ({
    ...emptyTimeline(),
    pending: x.pending,
    messages: page.messages,
    loaded: true,
    hasMoreBefore: page.hasMoreBefore ?? page.hasMore,
    hasMoreAfter: page.hasMoreAfter ?? false,
    highlightId: messageId,
  }));
}

/** Scrolling down a timeline that stops short of the latest: the page after the newest message held. */
export async function loadNewer(roomId: string): Promise<void> {
  const t = chatStore.get().timelines[roomId];
  const last = t?.messages[t.messages.length - 1];
  if (!t || !last || t.loadingNewer || !t.hasMoreAfter) return;
  updateTimeline(roomId, () => ({ loadingNewer: true }));
  try {
    const page = await api.history(roomId, { after: last.id, limit: PAGE });
    addMessages(roomId, page.messages, { hasMoreAfter: page.hasMore, loadingNewer: false });
    // Caught up: live messages count from now, so fetch any that were stored while this page was on its way.
    const end = page.messages[page.messages.length - 1];
    if (!page.hasMore && end && isConnected()) await catchUpRoom(roomId, end.id);
  } catch (err) {
    updateTimeline(roomId, () => ({ loadingNewer: false, error: describeError(err) }));
  }
}

/** "Jump to latest" from a timeline that stops short of it: start again from the newest page. */
export async function reloadLatest(roomId: string): Promise<void> {
  updateTimeline(roomId, (x) => ({ ...emptyTimeline(), pending: x.pending }));
  await loadLatest(roomId, 0);
}

/**
 * After a reconnect: everything after the last message we hold, page by page (`messages:fetch {after}`), so
 * there is no gap; merging by id means no duplicate either.
 */
export async function catchUpRoom(roomId: string, from: string | null = lastStoredId(roomId)): Promise<void> {
  if (!from) return;
  let after: string = from;
  try {
    for (let i = 0; i < CATCH_UP_MAX_PAGES; i++) {
      const page: MessagePage = isConnected()
        ? await emitAck('messages:fetch', { roomId, after, limit: CATCH_UP_PAGE })
        : await api.history(roomId, { after, limit: CATCH_UP_PAGE });
      addMessages(roomId, page.messages);
      const last: Message | undefined = page.messages[page.messages.length - 1];
      if (!page.hasMore || !last) return;
      after = last.id;
    }
  } catch {
    return; // The room went away or the connection dropped again; the next reconnect tries again.
  }
  const pending = chatStore.get().timelines[roomId]?.pending ?? [];
  updateTimeline(roomId, () => ({ ...emptyTimeline(), pending }));
  await loadLatest(roomId, 0);
}

const readTimers = new Map<string, ReturnType<typeof setTimeout>>();
const readUpTo = new Map<string, string>();

/** The user has seen the end of this room: clear its badge and move the server's read marker. */
export function markRead(roomId: string): void {
  const { rooms, activeRoomId } = chatStore.get();
  const room = rooms[roomId];
  // Only the open room is read (the Timeline may render before openRoom has noted its unread count).
  if (!room?.isMember || activeRoomId !== roomId) return;
  if (room.unreadCount || room.mentionCount) patchRoom(roomId, { unreadCount: 0, mentionCount: 0 });
  clearTimeout(readTimers.get(roomId));
  readTimers.set(
    roomId,
    setTimeout(() => {
      const last = lastStoredId(roomId);
      const sent = readUpTo.get(roomId);
      if (!last || (sent && compareIds(sent, last) >= 0) || !isConnected()) return;
      emitAck('room:read', { roomId, messageId: last })
        .then(() => readUpTo.set(roomId, last))
        .catch(() => undefined);
    }, 400),
  );
}

/**
 * Changes a message we hold, and the quotes of the loaded replies to it (an edit or a delete shows in them at once;
 * a parent we do not hold updates its replies' quotes only from the server's own `message:updated`).
 */
function patchMessage(roomId: string, id: string, fn: (m: Message) => Message): void {
  const t = chatStore.get().timelines[roomId];
  const held = t?.messages.find((m) => m.id === id);
  if (!t || !held) return;
  const next = fn(held);
  updateTimeline(roomId, (x) => ({
    messages: refreshQuotes(
      x.messages.map((m) => (m.id === id ? next : m)),
      next,
    ),
  }));
}

/** An edit we heard of: applied only to a message we hold (never inserted, which could open a gap). */
export function replaceMessage(message: Message): void {
  patchMessage(message.roomId, message.id, () => message);
}

export function markDeleted(roomId: string, id: string): void {
  patchMessage(roomId, id, (m) => ({ ...m, deleted: true, text: '', attachment: null }));
  // Replies to a parent we do not hold (it is further up) learn it is gone too.
  const t = chatStore.get().timelines[roomId];
  if (t && quotesOfDeleted(t.messages, id) !== t.messages) {
    updateTimeline(roomId, (x) => ({ messages: quotesOfDeleted(x.messages, id) }));
  }
}

export async function editMessage(message: Message, text: string): Promise<void> {
  const res = await emitAck('message:edit', { messageId: message.id, text });
  replaceMessage(res.message);
}

export async function deleteMessage(message: Message): Promise<void> {
  await emitAck('message:delete', { messageId: message.id });
  markDeleted(message.roomId, message.id);
}
