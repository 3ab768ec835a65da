import unhomoglyph from 'unhomoglyph';

/*
 * Names that could pass for one another get one key, so that only one of them can exist (issue 13, item 4).
 * The key is the confusable skeleton of UTS #39 (Unicode Security Mechanisms, section 4):
 *   skeleton(X) = NFD(map each character of (NFD(X) without Default_Ignorable_Code_Point) to its prototype)
 * with the prototypes of Unicode's confusables.txt as shipped by the `unhomoglyph` package (its data.json is that
 * file's mapping, version 13.0.0; `unhomoglyph()` maps every code point, nothing more). Why that package and not
 * another: docs/DECISIONS.md ("Look-alike names"). Names are compared case-insensitively, so the keys below fold case too.
 */

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

/** UTS #39 skeleton: two strings with the same skeleton are confusable. Not for display. */
export function skeleton(s: string): string {
  return unhomoglyph(s.normalize('NFD').replace(IGNORABLE, '')).normalize('NFD');
}

/**
 * Case and confusability together: a lower-case letter whose capital is the prototype of another letter (I is
 * confusable with l, so i = I = l once case is ignored) is folded to that letter. Computed from the data, not
 * listed by hand: today it is i → l alone.
 */
const CASE_FOLDS = new Map<string, string>();
for (let c = 0x61; c <= 0x7a; c++) {
  const lower = String.fromCharCode(c);
  const ownKey = skeleton(lower).toLowerCase();
  const capitalKey = skeleton(lower.toUpperCase()).toLowerCase();
  if (capitalKey !== lower && capitalKey !== ownKey) CASE_FOLDS.set(lower, capitalKey);
}

/** NFKC, lower case, the skeleton, lower case again (prototypes may be capitals: 0 → O), the case folds above. */
function foldedSkeleton(name: string): string {
  const key = skeleton(name.normalize('NFKC').toLowerCase()).toLowerCase();
  return key.replace(/[a-z]/g, (c) => CASE_FOLDS.get(c) ?? c);
}

/**
 * Two letters that read as two others in the sans-serif fonts chat clients use, which confusables.txt leaves out
 * although it lists their like (m → rn): d → cl, w → vv. Applied to the keys of people's names only (usernames and
 * display names, where a look-alike is an impersonation), not to room names, where `dear` and `clear` are two
 * words. Why these two on top of Unicode's data: docs/DECISIONS.md ("Look-alike names").
 */
const PEOPLE_SEQUENCES = /[dw]/g;
const PEOPLE_PROTOTYPES: Record<string, string> = { d: 'cl', w: 'vv' };
const peopleKey = (key: string) => key.replace(PEOPLE_SEQUENCES, (c) => PEOPLE_PROTOTYPES[c]!);

/**
 * The uniqueness key of a username: its skeleton without the separators `.`, `_` and `-`, so `victim.`,
 * `.victim`, `v.i.c.t.i.m`, `VICTIM`, `vict1m` and `victirn` all share the key of `victim`, and `d0ud` that of
 * `cloud`.
 */
export function usernameSkeleton(username: string): string {
  return peopleKey(foldedSkeleton(username).replace(/[._-]/g, ''));
}

/**
 * The key a display name claims: its skeleton without white space and the username separators, comparable with
 * usernameSkeleton (a display name `Victim` or `v i c t i m` claims the key of the username `victim`). Empty when
 * nothing is left (a name of dots alone claims nothing).
 */
export function displayNameSkeleton(displayName: string): string {
  return peopleKey(foldedSkeleton(displayName).replace(/[\s._-]+/gu, ''));
}

/** The uniqueness key of a room name: its skeleton with runs of white space read as one space (as HTML shows them). */
export function roomNameSkeleton(name: string): string {
  return foldedSkeleton(name).replace(/\s+/gu, ' ').trim();
}
