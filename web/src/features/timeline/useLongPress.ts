import { useCallback, useEffect, useRef, type PointerEvent } from 'react';

/** Held this long without moving, a touch is a long press (the platforms' own long press is about as long). */
export const LONG_PRESS_MS = 500;
const MOVE_SLACK = 10;

/**
 * A long press by touch (phones have no hover and no right button): `onLongPress` fires while the finger is still
 * down, and the click the release may bring is swallowed (`consumeLongPress()` in the click handler says so). The
 * browser's own long-press menu (text selection, "copy link") is kept off the element while it is ours.
 */
export function useLongPress<E extends HTMLElement>(
  onLongPress: (target: E) => void,
  /** Presses starting on these (inside the element) are theirs, not ours: a button's own long press. */
  exclude?: string,
) {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const start = useRef<{ x: number; y: number } | null>(null);
  const fired = useRef(false);
  const cb = useRef(onLongPress);
  cb.current = onLongPress;

  const cancel = useCallback(() => {
    clearTimeout(timer.current);
    start.current = null;
  }, []);
  useEffect(() => cancel, [cancel]);

  const handlers = {
    onPointerDown: (e: PointerEvent<E>) => {
      if (e.pointerType !== 'touch') return;
      if (exclude && e.target instanceof Element && e.target.closest(exclude)) return;
      fired.current = false;
      start.current = { x: e.clientX, y: e.clientY };
      const target = e.currentTarget;
      clearTimeout(timer.current);
      timer.current = setTimeout(() => {
        fired.current = true;
        start.current = null;
        cb.current(target);
      }, LONG_PRESS_MS);
    },
    onPointerMove: (e: PointerEvent<E>) => {
      const s = start.current;
      if (s && Math.hypot(e.clientX - s.x, e.clientY - s.y) > MOVE_SLACK) cancel();
    },
    onPointerUp: cancel,
    onPointerCancel: cancel,
    onContextMenu: (e: { preventDefault(): void; nativeEvent: Event }) => {
      // A touch's long press also opens the browser's context menu: ours is shown instead.
      if (fired.current || start.current) e.preventDefault();
    },
  };
  /** True once after a long press: the click that follows the release is not a tap. */
  const consumeLongPress = () => {
    const was = fired.current;
    fired.current = false;
    return was;
  };
  return { handlers, consumeLongPress };
}
