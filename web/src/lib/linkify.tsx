import type { ReactNode } from 'react';
import { findLinks } from './links';

export { safeHref } from './links';

/**
 * Message text as React nodes: plain strings (React escapes them) and links for http/https URLs only, opened
 * in a new tab without giving it a handle on this one. Nothing is ever parsed as HTML.
 */
export function linkify(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  for (const link of findLinks(text)) {
    if (link.start > last) out.push(text.slice(last, link.start));
    out.push(
      <a key={link.start} href={link.href} target="_blank" rel="noopener noreferrer">
        {link.text}
      </a>,
    );
    last = link.end;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
