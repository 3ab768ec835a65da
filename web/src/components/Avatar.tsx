import type { User } from '@parley/protocol';

/** A stable colour per user, from a small palette that keeps white initials readable. */
function tone(id: string): number {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % 8;
}

export function initials(name: string): string {
  const parts = name
    .trim()
    .split(/[\s._-]+/u)
    .filter(Boolean);
  const letters = parts.length > 1 ? [parts[0]!, parts[parts.length - 1]!] : [name.trim()];
  const chars = letters.map((p) => [...p][0] ?? '').join('');
  return (parts.length > 1 ? chars : [...name.trim()].slice(0, 2).join('')).toUpperCase() || '?';
}

/** A user's picture or their initials; decorative, since the name is always shown next to it. */
export function Avatar({ user, size = 'md' }: { user: User; size?: 'sm' | 'md' }) {
  if (user.avatarUrl) {
    return <img className={`avatar avatar-${size}`} src={user.avatarUrl} alt="" width={36} height={36} />;
  }
  return (
    <span className={`avatar avatar-${size} tone-${tone(user.id)}`} aria-hidden="true">
      {initials(user.displayName || user.username)}
    </span>
  );
}
