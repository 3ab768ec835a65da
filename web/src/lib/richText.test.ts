import { createElement, Fragment } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { renderRichText, type RichTextOptions } from './richText';

const html = (text: string, opts?: RichTextOptions) =>
  renderToStaticMarkup(createElement(Fragment, null, ...renderRichText(text, opts)));

const mentions = { anyMention: true, mentionsMe: true, myUsername: 'ana' };

describe('renderRichText: formatting', () => {
  it('bold, italic, strikethrough and inline code', () => {
    expect(html('**bold** *it* _also_ ~~gone~~ `a < b`')).toBe(
      '<p><strong>bold</strong> <em>it</em> <em>also</em> <s>gone</s> <code>a &lt; b</code></p>',
    );
  });

  it('a fenced code block: kept as typed, monospace, with a Copy button', () => {
    const out = html('```js\nconst a = "<b>";\n  **not bold** @ana :smile:\n```');
    expect(out).toContain(
      '<pre tabindex="0" data-language="js"><code>const a = &quot;&lt;b&gt;&quot;;\n  **not bold** @ana :smile:</code></pre>',
    );
    expect(out).toContain('>Copy</button>');
    expect(out).not.toContain('<strong>');
  });

  it('block quotes, bullet and numbered lists', () => {
    expect(html('> quoted\n> more')).toBe('<blockquote><p>quoted<br/>\nmore</p></blockquote>');
    expect(html('- one\n- two')).toBe('<ul><li>one</li><li>two</li></ul>');
    expect(html('1. first\n2. second')).toBe('<ol><li>first</li><li>second</li></ol>');
    expect(html('3. third')).toBe('<ol start="3"><li>third</li></ol>');
  });

  it('a newline is a line break; a blank line starts a paragraph', () => {
    expect(html('a\nb\n\nc')).toBe('<p>a<br/>\nb</p><p>c</p>');
  });

  it('headings, rules, indented code, images, tables and entities stay text', () => {
    expect(html('# not a heading')).toBe('<p># not a heading</p>');
    expect(html('text\n---')).toBe('<p>text<br/>\n---</p>');
    expect(html('    indented')).toBe('<p>indented</p>');
    expect(html('![alt](https://example.com/x.png)')).not.toContain('<img');
    expect(html('&copy; &lt;')).toBe('<p>&amp;copy; &amp;lt;</p>');
  });
});

describe('renderRichText: links', () => {
  it('links bare http(s), www. and mailto:, Markdown links and <autolinks>', () => {
    expect(html('see https://example.com/a.')).toBe(
      '<p>see <a href="https://example.com/a" target="_blank" rel="noopener noreferrer">https://example.com/a</a>.</p>',
    );
    expect(html('www.example.com/x')).toContain('<a href="https://www.example.com/x" target="_blank"');
    expect(html('mail mailto:ana@example.com')).toContain(
      '<a href="mailto:ana@example.com">mailto:ana@example.com</a>',
    );
    expect(html('[the docs](https://example.com/docs)')).toContain(
      '<a href="https://example.com/docs" target="_blank" rel="noopener noreferrer">the docs</a>',
    );
    expect(html('[write](mailto:bo@example.com)')).toContain('<a href="mailto:bo@example.com">write</a>');
    expect(html('<https://example.com/auto>')).toContain('<a href="https://example.com/auto"');
  });

  it('javascript:, data:, vbscript: and file: links are not links', () => {
    for (const text of [
      '[x](javascript:alert(1))',
      '[x](JaVaScRiPt:alert(1))',
      '[x](  javascript:alert(1) )',
      '[x](java&#x73;cript:alert(1))',
      '[x](data:text/html,<script>alert(1)</script>)',
      '[x](vbscript:msgbox(1))',
      '[x](file:///etc/passwd)',
      '<javascript:alert(1)>',
      'javascript:alert(1)',
      'mailto:javascript:alert(1)',
    ]) {
      expect(html(text), text).not.toMatch(/<a[ >]/);
    }
    expect(html('[x](javascript:alert(1))')).toBe('<p>[x](javascript:alert(1))</p>');
  });
});

