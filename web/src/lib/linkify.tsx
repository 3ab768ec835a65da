import type { ReactNode } from 'react';
import { findLinks } from './links';

export { safeHref } from './links';

/**
 * Message text as React nodes: plain strings (React escapes them) and links for http(s), `www.` and mailto: only;
 * web links open in a new tab without giving it a handle on this one. Nothing is ever parsed as HTML.
 */
export function linkify(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  for (const link of findLinks(text)) {
    if (link.start > last) out.push(text.slice(last, link.start));
    const web = !link.href.startsWith('mailto:');
    out.push(
      <a
        key={link.start}
        href={link.href}
        target={web ? '_blank' : undefined}
        rel={web ? 'noopener noreferrer' : undefined}
      >
        {link.text}
      </a>,
    );
    last = link.end;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
