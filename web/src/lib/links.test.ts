import { describe, expect, it } from 'vitest';
import { findLinks, trailingPunctuation } from './links';

const texts = (t: string) => findLinks(t).map((l) => l.text);

describe('findLinks', () => {
  it('finds http and https URLs and leaves sentence punctuation out', () => {
    expect(texts('see https://example.com/a?b=1. and http://x.org/y, ok')).toEqual([
      'https://example.com/a?b=1',
      'http://x.org/y',
    ]);
    expect(texts('(at https://example.com/path).')).toEqual(['https://example.com/path']);
    expect(texts('"https://example.com/q"!?')).toEqual(['https://example.com/q']);
  });

  it('keeps a closing parenthesis opened inside the URL', () => {
    expect(texts('https://en.wikipedia.org/wiki/Foo_(bar).')).toEqual([
      'https://en.wikipedia.org/wiki/Foo_(bar)',
    ]);
  });

  it('gives positions that cut the text back exactly', () => {
    const text = 'a https://example.com/x. b';
    const [link] = findLinks(text);
    expect(text.slice(link!.start, link!.end)).toBe('https://example.com/x');
    expect(link!.href).toBe('https://example.com/x');
  });

  it('links nothing but http and https', () => {
    expect(texts('javascript:alert(1) ftp://x.org data:text/html,hi')).toEqual([]);
  });

  it('counts trailing punctuation with one backward scan', () => {
    expect(trailingPunctuation('abc')).toBe(0);
    expect(trailingPunctuation('abc.,;)')).toBe(4);
    expect(trailingPunctuation('...')).toBe(3);
    expect(trailingPunctuation('')).toBe(0);
  });

  it('handles a 50,000-character run of punctuation after a URL in linear time', () => {
    // The old trailing-punctuation regex (/[.,;:!?'")\]}>]+$/) retried from every position of such a run:
    // ~2 s for this input, and 4× that for twice the length. The answer is the URL without the run.
    const run = '.,;:!?)]}'.repeat(5556).slice(0, 50_000);
    const adversarial = `https://example.com/${run}x`;
    expect(texts(adversarial)).toEqual([adversarial]);
    const trailing = `https://example.com/p${run}`;
    expect(texts(trailing)).toEqual(['https://example.com/p']);
  });
});

describe('findLinks: www. and mailto:', () => {
  it('links a bare www. host as https', () => {
    const [link] = findLinks('go to www.example.com/page, now');
    expect(link?.text).toBe('www.example.com/page');
    expect(link?.href).toBe('https://www.example.com/page');
    expect(texts('www. and awww.example.com')).toEqual([]);
  });

  it('links mailto: with an address, nothing else', () => {
    const [link] = findLinks('write to mailto:ana@example.com.');
    expect(link?.href).toBe('mailto:ana@example.com');
    expect(texts('mailto: mailto:nobody mailto:javascript:alert(1)')).toEqual([]);
  });
});
