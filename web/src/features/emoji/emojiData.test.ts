import compact from 'emojibase-data/en/compact.json';
import iamcal from 'emojibase-data/en/shortcodes/iamcal.json';
import { describe, expect, it } from 'vitest';
import { buildEmojiData, searchEmoji, shortcodeSuggestions } from './emojiData';

const data = buildEmojiData(compact, iamcal);
/** emojibase gives the fully-qualified form (👍 + U+FE0F); compare without the variation selector. */
const bare = (s: string | undefined) => s?.replace(/\uFE0F/g, '');

describe('emoji data (emojibase, Slack names)', () => {
  it('knows Slack shortcodes', () => {
    expect(data.byShortcode.get('tada')).toBe('🎉');
    expect(bare(data.byShortcode.get('+1'))).toBe('👍');
    expect(bare(data.byShortcode.get('thumbsup'))).toBe('👍');
    expect(data.byShortcode.get('smile')).toBe('😄');
    expect(data.byShortcode.get('heart')).toBe('❤️');
  });

  it('lists pickable emoji once each, without skin-tone components', () => {
    expect(data.list.length).toBeGreaterThan(1500);
    expect(new Set(data.list.map((e) => e.emoji)).size).toBe(data.list.length);
    expect(data.list.some((e) => e.group === 2)).toBe(false);
    expect(data.list[0]!.emoji).toBe('😀');
  });

  it('searches by name, tag and shortcode', () => {
    expect(searchEmoji(data, 'thumbs up').map((e) => bare(e.emoji))).toContain('👍');
    expect(searchEmoji(data, 'tada')[0]!.emoji).toBe('🎉');
    expect(searchEmoji(data, 'party').map((e) => e.emoji)).toContain('🎉');
    expect(searchEmoji(data, 'zzzzqqq')).toEqual([]);
    expect(searchEmoji(data, '  ')).toEqual([]);
  });

  it('suggests shortcodes by prefix, recent emoji first', () => {
    const plain = shortcodeSuggestions(data, 'smi', []);
    expect(plain.length).toBe(8);
    expect(plain.every((s) => s.shortcode.startsWith('smi'))).toBe(true);
    const smirk = plain.find((s) => s.entry.emoji === '😏') ?? { entry: { emoji: '😏' } };
    const withRecent = shortcodeSuggestions(data, 'smi', [smirk.entry.emoji]);
    expect(withRecent[0]!.entry.emoji).toBe('😏');
    expect(shortcodeSuggestions(data, 'tada', [])[0]!.shortcode).toBe('tada');
  });
});
