/** The emoji this browser picked last, most recent first (the picker's first row, the autocomplete's first hits). */
const KEY = 'parley.recentEmoji';
const MAX = 24;

/** The recently used emoji, most recent first; nothing if storage is unavailable or holds something else. */
export function recentEmoji(): string[] {
  try {
    const raw: unknown = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    if (!Array.isArray(raw)) return [];
    return raw
      .filter((e): e is string => typeof e === 'string' && e.length > 0 && e.length <= 32)
      .slice(0, MAX);
  } catch {
    return [];
  }
}

/** Moves `emoji` to the front of the recent list. */
export function rememberEmoji(emoji: string): void {
  const next = [emoji, ...recentEmoji().filter((e) => e !== emoji)].slice(0, MAX);
  try {
    localStorage.setItem(KEY, JSON.stringify(next));
  } catch {
    // Private mode or a full quota: the list is a convenience, picking still works.
  }
}
