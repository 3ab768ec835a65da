/*
 * Character rules shared by every string a client sends (issue 13, items 4 and 8). Two levels:
 * - no input carries control characters: a NUL in a login name reached SQLite's driver (a 500 that logged the SQL)
 *   and PostgreSQL (which cannot store it). Free text (messages, descriptions) keeps its line breaks and tabs.
 * - a name that is shown to other people (display names, room names) carries nothing invisible: format characters,
 *   default-ignorable code points (U+3164 HANGUL FILLER and its kin, variation selectors, tag characters), private-use
 *   and unassigned code points, line separators, the braille blank. Otherwise twenty rooms can all read "general".
 *   What stays legal is where an invisible character does visible work: the joiners inside emoji sequences and inside
 *   words of scripts that spell with them (Persian, Arabic, Indic), variation selectors right after the character
 *   they select a glyph for, and the tag characters of a subdivision flag.
 * Unicode properties come from the JavaScript engine's own tables (Node 20: Unicode 15.1 or later).
 */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
// eslint-disable-next-line no-control-regex -- the same, minus tab and line feed
const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/u;

/** True when `s` has a C0 or C1 control character (NUL, ESC, DEL, U+0085…), tab and newline included. */
export const hasControl = (s: string): boolean => CONTROL.test(s);
/** True when `s` has a control character other than tab and line feed (free text keeps those). */
export const hasControlButLines = (s: string): boolean => CONTROL_BUT_LINES.test(s);
/** Free text arrives with CR LF (or a lone CR) from some clients: stored as LF, the one line break kept. */
export const normaliseNewlines = (s: string): string => s.replace(/\r\n?/g, '\n');

/** Scripts whose words never need a joiner: a joiner there is only a way to make two names look the same. */
const NOT_JOINING_SCRIPT = '(?![\\p{sc=Latin}\\p{sc=Greek}\\p{sc=Cyrillic}])';

/** Invisible characters in positions where they do visible work; removed before the check below. */
const ALLOWED_INVISIBLE: [RegExp, string][] = [
  // A subdivision flag: black flag, tag letters, cancel tag (England, Scotland, Wales).
  [/\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F}/gu, '\u{1F3F4}'],
  // The joiner inside an emoji sequence (👩‍👩‍👧, 👩🏽‍💻, ❤️‍🔥).
  [/(?<=[\p{Extended_Pictographic}\p{Emoji_Modifier}\uFE0F])\u200D(?=\p{Extended_Pictographic})/gu, ''],
  // Joiner and non-joiner between two letters (or marks) of a script that spells with them (می‌خواهم).
  [new RegExp(`(?<=${NOT_JOINING_SCRIPT}[\\p{L}\\p{M}])[\\u200C\\u200D](?=[\\p{L}\\p{M}])`, 'gu'), ''],
  // Emoji or text presentation right after an emoji (❤️, 1️⃣).
  [/(?<=\p{Emoji})[\uFE0E\uFE0F]/gu, ''],
  // Other variation selectors right after a visible character (ideographic variation sequences).
  [/(?<=[\p{L}\p{N}\p{S}\p{P}])[\uFE00-\uFE0D\u{E0100}-\u{E01EF}]/gu, ''],
];

/**
 * Invisible or unprintable: controls (Cc), format characters (Cf: bidi controls, U+061C, soft hyphen, U+2061–2064,
 * U+206A–206F, tags), private use (Co), unassigned (Cn), lone surrogates (Cs), line and paragraph separators, every
 * Default_Ignorable_Code_Point (U+115F, U+1160, U+3164, U+FFA0, variation selectors, U+034F…) and the braille blank.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u2800]/u;

/** True when a name shown to others carries an invisible character outside the sequences that need one. */
export function hasInvisible(name: string): boolean {
  let rest = name;
  for (const [re, by] of ALLOWED_INVISIBLE) rest = rest.replace(re, by);
  return INVISIBLE.test(rest);
}
