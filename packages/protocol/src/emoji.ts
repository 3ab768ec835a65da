/*
 * What a reaction's emoji is (contract v2: one grapheme of Unicode's RGI emoji set), shared by the server's
 * EmojiSchema and the web client (which imports this file directly: it has no zod in it).
 */

/** One RGI emoji. Built at run time: the `v` flag is newer than the compile target; Node 20 and every browser we serve have it. */
let rgi: RegExp | null = null;
const isRgi = (s: string) => (rgi ??= new RegExp('^\\p{RGI_Emoji}$', 'v')).test(s);

/**
 * The one spelling an emoji is stored under, or null when `s` is not one RGI emoji. Emoji data sets and keyboards
 * disagree on presentation selectors: a bare pictograph Unicode writes with one (❤ → ❤️) gets it, and one written
 * with a selector Unicode does not use there (👍️ → 👍) loses it, so that every spelling is one reaction.
 */
export function normaliseEmoji(s: string): string | null {
  if (s.length === 0 || s.length > 32) return null;
  if (isRgi(s)) return s;
  const bare = s.replace(/\uFE0F/g, '');
  if (isRgi(bare)) return bare;
  const qualified = `${bare}\uFE0F`;
  return isRgi(qualified) ? qualified : null;
}
