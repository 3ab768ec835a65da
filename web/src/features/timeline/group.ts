import type { Message } from '@parley/protocol';
import type { PendingMessage } from '../../store/chat';
import { dayKey } from '../../lib/time';

/** Messages from one author within this long of each other share one header. */
const GROUP_GAP_MS = 5 * 60_000;

export type TimelineItem =
  | { type: 'day'; key: string; at: string }
  | { type: 'divider'; key: string }
  | { type: 'message'; key: string; message: Message; continued: boolean }
  | { type: 'pending'; key: string; pending: PendingMessage; continued: boolean };

/**
 * The rows of a timeline: a day heading whenever the local date changes, the "New messages" divider above the
 * first unread, and messages marked `continued` when they follow the same author closely (no repeated header).
 */
export function buildItems(
  messages: Message[],
  pending: PendingMessage[],
  dividerId: string | null,
  meId: string | null,
): TimelineItem[] {
  const items: TimelineItem[] = [];
  let prevDay = '';
  let prevAuthor: string | null = null;
  let prevAt = 0;
  const step = (at: string, authorId: string | null, system: boolean) => {
    const day = dayKey(at);
    if (day !== prevDay) {
      items.push({ type: 'day', key: `day-${day}`, at });
      prevDay = day;
      prevAuthor = null;
    }
    const t = new Date(at).getTime();
    const continued = !system && authorId !== null && authorId === prevAuthor && t - prevAt < GROUP_GAP_MS;
    prevAuthor = system ? null : authorId;
    prevAt = t;
    return continued;
  };
  for (const m of messages) {
    if (m.id === dividerId) {
      items.push({ type: 'divider', key: 'divider' });
      prevAuthor = null;
    }
    const continued = step(m.createdAt, m.author?.id ?? null, m.kind === 'system');
    items.push({ type: 'message', key: m.id, message: m, continued });
  }
  for (const p of pending) {
    const continued = step(p.createdAt, meId, false);
    items.push({ type: 'pending', key: `pending-${p.clientId}`, pending: p, continued });
  }
  return items;
}
