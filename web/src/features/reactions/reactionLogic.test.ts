import type { Reaction } from '@parley/protocol';
import { describe, expect, it } from 'vitest';
import {
  canAddReaction,
  joinNames,
  reactionEmoji,
  reactionLabel,
  reactionTooltip,
  toggleReaction,
} from './reactionLogic';

const r = (emoji: string, userIds: string[], count = userIds.length): Reaction => ({ emoji, count, userIds });
const names: Record<string, string> = { '1': 'Ana', '2': 'Bo', '3': 'Cy' };
const nameOf = (id: string) => names[id];

describe('toggleReaction', () => {
  it('adds a new emoji last, and joins an existing one', () => {
    const start = [r('👍', ['2'])];
    expect(toggleReaction(start, '🎉', '1', true)).toEqual([r('👍', ['2']), r('🎉', ['1'])]);
    expect(toggleReaction(start, '👍', '1', true)).toEqual([r('👍', ['2', '1'])]);
  });

  it('is idempotent both ways, as the server is', () => {
    const start = [r('👍', ['1', '2'])];
    expect(toggleReaction(start, '👍', '1', true)).toEqual(start);
    expect(toggleReaction(start, '🎉', '1', false)).toEqual(start);
    expect(toggleReaction([r('👍', ['2'])], '👍', '1', false)).toEqual([r('👍', ['2'])]);
  });

  it('takes ours back, and drops a reaction nobody holds any more', () => {
    expect(toggleReaction([r('👍', ['1', '2'])], '👍', '1', false)).toEqual([r('👍', ['2'])]);
    expect(toggleReaction([r('👍', ['1']), r('🎉', ['2'])], '👍', '1', false)).toEqual([r('🎉', ['2'])]);
  });

  it('counts past the 50 ids the server lists without listing more', () => {
    const ids = Array.from({ length: 50 }, (_, i) => String(i + 100));
    const [after] = toggleReaction([r('👍', ids, 70)], '👍', '1', true);
    expect(after!.count).toBe(71);
    expect(after!.userIds).toHaveLength(50);
  });

  it('leaves its input alone', () => {
    const start = [r('👍', ['2'])];
    toggleReaction(start, '👍', '1', true);
    expect(start).toEqual([r('👍', ['2'])]);
  });
});

describe('canAddReaction', () => {
  const twenty = Array.from({ length: 20 }, (_, i) => r(String.fromCodePoint(0x1f600 + i), ['2']));
  it('refuses a 21st distinct emoji but lets anyone join one that is there', () => {
    expect(canAddReaction(twenty.slice(0, 19))).toBe(true);
    expect(canAddReaction(twenty)).toBe(false);
    expect(canAddReaction(twenty, '🎉')).toBe(false);
    expect(canAddReaction(twenty, twenty[3]!.emoji)).toBe(true);
  });
});

describe('labels', () => {
  it('names the chip by emoji, count and whether you are in it', () => {
    expect(reactionLabel(r('👍', ['1', '2', '3']), '1')).toBe('👍 3, you and 2 others reacted');
    expect(reactionLabel(r('👍', ['1', '2']), '1')).toBe('👍 2, you and 1 other reacted');
    expect(reactionLabel(r('👍', ['1']), '1')).toBe('👍 1, you reacted');
    expect(reactionLabel(r('👍', ['2', '3']), '1')).toBe('👍 2, 2 people reacted');
    expect(reactionLabel(r('👍', ['2']), '1')).toBe('👍 1, 1 person reacted');
  });

  it('lists who reacted in the tooltip, you last, unknown people counted', () => {
    expect(reactionTooltip(r('👍', ['1', '2', '3']), '1', nameOf)).toBe('Bo, Cy and you reacted with 👍');
    expect(reactionTooltip(r('👍', ['2']), '1', nameOf)).toBe('Bo reacted with 👍');
    expect(reactionTooltip(r('👍', ['2', '9']), '1', nameOf)).toBe('Bo and 1 other reacted with 👍');
    expect(reactionTooltip(r('👍', ['8', '9']), null, nameOf)).toBe('2 others reacted with 👍');
    expect(reactionTooltip(r('👍', ['1'], 60), '1', nameOf)).toBe('You and 59 others reacted with 👍');
  });

  it('joins names as a sentence', () => {
    expect(joinNames([])).toBe('');
    expect(joinNames(['Ana'])).toBe('Ana');
    expect(joinNames(['Ana', 'Bo', 'Cy'])).toBe('Ana, Bo and Cy');
  });
});

describe('reactionEmoji', () => {
  it('spells an emoji as the server stores it', () => {
    expect(reactionEmoji('👍')).toBe('👍');
    // The picker's data over-qualifies some: the server takes the bare RGI form.
    expect(reactionEmoji('👍\uFE0F')).toBe('👍');
    // And a bare pictograph Unicode writes with the selector gets it.
    expect(reactionEmoji('❤')).toBe('❤\uFE0F');
    expect(reactionEmoji('❤\uFE0F')).toBe('❤\uFE0F');
    expect(reactionEmoji('👍🏽')).toBe('👍🏽');
    expect(reactionEmoji('🏳️‍🌈')).toBe('🏳️‍🌈');
    expect(reactionEmoji('a')).toBeNull();
    expect(reactionEmoji('👍👍')).toBeNull();
    expect(reactionEmoji('')).toBeNull();
  });
});
