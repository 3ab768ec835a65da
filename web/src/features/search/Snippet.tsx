import type { ReactNode } from 'react';

/**
 * A search snippet: hits arrive wrapped in U+0002 … U+0003 (control characters, never HTML), shown as <mark>.
 * Everything is rendered as text, so a message that contains markup shows it as typed.
 */
export function Snippet({ text }: { text: string }) {
  const parts: ReactNode[] = [];
  let at = 0;
  let key = 0;
  while (at < text.length) {
    const start = text.indexOf('\u0002', at);
    if (start === -1) break;
    const end = text.indexOf('\u0003', start + 1);
    if (end === -1) break;
    if (start > at) parts.push(text.slice(at, start));
    parts.push(<mark key={key++}>{text.slice(start + 1, end)}</mark>);
    at = end + 1;
  }
  // Whatever is left, stray markers removed (a snippet cut in the middle of a hit).
  // eslint-disable-next-line no-control-regex -- the markers are control characters
  if (at < text.length) parts.push(text.slice(at).replace(/[\u0002\u0003]/g, ''));
  return <>{parts}</>;
}
