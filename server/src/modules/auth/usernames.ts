/*
 * Usernames are NFKC-normalised by the schema (so ＡＤＭＩＮ becomes ADMIN) and limited to [A-Za-z0-9_.-], which
 * already refuses Cyrillic look-alikes, zero-width and bidi characters. What is left to catch is ASCII that looks
 * alike: the skeleton folds case and the classic confusables so that `admin`, `AdMin`, `adm1n` and `admln` collide.
 */

/** The case-insensitive key names are compared by. */
export const usernameKey = (username: string): string => username.normalize('NFKC').toLowerCase();

const FOLDS: [RegExp, string][] = [
  [/rn/g, 'm'],
  [/vv/g, 'w'],
  [/[0]/g, 'o'],
  [/[1|!i]/g, 'l'],
  [/5/g, 's'],
  [/_/g, '-'],
];

/** Two usernames with the same skeleton would be mistaken for each other; only one may exist. */
export function usernameSkeleton(username: string): string {
  let s = usernameKey(username);
  for (const [re, to] of FOLDS) s = s.replace(re, to);
  return s;
}
