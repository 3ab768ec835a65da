import { describe, expect, it } from 'vitest';
import { LIMITS } from '@parley/protocol';
import {
  decodeMentions,
  encodeMentions,
  MAX_LOOKUPS_PER_MESSAGE,
  MAX_NAMES_PER_MESSAGE,
  parseMentions,
} from './mentions.js';

describe('parseMentions', () => {
  it('finds @names, lower-cased, with the candidates a trailing dot or hyphen allows', () => {
    expect(parseMentions('hi @Bob, @ann. and @x-ray- (@Zed)')).toEqual({
      tokens: [['bob'], ['ann.', 'ann'], ['x-ray-', 'x-ray'], ['zed']],
      room: false,
    });
  });

  it('leaves addresses and names glued to a word or another @ alone', () => {
    expect(parseMentions('mail a@b.c or bob@example.com, x@bob @@bob').tokens).toEqual([]);
  });

  it('reads @room (with punctuation) as the room mention, never as a name', () => {
    expect(parseMentions('@room.')).toEqual({ tokens: [], room: true });
    expect(parseMentions('@ROOM hi @rooms')).toEqual({ tokens: [['rooms']], room: true });
  });

  it('counts each name once and looks up at most MAX_NAMES_PER_MESSAGE', () => {
    expect(parseMentions('@a @A @a').tokens).toEqual([['a']]);
    const many = Array.from({ length: 200 }, (_, i) => `@n${i}`).join(' ');
    expect(parseMentions(many).tokens).toHaveLength(MAX_NAMES_PER_MESSAGE);
  });

  it('looks up only spellings a username can have, and at most MAX_LOOKUPS_PER_MESSAGE names per text', () => {
    // 64 characters of a name and then dots and hyphens: the spellings of 32 characters or fewer, longest first.
    const dotted = (name: string) => name + '.-'.repeat(40).slice(0, 64 - name.length);
    const [first] = parseMentions(`@${dotted('bob')}`).tokens;
    expect(first![0]).toHaveLength(LIMITS.usernameMax);
    expect(first!.at(-1)).toBe('bob');
    expect(first).toHaveLength(LIMITS.usernameMax - 2);
    const flood = Array.from({ length: 60 }, (_, i) => `@${dotted(`n${i}`)}`).join(' ');
    const { tokens } = parseMentions(flood);
    expect(tokens.flat().length).toBeLessThanOrEqual(MAX_LOOKUPS_PER_MESSAGE);
    expect(tokens.length).toBeGreaterThan(1);
    // Plain names are one spelling each: the token limit is what stops them.
    const plain = Array.from({ length: 200 }, (_, i) => `@name${i}.`).join(' ');
    expect(parseMentions(plain).tokens).toHaveLength(MAX_NAMES_PER_MESSAGE);
  });

  it('a lone @ or @ followed by dots names nobody', () => {
    expect(parseMentions('@ @. @..').tokens).toEqual([]);
  });
});

describe('stored form', () => {
  it('round-trips ids as `,1,2,` and reads empty as none', () => {
    expect(encodeMentions([3, 12])).toBe(',3,12,');
    expect(decodeMentions(',3,12,')).toEqual(['3', '12']);
    expect(encodeMentions([])).toBe('');
    expect(decodeMentions('')).toEqual([]);
  });
});
