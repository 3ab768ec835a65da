import {
  useEffect,
  useId,
  useLayoutEffect,
  useRef,
  useState,
  type CSSProperties,
  type KeyboardEvent,
  type Ref,
} from 'react';
import { Icon } from '../../components/Icon';

export interface MenuItem {
  label: string;
  onSelect(): void;
  /** Styled as a destructive action. */
  danger?: boolean;
}

/**
 * A message's "More actions" button and its menu (WAI-ARIA menu button): Enter, Space or ↓ open it on the first
 * item, ↑ on the last; arrows, Home and End move; Enter chooses; Escape (or Tab, or a press outside) closes it,
 * and focus goes back to the button. A long press on the message opens the same menu (`open` is the parent's).
 */
export function MessageMenu({
  items,
  open,
  onOpenChange,
  describedBy,
  buttonRef,
}: {
  items: MenuItem[];
  open: boolean;
  onOpenChange(open: boolean): void;
  describedBy?: string;
  buttonRef?: Ref<HTMLButtonElement>;
}) {
  const id = useId();
  const menu = useRef<HTMLDivElement>(null);
  const ownButton = useRef<HTMLButtonElement | null>(null);
  /** Which item takes focus when the menu opens (↑ on the button opens it at the end). */
  const want = useRef<'first' | 'last'>('first');
  const setButton = (el: HTMLButtonElement | null) => {
    ownButton.current = el;
    if (typeof buttonRef === 'function') buttonRef(el);
    else if (buttonRef) (buttonRef as { current: HTMLButtonElement | null }).current = el;
  };
  /** Where the menu shows: fixed to the viewport, so the timeline's scroller cannot clip it; above the button
   * when the button is in the lower half of the screen. */
  const [place, setPlace] = useState<CSSProperties>({});
  useLayoutEffect(() => {
    const b = ownButton.current;
    if (!open || !b) return;
    const r = b.getBoundingClientRect();
    const right = Math.max(8, window.innerWidth - r.right);
    setPlace(
      r.top > window.innerHeight / 2
        ? { position: 'fixed', right, top: 'auto', bottom: window.innerHeight - r.top + 4 }
        : { position: 'fixed', right, top: r.bottom + 4, bottom: 'auto' },
    );
  }, [open]);
  const itemEls = () => [...(menu.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
  const close = (refocus: boolean) => {
    onOpenChange(false);
    if (refocus) ownButton.current?.focus();
  };

  // Opened: focus goes to the first (or last) item.
  useEffect(() => {
    if (!open) return;
    const first = want.current === 'last' ? itemEls().at(-1) : itemEls()[0];
    want.current = 'first';
    first?.focus();
    const outside = (e: PointerEvent) => {
      const t = e.target as Node;
      if (menu.current?.contains(t) || ownButton.current?.contains(t)) return;
      onOpenChange(false);
    };
    document.addEventListener('pointerdown', outside);
    return () => document.removeEventListener('pointerdown', outside);
  }, [open, onOpenChange]);

  const onMenuKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const els = itemEls();
    const at = els.indexOf(document.activeElement as HTMLElement);
    const to: Record<string, number> = {
      ArrowDown: (at + 1) % els.length,
      ArrowUp: (at - 1 + els.length) % els.length,
      Home: 0,
      End: els.length - 1,
    };
    if (e.key in to) {
      e.preventDefault();
      els[to[e.key]!]?.focus();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      close(true);
    } else if (e.key === 'Tab') {
      close(false);
    }
    // Keys meant for the message (R, E, arrows) must not reach it from inside the menu.
    e.stopPropagation();
  };

  const onButtonKey = (e: KeyboardEvent<HTMLButtonElement>) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      e.stopPropagation();
      want.current = e.key === 'ArrowDown' ? 'first' : 'last';
      onOpenChange(true);
    }
  };

  return (
    <span className="message-menu">
      <button
        ref={setButton}
        type="button"
        className="icon-button small"
        aria-label="More actions"
        title="More actions"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? id : undefined}
        aria-describedby={describedBy}
        onClick={() => (open ? close(false) : onOpenChange(true))}
        onKeyDown={onButtonKey}
      >
        <Icon name="more" size={16} />
      </button>
      {open && (
        <div
          ref={menu}
          id={id}
          role="menu"
          aria-label="Message actions"
          className="menu message-menu-list"
          style={place}
          onKeyDown={onMenuKey}
        >
          {items.map((item) => (
            <button
              key={item.label}
              type="button"
              role="menuitem"
              tabIndex={-1}
              className={`menu-item${item.danger ? ' danger' : ''}`}
              onClick={() => {
                // Closed first: the action may open a dialog or the composer, which then keep the focus.
                onOpenChange(false);
                item.onSelect();
              }}
            >
              {item.label}
            </button>
          ))}
        </div>
      )}
    </span>
  );
}
