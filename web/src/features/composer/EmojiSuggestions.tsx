import type { EmojiEntry } from '../emoji/emojiData';

/** One suggestion of the composer's `:shortcode` autocomplete. */
export interface EmojiSuggestion {
  shortcode: string;
  entry: EmojiEntry;
}

/**
 * The listbox of the composer's `:shortcode` autocomplete; like MentionSuggestions, the textarea keeps the focus and
 * points at the active option with aria-activedescendant.
 */
export function EmojiSuggestions({
  id,
  items,
  active,
  onPick,
}: {
  id: string;
  items: EmojiSuggestion[];
  active: number;
  onPick(s: EmojiSuggestion): void;
}) {
  return (
    <ul id={id} role="listbox" aria-label="Emoji suggestions" className="mention-list">
      {items.map((s, i) => (
        <li
          key={s.entry.emoji}
          id={`${id}-${i}`}
          role="option"
          aria-selected={i === active}
          className={`mention-option${i === active ? ' active' : ''}`}
          onMouseDown={(e) => {
            e.preventDefault();
            onPick(s);
          }}
        >
          <span className="emoji-glyph" aria-hidden="true">
            {s.entry.emoji}
          </span>
          <span className="mention-username">:{s.shortcode}:</span>
          <span className="sr-only">{s.entry.label}</span>
        </li>
      ))}
    </ul>
  );
}
