import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent } from 'react';
import { GROUPS, searchEmoji, useEmojiData, type EmojiData, type EmojiEntry } from './emojiData';
import { recentEmoji, rememberEmoji } from './recent';
import '../../styles/emoji.css';

/** Emoji per row: the grid's columns in CSS (emoji.css), so that ↑ and ↓ move by a row. */
const COLUMNS = 8;

interface Section {
  title: string;
  from: number;
  items: EmojiEntry[];
}

/** The picker's sections: search results, or the recently used emoji and then the chosen group. */
function sectionsFor(data: EmojiData, query: string, recent: string[], group: number): Section[] {
  const out: Section[] = [];
  let from = 0;
  const add = (title: string, items: EmojiEntry[]) => {
    if (!items.length) return;
    out.push({ title, from, items });
    from += items.length;
  };
  if (query.trim()) {
    add('Search results', searchEmoji(data, query));
    return out;
  }
  const byEmoji = new Map(data.list.map((e) => [e.emoji, e]));
  add(
    'Recently used',
    recent.map(
      (emoji) => byEmoji.get(emoji) ?? { emoji, label: emoji, group: -1, shortcodes: [], terms: [] },
    ),
  );
  const g = GROUPS.find((x) => x.id === group) ?? GROUPS[0]!;
  add(
    g.label,
    data.list.filter((e) => e.group === g.id),
  );
  return out;
}

/** The group buttons' faces. */
const GROUP_ICONS: Record<number, string> = {
  0: '😀',
  1: '🧑',
  3: '🐻',
  4: '🍔',
  5: '✈️',
  6: '⚽',
  7: '💡',
  8: '❤️',
  9: '🏁',
};

/**
 * The emoji picker: a search field, the recently used emoji first, then one group at a time (a row of group
 * buttons chooses it: a few hundred buttons at most in the page, not all 1,900). Picking calls
 * `onPick(emoji)` (and remembers it as recent); Escape or a click outside calls `onClose`. Self-contained so that
 * anything needing an emoji (the composer now, reactions later) can open it. The grid is one tab stop: arrow keys
 * move within it, Enter or Space picks.
 */
export default function EmojiPicker({
  onPick,
  onClose,
  className = '',
}: {
  onPick(emoji: string): void;
  onClose(): void;
  className?: string;
}) {
  const data = useEmojiData(true);
  const [query, setQuery] = useState('');
  const [active, setActive] = useState(0);
  const [group, setGroup] = useState(GROUPS[0]!.id);
  const [recent] = useState(recentEmoji);
  const root = useRef<HTMLDivElement>(null);
  const grid = useRef<HTMLDivElement>(null);
  const id = useId();
  const sections = useMemo(
    () => (data ? sectionsFor(data, query, recent, group) : []),
    [data, query, recent, group],
  );
  const count = sections.reduce((n, s) => n + s.items.length, 0);
  const entryAt = (i: number) => {
    const s = sections.find((x) => i >= x.from && i < x.from + x.items.length);
    return s?.items[i - s.from];
  };

  // A press outside closes the picker (the button that opened it toggles it itself).
  useEffect(() => {
    const outside = (e: PointerEvent) => {
      const target = e.target as Node;
      if (root.current?.contains(target)) return;
      if (target instanceof Element && target.closest('[data-emoji-toggle]')) return;
      onClose();
    };
    document.addEventListener('pointerdown', outside);
    return () => document.removeEventListener('pointerdown', outside);
  }, [onClose]);

  const pick = (entry: EmojiEntry | undefined) => {
    if (!entry) return;
    rememberEmoji(entry.emoji);
    onPick(entry.emoji);
  };

  const focusItem = (i: number) => {
    const next = Math.max(0, Math.min(count - 1, i));
    setActive(next);
    grid.current?.querySelector<HTMLButtonElement>(`[data-index="${next}"]`)?.focus();
  };

  const onGridKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const moves: Record<string, number> = {
      ArrowRight: active + 1,
      ArrowLeft: active - 1,
      ArrowDown: active + COLUMNS,
      ArrowUp: active - COLUMNS,
      Home: 0,
      End: count - 1,
    };
    const to = moves[e.key];
    if (to === undefined) return;
    e.preventDefault();
    focusItem(to);
  };

  const onClick = (e: MouseEvent<HTMLDivElement>) => {
    const button = (e.target as Element).closest<HTMLButtonElement>('button[data-index]');
    if (button) pick(entryAt(Number(button.dataset.index)));
  };

  const onSearchKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'ArrowDown' && count) {
      e.preventDefault();
      focusItem(0);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      if (query.trim()) pick(entryAt(0));
    }
  };

  return (
    <div
      ref={root}
      className={`emoji-picker ${className}`}
      role="dialog"
      aria-label="Emoji picker"
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          e.stopPropagation();
          onClose();
        }
      }}
    >
      <input
        type="search"
        className="emoji-search"
        aria-label="Search emoji"
        placeholder="Search emoji"
        value={query}
        autoFocus
        onChange={(e) => {
          setQuery(e.target.value);
          setActive(0);
        }}
        onKeyDown={onSearchKey}
      />
      {!query.trim() && (
        <div className="emoji-groups" role="group" aria-label="Emoji groups">
          {GROUPS.map((g) => (
            <button
              key={g.id}
              type="button"
              className="emoji-group-button"
              aria-label={g.label}
              title={g.label}
              aria-pressed={g.id === group}
              onClick={() => {
                setGroup(g.id);
                setActive(0);
                grid.current?.scrollTo({ top: 0 });
              }}
            >
              {GROUP_ICONS[g.id]}
            </button>
          ))}
        </div>
      )}
      {!data ? (
        <p className="emoji-status" role="status">
          Loading emoji…
        </p>
      ) : (
        <>
          <p className="sr-only" role="status">
            {query.trim() ? `${count} emoji found` : ''}
          </p>
          {count === 0 ? (
            <p className="emoji-status">No emoji found.</p>
          ) : (
            <div ref={grid} className="emoji-scroll" onKeyDown={onGridKey} onClick={onClick}>
              {sections.map((s, n) => (
                <div key={s.title} role="group" aria-labelledby={`${id}-${n}`} className="emoji-section">
                  <h2 id={`${id}-${n}`} className="emoji-section-title">
                    {s.title}
                  </h2>
                  <div className="emoji-grid">
                    {s.items.map((e, k) => {
                      const i = s.from + k;
                      return (
                        <button
                          key={e.emoji}
                          type="button"
                          className="emoji-button"
                          data-index={i}
                          tabIndex={i === Math.min(active, count - 1) ? 0 : -1}
                          aria-label={e.label}
                          title={e.shortcodes[0] ? `${e.label} :${e.shortcodes[0]}:` : e.label}
                          onFocus={() => setActive(i)}
                        >
                          {e.emoji}
                        </button>
                      );
                    })}
                  </div>
                </div>
              ))}
            </div>
          )}
        </>
      )}
    </div>
  );
}
