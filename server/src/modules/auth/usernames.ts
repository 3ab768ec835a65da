/*
 * Usernames are NFKC-normalised by the schema (so ＡＤＭＩＮ becomes ADMIN) and limited to [A-Za-z0-9_.-], which
 * already refuses Cyrillic look-alikes, zero-width and bidi characters. The exact key below is the account name one
 * signs in with; look-alikes (`adm1n`, `admin.`, `adrnin`) are refused by the confusable skeleton of
 * modules/names/skeleton.ts, held in name_claims.
 */

/** The case-insensitive key names are compared by (sign-in, ordering). */
export const usernameKey = (username: string): string => username.normalize('NFKC').toLowerCase();
