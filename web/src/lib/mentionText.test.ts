import { describe, expect, it } from 'vitest';
import { MENTION, mentionQuery, tokenNames } from './mentionText';

describe('mentionQuery', () => {
  it('finds the @partial right before the caret', () => {
    expect(mentionQuery('hi @bo', 6)).toEqual({ start: 3, query: 'bo' });
    expect(mentionQuery('@', 1)).toEqual({ start: 0, query: '' });
    expect(mentionQuery('hi @bo there', 12)).toBeNull();
  });

  it('not inside an address or after another @', () => {
    expect(mentionQuery('mail a@b', 8)).toBeNull();
    expect(mentionQuery('@@b', 3)).toBeNull();
  });
});

describe('tokenNames', () => {
  it('matches case-insensitively, with trailing dots and hyphens as punctuation', () => {
    expect(tokenNames('Bob', 'bob')).toBe(true);
    expect(tokenNames('bob.', 'bob')).toBe(true);
    expect(tokenNames('bob.', 'bob.')).toBe(true);
    expect(tokenNames('bobby', 'bob')).toBe(false);
  });
});

describe('MENTION', () => {
  it('reads the same @names as the server', () => {
    expect([...'hi @ann, a@b.c (@cy) x@dd'.matchAll(MENTION)].map((m) => m[1])).toEqual(['ann', 'cy']);
  });
});
