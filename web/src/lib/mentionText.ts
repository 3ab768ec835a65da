/**
 * `@name` in message text, as the server reads it (server/src/modules/messages/mentions.ts): an `@` not glued to a
 * name character or another `@` (so `a@b.c` is an address), then a name of `[A-Za-z0-9_.-]`.
 */
export const MENTION = /(?<![A-Za-z0-9_.@-])@([A-Za-z0-9_.-]+)/g;

/** Whether the `@token` may name `username`: equal, case-insensitively, once trailing dots and hyphens go. */
export function tokenNames(token: string, username: string): boolean {
  const want = username.toLowerCase();
  for (let t = token.toLowerCase(); ; t = t.slice(0, -1)) {
    if (t === want) return true;
    if (!/[.-]$/.test(t)) return false;
  }
}

/** The `@partial` being typed just before the caret, if any: where it starts and what it says so far. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = /(?<![A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{0,32})$/.exec(before);
  return m ? { start: m.index, query: m[1]! } : null;
}
