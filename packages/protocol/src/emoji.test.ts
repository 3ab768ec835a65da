import { describe, expect, it } from 'vitest';
import { normaliseEmoji } from './emoji.js';

describe('normaliseEmoji', () => {
  it.each([
    ['👍', '👍'],
    ['👍️', '👍'], // over-qualified (some emoji data sets)
    ['❤', '❤️'], // under-qualified
    ['❤️', '❤️'],
    ['👍🏽', '👍🏽'],
    ['🇫🇷', '🇫🇷'],
    ['👨‍👩‍👧', '👨‍👩‍👧'],
    ['1️⃣', '1️⃣'],
  ])('%s is stored as %s', (input, stored) => expect(normaliseEmoji(input)).toBe(stored));

  it.each(['', 'a', '👍👍', ':+1:', '1', '\uFE0F', '👍 ', 'x'.repeat(40)])('refuses %j', (input) =>
    expect(normaliseEmoji(input)).toBeNull(),
  );
});
