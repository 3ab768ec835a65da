/**
 * A URL-looking run: `http://`, `https://`, `mailto:` or a bare `www.`, then anything up to whitespace or a
 * character that cannot be part of a bare URL.
 */
const URL_RE = /\b(?:https?:\/\/|mailto:|www\.)[^\s<>"'`]+/gi;
/** Punctuation that usually ends a sentence rather than a URL. */
const TRAILING = new Set('.,;:!?\'")]}>');

/** One link found in text: where it is (`start` … `end`, exclusive) and the href to use. */
export interface FoundLink {
  start: number;
  end: number;
  text: string;
  href: string;
}

/** The only schemes a message may link to: everything else (javascript:, data:, vbscript:, file:, …) stays text. */
const SCHEMES = new Set(['http:', 'https:', 'mailto:']);

/** An http(s) or mailto: URL we are willing to link to, or null. */
export function safeHref(raw: string): string | null {
  try {
    const url = new URL(raw);
    if (!SCHEMES.has(url.protocol)) return null;
    // A mailto: link names an address (`mailto:` alone, or `mailto:javascript`, is not one).
    if (url.protocol === 'mailto:' && !/^[^@\s]+@[^@\s]+$/.test(decodeURIComponent(url.pathname)))
      return null;
    return url.href;
  } catch {
    return null;
  }
}

/** The href for a link found in text: a bare `www.` host is taken as https. */
function hrefOf(raw: string): string | null {
  if (/^www\./i.test(raw)) return raw.length > 4 ? safeHref(`https://${raw}`) : null;
  return safeHref(raw);
}

/**
 * How many characters at the end of `raw` are sentence punctuation rather than URL. One backward scan: a regex such
 * as `/[.,;:!?'")\]}>]+$/` retries from every start position in a long run of punctuation and is quadratic in it (a
 * 50,000-character message froze the tab).
 */
export function trailingPunctuation(raw: string): number {
  let i = raw.length;
  while (i > 0 && TRAILING.has(raw[i - 1]!)) i--;
  return raw.length - i;
}

/** Occurrences of `ch` in `s`. */
function count(s: string, ch: string): number {
  let n = 0;
  for (let i = s.indexOf(ch); i !== -1; i = s.indexOf(ch, i + 1)) n++;
  return n;
}

/** The http(s), `www.` and mailto: links in message text, in order; linear in the length of the text. */
export function findLinks(text: string): FoundLink[] {
  const out: FoundLink[] = [];
  for (const match of text.matchAll(URL_RE)) {
    let raw = match[0];
    const trail = trailingPunctuation(raw);
    if (trail) {
      const cut = raw.slice(raw.length - trail);
      raw = raw.slice(0, raw.length - trail);
      // Keep a ")" that closes one opened inside the URL (Wikipedia-style links).
      if (cut.startsWith(')') && count(raw, '(') > count(raw, ')')) raw += ')';
    }
    const href = hrefOf(raw);
    if (href) out.push({ start: match.index, end: match.index + raw.length, text: raw, href });
  }
  return out;
}
