import type { CompactEmoji, ShortcodesDataset } from 'emojibase';
import { useEffect, useSyncExternalStore } from 'react';

/** One emoji of the picker. */
export interface EmojiEntry {
  emoji: string;
  label: string;
  group: number;
  shortcodes: string[];
  /** Lower-case words it is found by: its name, tags and shortcodes (split at `_`). */
  terms: string[];
}

export interface EmojiData {
  /** Pickable emoji in Unicode's order (skin-tone variants and bare components left out). */
  list: EmojiEntry[];
  /** Every shortcode (lower case, skin tones included) → its emoji. */
  byShortcode: Map<string, string>;
  /** Shortcode → entry, in the order `list` has them: the autocomplete scans it. */
  shortcodes: [string, EmojiEntry][];
}

/** emojibase's groups, as the picker titles them (group 2, skin tones and hair, has no pickable emoji). */
export const GROUPS: { id: number; label: string }[] = [
  { id: 0, label: 'Smileys & emotion' },
  { id: 1, label: 'People & body' },
  { id: 3, label: 'Animals & nature' },
  { id: 4, label: 'Food & drink' },
  { id: 5, label: 'Travel & places' },
  { id: 6, label: 'Activities' },
  { id: 7, label: 'Objects' },
  { id: 8, label: 'Symbols' },
  { id: 9, label: 'Flags' },
];
const COMPONENT_GROUP = 2;

const asList = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** The picker's and the shortcodes' data from emojibase's compact English dataset and its Slack (iamcal) names. */
export function buildEmojiData(compact: CompactEmoji[], names: ShortcodesDataset): EmojiData {
  const list: EmojiEntry[] = [];
  const byShortcode = new Map<string, string>();
  const shortcodes: [string, EmojiEntry][] = [];
  const sorted = [...compact].sort((a, b) => (a.order ?? Infinity) - (b.order ?? Infinity));
  for (const e of sorted) {
    for (const skin of e.skins ?? []) {
      for (const name of asList(names[skin.hexcode])) byShortcode.set(name.toLowerCase(), skin.unicode);
    }
    const codes = asList(names[e.hexcode]).map((n) => n.toLowerCase());
    for (const name of codes) if (!byShortcode.has(name)) byShortcode.set(name, e.unicode);
    if (e.group === undefined || e.group === COMPONENT_GROUP) continue;
    const words = [e.label, ...(e.tags ?? []), ...codes.map((c) => c.replace(/_/g, ' '))]
      .join(' ')
      .toLowerCase()
      .split(/[\s:,'’()-]+/)
      .filter(Boolean);
    const entry: EmojiEntry = {
      emoji: e.unicode,
      label: e.label,
      group: e.group,
      shortcodes: codes,
      terms: [...new Set(words)],
    };
    list.push(entry);
    for (const c of codes) shortcodes.push([c, entry]);
  }
  return { list, byShortcode, shortcodes };
}

/**
 * Emoji matching a search: every word of `query` begins one of the emoji's words. Those named by a shortcode that
 * starts with the query come first.
 */
export function searchEmoji(data: EmojiData, query: string, limit = 200): EmojiEntry[] {
  const words = query
    .toLowerCase()
    .split(/[\s:_]+/)
    .filter(Boolean);
  if (!words.length) return [];
  const q = query.trim().toLowerCase().replace(/^:|:$/g, '');
  const first: EmojiEntry[] = [];
  const rest: EmojiEntry[] = [];
  for (const e of data.list) {
    if (!words.every((w) => e.terms.some((t) => t.startsWith(w)))) continue;
    (e.shortcodes.some((c) => c.startsWith(q)) ? first : rest).push(e);
    if (first.length >= limit) break;
  }
  return [...first, ...rest].slice(0, limit);
}

/** The composer's `:sho` suggestions: shortcodes starting with `query`, the recently used emoji first. */
export function shortcodeSuggestions(
  data: EmojiData,
  query: string,
  recent: readonly string[],
  limit = 8,
): { shortcode: string; entry: EmojiEntry }[] {
  const q = query.toLowerCase();
  const seen = new Set<string>();
  const hits: { shortcode: string; entry: EmojiEntry; rank: number }[] = [];
  for (const [shortcode, entry] of data.shortcodes) {
    if (!shortcode.startsWith(q) || seen.has(entry.emoji)) continue;
    seen.add(entry.emoji);
    const r = recent.indexOf(entry.emoji);
    // Recent first (most recent on top), then an exact name, then Unicode's order.
    hits.push({ shortcode, entry, rank: r >= 0 ? r - 1000 : shortcode === q ? -1 : hits.length });
  }
  return hits
    .sort((a, b) => a.rank - b.rank)
    .slice(0, limit)
    .map(({ shortcode, entry }) => ({ shortcode, entry }));
}

/*
 * The data is large (≈ 1,900 emoji with names and tags) and needed only once someone opens the picker, types
 * `:sho` or reads a message with a `:shortcode:`: it is a chunk of its own, loaded then, from our own server.
 * A page-wide cache like the browser's module cache: the data never changes while the page lives.
 */
let loaded: EmojiData | null = null;
let loading: Promise<EmojiData> | null = null;
const listeners = new Set<() => void>();

/** Loads the emoji data once (later calls share the first); a failed load may be tried again. */
export function loadEmojiData(): Promise<EmojiData> {
  loading ??= Promise.all([
    import('emojibase-data/en/compact.json'),
    import('emojibase-data/en/shortcodes/iamcal.json'),
  ]).then(
    ([compact, names]) => {
      loaded = buildEmojiData(compact.default, names.default);
      listeners.forEach((l) => l());
      return loaded;
    },
    (err: unknown) => {
      loading = null;
      throw err;
    },
  );
  return loading;
}

const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};

/** The emoji data once loaded (null before); asks for it when `wanted`. Shortcodes stay text if it fails. */
export function useEmojiData(wanted: boolean): EmojiData | null {
  const data = useSyncExternalStore(subscribe, () => loaded);
  useEffect(() => {
    if (wanted && !loaded) loadEmojiData().catch(() => undefined);
  }, [wanted]);
  return data;
}
