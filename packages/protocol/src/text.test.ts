import { describe, expect, it } from 'vitest';
import {
  DisplayNameSchema,
  EditMessageBodySchema,
  LoginBodySchema,
  MessageTextSchema,
  RoomNameSchema,
  UserSearchQuerySchema,
} from './schemas.js';
import { hasInvisible } from './text.js';

const ok = (s: string) => DisplayNameSchema.safeParse(s).success && RoomNameSchema.safeParse(s).success;

describe('names shown to others carry nothing invisible', () => {
  it('refuses format, default-ignorable, private-use and unassigned characters, and blanks', () => {
    const bad = {
      'Arabic letter mark': '\u061c',
      'soft hyphen': '\u00ad',
      'function application': '\u2061',
      'invisible plus': '\u2064',
      'Hangul filler': '\u3164',
      'Hangul choseong filler': '\u115f',
      'Hangul jungseong filler': '\u1160',
      'half-width Hangul filler': '\uffa0',
      'braille blank': '\u2800',
      'tag letter A': '\u{e0041}',
      'variation selector 16 after a letter': '\ufe0f',
      'inhibit symmetric swapping': '\u206a',
      'nominal digit shapes': '\u206f',
      'zero-width space': '\u200b',
      'line separator': '\u2028',
      'private use': '\ue000',
      'combining grapheme joiner': '\u034f',
      'Mongolian vowel separator': '\u180e',
      'a lone surrogate': '\ud800',
      'ZWJ between Latin letters': '\u200d',
    };
    for (const [what, c] of Object.entries(bad)) {
      expect(ok(`gen${c}eral`), what).toBe(false);
      // At the end, white space (the line separator) is trimmed away instead.
      if (c.trim()) expect(ok(`general${c}`), what).toBe(false);
    }
  });

  it('keeps the invisible characters that do visible work', () => {
    for (const name of [
      '👩‍👩‍👧 family', // ZWJ emoji sequence
      '👩🏽‍💻 at work',
      '❤️ fan', // emoji presentation selector
      '1️⃣ first',
      '🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland', // subdivision flag (tag characters)
      '\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645', // Persian with ZWNJ
      '\u0915\u094d\u200d\u0937', // Devanagari with ZWJ after virama
      'Анна Ли',
      'Zoë Ärger',
    ])
      expect(ok(name), name).toBe(true);
  });

  it('refuses a tag sequence outside a flag', () => {
    expect(hasInvisible('\u{e0067}\u{e0062}\u{e007f}')).toBe(true);
  });
});

describe('no control characters in string inputs', () => {
  it('refuses NUL and other controls in login names, search terms and names', () => {
    expect(LoginBodySchema.safeParse({ username: 'ana\0', password: 'x' }).success).toBe(false);
    expect(LoginBodySchema.safeParse({ email: 'a\u0085@b.c', password: 'x' }).success).toBe(false);
    expect(LoginBodySchema.safeParse({ username: 'ana', password: 'x\0' }).success).toBe(false);
    expect(LoginBodySchema.safeParse({ username: 'ana', password: 'tab\there' }).success).toBe(true);
    expect(UserSearchQuerySchema.safeParse({ q: 'a\0' }).success).toBe(false);
  });

  it('keeps newlines and tabs in message text, stores CR LF as LF, refuses the rest', () => {
    expect(MessageTextSchema.parse('one\r\ntwo\tthree\rfour')).toBe('one\ntwo\tthree\nfour');
    for (const c of ['\0', '\u0007', '\u001b', '\u007f', '\u0085', '\u009b'])
      expect(EditMessageBodySchema.safeParse({ text: `a${c}b` }).success, JSON.stringify(c)).toBe(false);
  });
});
