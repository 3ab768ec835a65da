import type { Member } from '@parley/protocol';

/** One suggestion of the `@` autocomplete: a member, or `@room` (the owner's "everyone"). */
export interface Suggestion {
  key: string;
  username: string;
  label: string;
}

const MAX_SUGGESTIONS = 8;

/** Members whose username or display name starts with `query` (case-insensitively), `@room` for the owner. */
export function suggestionsFor(
  members: Member[] | undefined,
  query: string,
  opts: { meId: string | null; offerRoom: boolean },
): Suggestion[] {
  const q = query.toLowerCase();
  const out: Suggestion[] = [];
  if (opts.offerRoom && 'room'.startsWith(q))
    out.push({ key: 'room', username: 'room', label: 'Everyone in this room' });
  for (const m of members ?? []) {
    if (out.length >= MAX_SUGGESTIONS) break;
    if (m.user.id === opts.meId) continue;
    const u = m.user.username.toLowerCase();
    if (u.startsWith(q) || m.user.displayName.toLowerCase().startsWith(q))
      out.push({ key: m.user.id, username: m.user.username, label: m.user.displayName });
  }
  return out;
}

/**
 * The listbox of the composer's `@` autocomplete. The textarea keeps the focus and points at the active option
 * with aria-activedescendant (the ARIA combobox pattern's popup; the field keeps its textbox role, which is how
 * everything finds "Message").
 */
export function MentionSuggestions({
  id,
  items,
  active,
  onPick,
}: {
  id: string;
  items: Suggestion[];
  active: number;
  onPick(s: Suggestion): void;
}) {
  return (
    <ul id={id} role="listbox" aria-label="Mention someone" className="mention-list">
      {items.map((s, i) => (
        <li
          key={s.key}
          id={`${id}-${i}`}
          role="option"
          aria-selected={i === active}
          className={`mention-option${i === active ? ' active' : ''}`}
          // Before the textarea's blur: the pick keeps the caret where it was.
          onMouseDown={(e) => {
            e.preventDefault();
            onPick(s);
          }}
        >
          <span className="mention-username">@{s.username}</span>
          <span className="mention-label truncate">{s.label}</span>
        </li>
      ))}
    </ul>
  );
}
