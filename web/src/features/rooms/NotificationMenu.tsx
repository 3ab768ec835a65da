import type { NotificationLevel, Room } from '@parley/protocol';
import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import { api } from '../../api/client';
import { describeError } from '../../api/errors';
import { Icon } from '../../components/Icon';
import { setNotice, upsertRoom } from '../../store/chat';

const LEVELS: { level: NotificationLevel; label: string; hint: string }[] = [
  { level: 'all', label: 'All messages', hint: 'Notify me of every message' },
  { level: 'mentions', label: 'Mentions only', hint: 'Only messages that mention me' },
  { level: 'none', label: 'Nothing', hint: 'Never notify me about this room' },
];

/**
 * The room's notification level, kept on the server (PUT /api/chatrooms/:id/notifications): a menu button with a
 * radio group of menu items (ARIA menu pattern: arrows move, Enter/Space choose, Escape closes).
 */
export function NotificationMenu({ room }: { room: Room }) {
  const [open, setOpen] = useState(false);
  const [saving, setSaving] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const items = useRef<(HTMLButtonElement | null)[]>([]);
  const menuId = useId();
  const current = room.notifications ?? 'all';

  useEffect(() => {
    if (!open) return;
    const i = Math.max(
      0,
      LEVELS.findIndex((l) => l.level === current),
    );
    items.current[i]?.focus();
    const away = (e: PointerEvent) => {
      const root = button.current?.parentElement;
      if (root && !root.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('pointerdown', away);
    return () => document.removeEventListener('pointerdown', away);
  }, [open, current]);

  const choose = async (level: NotificationLevel) => {
    setOpen(false);
    button.current?.focus();
    if (level === current) return;
    setSaving(true);
    try {
      upsertRoom(await api.setNotifications(room.id, level), { notifications: level });
    } catch (err) {
      setNotice(`Notifications not changed: ${describeError(err)}`);
    } finally {
      setSaving(false);
    }
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const i = items.current.findIndex((el) => el === document.activeElement);
    const move = (to: number) => items.current[(to + LEVELS.length) % LEVELS.length]?.focus();
    if (e.key === 'ArrowDown') move(i + 1);
    else if (e.key === 'ArrowUp') move(i - 1);
    else if (e.key === 'Home') move(0);
    else if (e.key === 'End') move(LEVELS.length - 1);
    else if (e.key === 'Escape' || e.key === 'Tab') {
      setOpen(false);
      if (e.key === 'Escape') button.current?.focus();
      if (e.key === 'Tab') return;
    } else return;
    e.preventDefault();
  };

  const label = LEVELS.find((l) => l.level === current)!.label;
  return (
    <div className="menu-anchor">
      <button
        ref={button}
        type="button"
        className="icon-button"
        aria-label={`Notifications: ${label}`}
        title={`Notifications: ${label}`}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        disabled={saving}
        onClick={() => setOpen((o) => !o)}
      >
        <Icon name={current === 'none' ? 'bell-off' : current === 'mentions' ? 'at' : 'bell'} />
      </button>
      {open && (
        <div id={menuId} role="menu" aria-label="Notify me about" className="menu" onKeyDown={onKeyDown}>
          {LEVELS.map((l, i) => (
            <button
              key={l.level}
              ref={(el) => {
                items.current[i] = el;
              }}
              type="button"
              role="menuitemradio"
              aria-checked={l.level === current}
              tabIndex={-1}
              className="menu-item"
              onClick={() => void choose(l.level)}
            >
              <span className="menu-check" aria-hidden="true">
                {l.level === current ? '✓' : ''}
              </span>
              <span>
                {l.label}
                <span className="menu-hint">{l.hint}</span>
              </span>
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
