/** A `:shortcode:` candidate: the name between two colons (Slack's names: letters, digits, `_`, `+`, `-`). */
const SHORTCODE = /:([a-z0-9_+-]{1,64}):/gi;

/** Whether `text` may hold a `:shortcode:` (worth loading the emoji data for). */
export function mayHaveShortcodes(text: string): boolean {
  SHORTCODE.lastIndex = 0;
  return SHORTCODE.test(text);
}

/**
 * `text` with every known `:shortcode:` replaced by its emoji; unknown ones (`10:30:45`, `:nope:`) stay as typed.
 * After a miss the scan resumes at the closing colon, which may open the next shortcode (`a:b:smile:`).
 */
export function replaceShortcodes(text: string, byShortcode: ReadonlyMap<string, string>): string {
  if (!text.includes(':')) return text;
  const re = new RegExp(SHORTCODE.source, 'gi');
  let out = '';
  let last = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const emoji = byShortcode.get(m[1]!.toLowerCase());
    if (emoji === undefined) {
      re.lastIndex = m.index + m[0].length - 1;
      continue;
    }
    out += text.slice(last, m.index) + emoji;
    last = m.index + m[0].length;
  }
  return last === 0 ? text : out + text.slice(last);
}

/** Emoji pictographs and what joins or modifies them; `#`, `*` and digits (also "emoji") do not count. */
const EMOJI_ONLY =
  /^(?:\p{Extended_Pictographic}|\p{Emoji_Modifier}|\p{Regional_Indicator}|\u200d|\ufe0f|\u20e3|[\u{e0020}-\u{e007f}]|\s)+$/u;

/** Whether a message is nothing but a few emoji (shown larger, as Slack does): at most 10 of them. */
export function isEmojiOnly(text: string): boolean {
  const t = text.trim();
  if (!t || t.length > 80 || !EMOJI_ONLY.test(t)) return false;
  const segments = [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(t)];
  return segments.filter((s) => s.segment.trim()).length <= 10;
}

/**
 * The `:partial` shortcode being typed just before the caret (at least two characters, after a space or at the
 * start, as Slack does), if any: where its colon is and what follows it. A closed `:name:` is not a query.
 */
export function shortcodeQuery(text: string, caret: number): { start: number; query: string } | null {
  const m = /(^|[\s(])(:([a-z0-9_+-]{2,32}))$/i.exec(text.slice(Math.max(0, caret - 40), caret));
  if (!m) return null;
  return { start: caret - m[2]!.length, query: m[3]! };
}