describe('renderRichText: markup is text', () => {
  it('<script> shows as text', () => {
    expect(html('<script>alert(1)</script>')).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
  });

  it('<img onerror> shows as text, in a paragraph, a quote or a list', () => {
    for (const text of [
      '<img src=x onerror=alert(1)>',
      '> <img src=x onerror=alert(1)>',
      '- <img src=x onerror=alert(1)>',
    ]) {
      const out = html(text);
      expect(out).not.toMatch(/<img/i);
      expect(out).toContain('&lt;img src=x onerror=alert(1)&gt;');
    }
  });

  it('an HTML block and inline HTML stay text', () => {
    expect(html('<div onclick="x()">hi</div>')).toBe(
      '<p>&lt;div onclick=&quot;x()&quot;&gt;hi&lt;/div&gt;</p>',
    );
    expect(html('a <b>b</b> <a href="javascript:x">c</a>')).not.toMatch(/<(b|a)[ >]/);
  });
});

describe('renderRichText: mentions and emoji', () => {
  it('highlights @mentions in text but not in code', () => {
    const out = html('@ana look `@ana`\n```\n@ana\n```', { mentions });
    expect(out).toContain('<mark class="mention mention-me">@ana</mark> look <code>@ana</code>');
    expect(out.match(/<mark/g)).toHaveLength(1);
  });

  it('mentions inside bold and quotes still highlight', () => {
    expect(html('**@ana** > x', { mentions })).toContain(
      '<strong><mark class="mention mention-me">@ana</mark></strong>',
    );
  });

  it('replaces known :shortcodes: outside code, once the data is there', () => {
    const shortcodes = new Map([
      ['smile', '😄'],
      ['+1', '👍'],
    ]);
    expect(html('hi :smile: :+1: :nope: `:smile:`', { shortcodes })).toBe(
      '<p>hi 😄 👍 :nope: <code>:smile:</code></p>',
    );
    expect(html('hi :smile:')).toBe('<p>hi :smile:</p>');
  });

  it('puts the trailer at the end of the last paragraph, or after the last block', () => {
    const trailer = createElement('span', null, ' (edited)');
    expect(html('a\n\nb', { trailer })).toBe('<p>a</p><p>b<span> (edited)</span></p>');
    expect(html('- a', { trailer })).toBe('<ul><li>a</li></ul><span> (edited)</span>');
  });
});

describe('renderRichText: cost', () => {
  const fastest = (f: () => void, runs = 2) => {
    let best = Infinity;
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      f();
      best = Math.min(best, performance.now() - t);
    }
    return best;
  };
  /** `unit` repeated to `length` characters. */
  const fill = (unit: string, length: number) =>
    unit.repeat(Math.ceil(length / unit.length)).slice(0, length);

  it.each([
    ['nested >', '>'],
    ['nested > with spaces', '> '],
    ['nested lists', '- '],
    ['**', '**'],
    ['** around words', '**a '],
    ['*', '*'],
    ['_ and *', '_*'],
    ['~~', '~~'],
    ['[', '['],
    ['[](', ']('],
    ['backticks', '`'],
    ['` a', '` a'],
    ['<', '<'],
    ['punctuation after a URL', 'https://example.com/.,;:!?)]}'],
    ['colons', ':a'],
    ['@', '@a '],
  ])(
    '4,000 characters of %s render in bounded time, and 4× as many cost about 4× (not 16×)',
    (name, unit) => {
      // A message is at most 4,000 characters: rendering one, React included, stays well under a second even on a
      // busy CI machine (they take 0.2–250 ms here, with other work running).
      const text = fill(unit, 4000);
      const once = fastest(() => html(text));
      expect(once).toBeLessThan(1000);
      // Linear, not quadratic: the parse and the tree for 16,000 characters cost about 4× those for 4,000 (a quadratic
      // step would be 16×); the 10× bound leaves room for a noisy machine.
      const small = fastest(() => renderRichText(text));
      const large = fastest(() => renderRichText(fill(unit, 16_000)));
      console.warn(
        `richText ${name}: ${once.toFixed(1)} ms rendered; 4k ${small.toFixed(1)} ms, 16k ${large.toFixed(1)} ms`,
      );
      expect(large).toBeLessThan(Math.max(small, 5) * 10);
    },
  );
});
