import { describe, expect, it } from 'vitest';
import { isEmojiOnly, mayHaveShortcodes, replaceShortcodes, shortcodeQuery } from './emojiText';

const names = new Map([
  ['smile', '😄'],
  ['+1', '👍'],
  ['flag-fr', '🇫🇷'],
]);

describe('replaceShortcodes', () => {
  it('replaces known names, case-insensitively, and leaves the rest as typed', () => {
    expect(replaceShortcodes(':smile: :SMILE: :+1: :flag-fr:', names)).toBe('😄 😄 👍 🇫🇷');
    expect(replaceShortcodes('at 10:30:45, :nope: and ::', names)).toBe('at 10:30:45, :nope: and ::');
  });

  it('resumes at the closing colon of an unknown name', () => {
    expect(replaceShortcodes('a:b:smile:', names)).toBe('a:b😄');
    expect(replaceShortcodes(':smile::smile:', names)).toBe('😄😄');
  });

  it('tells when text may hold a shortcode', () => {
    expect(mayHaveShortcodes('hi :smile:')).toBe(true);
    expect(mayHaveShortcodes('hi :smile')).toBe(false);
    expect(mayHaveShortcodes('hi :smile:')).toBe(true); // the global regex's state does not leak between calls
  });
});

describe('isEmojiOnly', () => {
  it('is true for a few emoji, with joiners, skin tones and flags', () => {
    expect(isEmojiOnly('🎉')).toBe(true);
    expect(isEmojiOnly(' 👍🏽 👨‍👩‍👧 🇫🇷 ❤️ ')).toBe(true);
  });
  it('is false for text, digits, or many emoji', () => {
    expect(isEmojiOnly('ok 🎉')).toBe(false);
    expect(isEmojiOnly('123')).toBe(false);
    expect(isEmojiOnly('#')).toBe(false);
    expect(isEmojiOnly('')).toBe(false);
    expect(isEmojiOnly('🎉'.repeat(11))).toBe(false);
  });
});

describe('shortcodeQuery', () => {
  it('finds a :partial of two or more characters before the caret, after a space or at the start', () => {
    expect(shortcodeQuery(':sm', 3)).toEqual({ start: 0, query: 'sm' });
    expect(shortcodeQuery('hi :smi there', 7)).toEqual({ start: 3, query: 'smi' });
    expect(shortcodeQuery('hi :s', 5)).toBeNull();
    expect(shortcodeQuery('hi :smile:', 10)).toBeNull();
    expect(shortcodeQuery('at 10:30', 8)).toBeNull();
    expect(shortcodeQuery('http://x', 8)).toBeNull();
  });
});
