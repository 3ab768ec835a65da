import MarkdownIt, { type Token } from 'markdown-it';
import { safeHref } from './links';

/*
 * The Markdown dialect of messages: what people type by habit in Slack, Mattermost or GitHub. Bold, italic,
 * ~~strikethrough~~, `code`, fenced code blocks, > quotes, lists and [links](https://…); a newline is a line break.
 * Left out on purpose: raw HTML (it stays text), headings and `---` rules (a line starting with "# " or a line of
 * dashes is ordinary chat), indented code (chat text is often indented by accident), images (nothing is fetched
 * from elsewhere), tables, reference definitions and entities (`&copy;` shows as typed).
 *
 * The parser only produces tokens: they become React elements in richText.tsx, so no string is ever used as HTML.
 */
const md = new MarkdownIt('default', {
  html: false,
  // Bare URLs are found by links.ts (linear time, sentence punctuation trimmed) when the tokens are rendered.
  linkify: false,
  typographer: false,
  breaks: true,
  // Deeper structures stay text: a 4,000-character message of `>` or `-` cannot build a tree thousands deep.
  maxNesting: 20,
}).disable([
  'heading',
  'lheading',
  'hr',
  'code',
  'table',
  'reference',
  'image',
  'entity',
  'html_block',
  'html_inline',
]);

// Links written as [text](url) or <url>: http, https and mailto only; anything else is not a link at all.
md.validateLink = (url: string) => safeHref(url) !== null;

export type { Token };

/** Block tokens of a message (inline tokens carry their `children`). */
export function parseMarkdown(text: string): Token[] {
  return md.parse(text, {});
}
