import type { ReactNode } from 'react';

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
/** Punctuation that usually ends a sentence rather than a URL. */
const TRAILING = /[.,;:!?'")\]}>]+$/;

/** An http(s) URL we are willing to link to, or null. */
export function safeHref(raw: string): string | null {
  try {
    const url = new URL(raw);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Message text as React nodes: plain strings (React escapes them) and links for http/https URLs only, opened
 * in a new tab without giving it a handle on this one. Nothing is ever parsed as HTML.
 */
export function linkify(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let raw = match[0];
    const start = match.index;
    const trail = TRAILING.exec(raw)?.[0] ?? '';
    if (trail) {
      raw = raw.slice(0, raw.length - trail.length);
      // Keep a ")" that closes one opened inside the URL (Wikipedia-style links).
      const opens = raw.split('(').length - 1;
      const closes = raw.split(')').length - 1;
      if (trail.startsWith(')') && opens > closes) raw += ')';
    }
    const href = safeHref(raw);
    if (!href) continue;
    if (start > last) out.push(text.slice(last, start));
    out.push(
      <a key={start} href={href} target="_blank" rel="noopener noreferrer">
        {raw}
      </a>,
    );
    last = start + raw.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}
