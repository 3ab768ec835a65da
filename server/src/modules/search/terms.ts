/*
 * What a search query means, and how a hit is shown. The databases fold and tokenize the stored text (FTS5's
 * unicode61 with remove_diacritics 2; PostgreSQL's parser over parley_search_fold, migration 005); the query is
 * folded and split the same way here, into words of letters and digits only. So nothing the user types reaches
 * either query language as syntax: FTS5 gets each word as a quoted string, PostgreSQL each one quoted in to_tsquery.
 */

/** Snippets longer than this are cut around the first hit. */
const SNIPPET_CHARS = 200;
/** How much text precedes the first hit in a cut snippet. */
const SNIPPET_LEAD = 60;
/** More words than this add nothing but cost (each one is an index lookup): the rest are ignored. */
const MAX_TERMS = 16;

/**
 * Case and accents out: lower case, NFD, combining marks stripped (as unicode61 and parley_search_fold do). Lower
 * case first: some capitals lower to a letter and a combining mark (İ), which then goes too.
 */
export const fold = (s: string): string => s.toLowerCase().normalize('NFD').replace(/\p{M}/gu, '');

/** The words of a query, folded: the last one is matched as a prefix. Empty when it has no letters or digits. */
export function searchTerms(q: string): string[] {
  return (fold(q).match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, MAX_TERMS);
}

/** FTS5 MATCH expression: every word, each a quoted string (so no syntax), the last one a prefix. */
export function fts5Query(terms: string[]): string {
  return terms.map((t, i) => `"${t.replace(/"/g, '""')}"${i === terms.length - 1 ? ' *' : ''}`).join(' AND ');
}

/** to_tsquery text: every word quoted (letters and digits only: nothing to escape but quotes), the last one `:*`. */
export function tsQuery(terms: string[]): string {
  return terms.map((t, i) => `'${t.replace(/'/g, "''")}'${i === terms.length - 1 ? ':*' : ''}`).join(' & ');
}

export const HIT_START = '\u0002';
export const HIT_END = '\u0003';

/**
 * The message's text with every word that matches a term wrapped in U+0002 … U+0003: whole words for all terms but
 * the last, which matches as a prefix (as the query did). Longer texts are cut to about SNIPPET_CHARS around the
 * first hit, at word boundaries, with "…" where cut. Marker characters already in the text are removed first, so
 * the markers are the only ones.
 */
export function snippet(text: string, terms: string[]): string {
  // eslint-disable-next-line no-control-regex -- the markers are control characters
  const clean = text.replace(/[\u0002\u0003]/g, '');
  const last = terms[terms.length - 1] ?? '';
  const whole = new Set(terms.slice(0, -1));
  const hits: [number, number][] = [];
  for (const m of clean.matchAll(/[\p{L}\p{N}\p{M}]+/gu)) {
    const word = fold(m[0]);
    if (whole.has(word) || (last && word.startsWith(last))) hits.push([m.index, m.index + m[0].length]);
  }
  let from = 0;
  let to = clean.length;
  if (clean.length > SNIPPET_CHARS) {
    const first = hits[0]?.[0] ?? 0;
    from = Math.max(0, first - SNIPPET_LEAD);
    to = Math.min(clean.length, from + SNIPPET_CHARS);
    from = Math.max(0, to - SNIPPET_CHARS);
    // Whole words at the edges: move in to the next space, unless that would lose the first hit.
    if (from > 0) {
      const space = clean.indexOf(' ', from);
      if (space !== -1 && space < first) from = space + 1;
    }
    if (to < clean.length) {
      const space = clean.lastIndexOf(' ', to);
      if (space > from && space > (hits[0]?.[1] ?? 0)) to = space;
    }
  }
  let out = from > 0 ? '…' : '';
  let at = from;
  for (const [start, end] of hits) {
    if (end <= from || start >= to) continue;
    const s = Math.max(start, from);
    const e = Math.min(end, to);
    out += clean.slice(at, s) + HIT_START + clean.slice(s, e) + HIT_END;
    at = e;
  }
  out += clean.slice(at, to);
  return to < clean.length ? out + '…' : out;
}
