import type { Message, Reaction } from '@parley/protocol';
import { LIMITS } from '../../lib/limits';
import { normaliseEmoji } from '../../../../packages/protocol/src/emoji';

/*
 * Pure reaction state: what a click does to a message's reactions before the server answers (optimistic), what a
 * chip says to a screen reader, and whether one more distinct emoji fits. The server's answer replaces all of it.
 */

/** The spelling the server stores for an emoji (its EmojiSchema), or null: the picker's data over-qualifies some. */
export const reactionEmoji = normaliseEmoji;

/** True when `userId` is among the users the reaction lists (the server lists the first 50). */
export const hasReacted = (r: Reaction, userId: string | null): boolean =>
  userId !== null && r.userIds.includes(userId);

/**
 * The reactions after `userId` adds (`on`) or takes back `emoji`, as the server would answer: idempotent, a new
 * emoji goes last, a reaction nobody holds any more disappears.
 */
export function toggleReaction(
  reactions: readonly Reaction[],
  emoji: string,
  userId: string,
  on: boolean,
): Reaction[] {
  const i = reactions.findIndex((r) => r.emoji === emoji);
  const r = i >= 0 ? reactions[i]! : undefined;
  if (on) {
    if (r && r.userIds.includes(userId)) return [...reactions];
    if (!r) return [...reactions, { emoji, count: 1, userIds: [userId] }];
    const userIds = r.userIds.length < LIMITS.reactionUserIdsMax ? [...r.userIds, userId] : [...r.userIds];
    return reactions.map((x, k) => (k === i ? { ...x, count: x.count + 1, userIds } : x));
  }
  if (!r || !r.userIds.includes(userId)) return [...reactions];
  if (r.count <= 1) return reactions.filter((_, k) => k !== i);
  return reactions.map((x, k) =>
    k === i ? { ...x, count: x.count - 1, userIds: x.userIds.filter((u) => u !== userId) } : x,
  );
}

/** A new distinct emoji fits (an emoji already there can always be joined). */
export const canAddReaction = (reactions: readonly Reaction[], emoji?: string): boolean =>
  (emoji !== undefined && reactions.some((r) => r.emoji === emoji)) ||
  reactions.length < LIMITS.reactionsPerMessageMax;

/** "Ana", "Ana and Bo", "Ana, Bo and Cy". */
export function joinNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? '';
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/**
 * Who reacted, "you" first, as names where the client knows them; the rest (unknown users, or past the 50 the
 * server lists) as "N others".
 */
export function reactors(
  r: Reaction,
  me: string | null,
  nameOf: (userId: string) => string | undefined,
): { names: string[]; others: number; mine: boolean } {
  const mine = hasReacted(r, me);
  const names: string[] = mine ? ['you'] : [];
  for (const id of r.userIds) {
    if (id === me) continue;
    const n = nameOf(id);
    if (n) names.push(n);
  }
  return { names, others: Math.max(0, r.count - names.length), mine };
}

const others = (n: number) => `${n} ${n === 1 ? 'other' : 'others'}`;

/** A chip's accessible name: "👍 3, you and 2 others reacted". Names stay in the tooltip (reactionTooltip). */
export function reactionLabel(r: Reaction, me: string | null): string {
  const mine = hasReacted(r, me);
  const rest = r.count - (mine ? 1 : 0);
  const who = mine
    ? rest > 0
      ? `you and ${others(rest)}`
      : 'you'
    : r.count === 1
      ? '1 person'
      : `${r.count} people`;
  return `${r.emoji} ${r.count}, ${who} reacted`;
}

/** The tooltip: "Ana Lee, Bo and you reacted with 👍" (unknown people counted). */
export function reactionTooltip(
  r: Reaction,
  me: string | null,
  nameOf: (userId: string) => string | undefined,
): string {
  const { names, others: rest, mine } = reactors(r, me, nameOf);
  // "you" reads better last in a list of names ("Ana, Bo and you").
  const ordered = mine ? [...names.slice(1), 'you'] : names;
  const parts = rest > 0 ? [...ordered, others(rest)] : ordered;
  const list = joinNames(parts.length ? parts : [others(r.count)]);
  return `${list.charAt(0).toUpperCase()}${list.slice(1)} reacted with ${r.emoji}`;
}

/** The message with its reactions replaced (the rest as it is). */
export const withReactions = (m: Message, reactions: Reaction[]): Message => ({ ...m, reactions });
