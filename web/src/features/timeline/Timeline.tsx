import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type KeyboardEvent,
} from 'react';
import type { Attachment } from '@parley/protocol';
import { Icon } from '../../components/Icon';
import { formatDay } from '../../lib/time';
import { chatStore, emptyTimeline } from '../../store/chat';
import { useStore } from '../../store/store';
import { useMe } from '../auth/me';
import { ReactionNamesProvider } from '../reactions/reactionNames';
import { buildItems } from './group';
import { ImageViewer } from './ImageViewer';
import { MessageItem, PendingItem } from './MessageItem';
import { loadNewer, loadOlder, markRead, reloadLatest } from './timelineActions';
import { setAtBottom } from './viewState';

/** Closer than this to the end counts as "at the end" (new messages keep it pinned there). */
const BOTTOM_SLACK = 48;
/** Start fetching older messages this far from the top. */
const TOP_PRELOAD = 400;
const EMPTY = emptyTimeline();

const MESSAGE = 'article.message[data-message-id]';

/** The first message whose bottom is below the top of the scroller. */
function firstInView(el: HTMLElement): HTMLElement | undefined {
  const top = el.scrollTop;
  for (const m of el.querySelectorAll<HTMLElement>('[data-message-id]')) {
    if (m.offsetTop + m.offsetHeight > top) return m;
  }
  return undefined;
}

/**
 * Roving focus in the log: from the log, ↑ goes to the last message in view (↓ the first); from a message, ↑ and ↓
 * go to the one before and after, Home and End to the first and last loaded. Page Up/Down still scroll.
 */
function moveBetweenMessages(e: KeyboardEvent<HTMLDivElement>): void {
  const log = e.currentTarget;
  const target = e.target as HTMLElement;
  const onLog = target === log;
  if (!onLog && !target.matches(MESSAGE)) return;
  if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
  const all = [...log.querySelectorAll<HTMLElement>(MESSAGE)];
  if (!all.length) return;
  let next: HTMLElement | undefined;
  if (onLog) {
    const bottom = log.scrollTop + log.clientHeight;
    const inView = all.filter((m) => m.offsetTop < bottom && m.offsetTop + m.offsetHeight > log.scrollTop);
    if (e.key === 'ArrowUp') next = inView.at(-1) ?? all.at(-1);
    else if (e.key === 'ArrowDown') next = inView[0] ?? all[0];
  } else {
    const i = all.indexOf(target);
    const to: Record<string, number> = { ArrowUp: i - 1, ArrowDown: i + 1, Home: 0, End: all.length - 1 };
    if (e.key in to) next = all[Math.max(0, Math.min(all.length - 1, to[e.key]!))];
  }
  if (!next) return;
  e.preventDefault();
  next.focus();
}

/**
 * The room's history as a `log`: grouped messages, day headings, the "New messages" divider. It stays pinned to
 * the end while you are there, loads older pages as you scroll up without moving what you are reading, and
 * offers "Jump to latest" when you are not at the end.
 */
export function Timeline({ roomId, title }: { roomId: string; title: string }) {
  const timeline = useStore(chatStore, (s) => s.timelines[roomId]) ?? EMPTY;
  const room = useStore(chatStore, (s) => s.rooms[roomId]);
  const me = useMe();
  const items = useMemo(
    () => buildItems(timeline.messages, timeline.pending, timeline.dividerId, me?.id ?? null),
    [timeline.messages, timeline.pending, timeline.dividerId, me?.id],
  );
  const [viewing, setViewing] = useState<Attachment | null>(null);
  const [showJump, setShowJump] = useState(false);
  const scroller = useRef<HTMLDivElement>(null);
  /** Geometry after the last render/scroll, to keep the view still when older messages are prepended. */
  const geo = useRef({
    height: 0,
    top: 0,
    firstId: '',
    pinned: true,
    positioned: false,
    pendingCount: 0,
    dividerId: null as string | null,
    highlightId: null as string | null,
    /** The first message in view and its distance from the top: it stays put when messages above change size. */
    anchorId: '',
    anchorOffset: 0,
  });
  /** The timeline stops short of the latest (a jump to a search result): its end is not "the end". */
  const moreAfter = useRef(timeline.hasMoreAfter);
  moreAfter.current = timeline.hasMoreAfter;

  const isMember = room?.isMember ?? false;
  const onSeen = useCallback(() => {
    if (isMember && document.visibilityState === 'visible' && !moreAfter.current) markRead(roomId);
  }, [roomId, isMember]);

  const measure = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight <= BOTTOM_SLACK && !moreAfter.current;
    geo.current.height = el.scrollHeight;
    geo.current.top = el.scrollTop;
    geo.current.pinned = atEnd;
    const anchor = firstInView(el);
    geo.current.anchorId = anchor?.dataset.messageId ?? '';
    geo.current.anchorOffset = anchor ? anchor.offsetTop - el.scrollTop : 0;
    setAtBottom(atEnd);
    setShowJump(!atEnd);
    return atEnd;
  }, []);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    if (measure()) onSeen();
    if (el.scrollTop < TOP_PRELOAD && timeline.hasMoreBefore && !timeline.loadingOlder)
      void loadOlder(roomId);
    const below = el.scrollHeight - el.scrollTop - el.clientHeight;
    if (below < TOP_PRELOAD && timeline.hasMoreAfter && !timeline.loadingNewer) void loadNewer(roomId);
  };

  // Position after every change: first view, prepended history, or new messages while pinned to the end.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el || !timeline.loaded) return;
    const g = geo.current;
    const firstId = timeline.messages[0]?.id ?? '';
    const sentOne = timeline.pending.length > g.pendingCount;
    if (timeline.highlightId && timeline.highlightId !== g.highlightId) {
      // A jump to a message: centre it (once; later changes keep the view as usual).
      const target = el.querySelector<HTMLElement>(`[data-message-id="${timeline.highlightId}"]`);
      if (target)
        el.scrollTop = Math.max(0, target.offsetTop - el.clientHeight / 2 + target.offsetHeight / 2);
      g.positioned = true;
    } else if (!g.positioned) {
      const divider = el.querySelector<HTMLElement>('.new-divider');
      if (divider) el.scrollTop = Math.max(0, divider.offsetTop - el.clientHeight / 3);
      else el.scrollTop = el.scrollHeight;
      g.positioned = true;
    } else if (timeline.dividerId && timeline.dividerId !== g.dividerId && g.pinned) {
      // The divider arrived after the first view (the room was already loaded): show it, if it is far up.
      const divider = el.querySelector<HTMLElement>('.new-divider');
      const top = divider ? divider.offsetTop - el.clientHeight / 3 : el.scrollHeight;
      el.scrollTop = Math.min(el.scrollHeight, Math.max(0, top));
    } else if (g.firstId && firstId !== g.firstId && g.height) {
      el.scrollTop = g.top + (el.scrollHeight - g.height);
    } else if (g.pinned || sentOne) {
      el.scrollTop = el.scrollHeight;
    } else if (g.anchorId) {
      // A message above grew or shrank (reactions, an edit, a quote): what is being read does not move.
      const anchor = el.querySelector<HTMLElement>(`[data-message-id="${g.anchorId}"]`);
      if (anchor) el.scrollTop = anchor.offsetTop - g.anchorOffset;
    }
    g.firstId = firstId;
    g.dividerId = timeline.dividerId;
    g.highlightId = timeline.highlightId;
    g.pendingCount = timeline.pending.length;
    if (measure()) onSeen();
    // Not enough history to scroll yet: fetch more so the user can.
    if (el.scrollHeight <= el.clientHeight && timeline.hasMoreBefore && !timeline.loadingOlder) {
      void loadOlder(roomId);
    }
    if (el.scrollHeight <= el.clientHeight && timeline.hasMoreAfter && !timeline.loadingNewer) {
      void loadNewer(roomId);
    }
  }, [
    items,
    timeline.loaded,
    timeline.hasMoreBefore,
    timeline.loadingOlder,
    timeline.hasMoreAfter,
    timeline.loadingNewer,
    timeline.highlightId,
    measure,
    onSeen,
    roomId,
  ]);

  // Stay at the end when the viewport changes size (phone keyboard, window resize, composer growing).
  useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => {
      if (geo.current.pinned) el.scrollTop = el.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const onVisible = () => {
      if (document.visibilityState === 'visible' && geo.current.pinned) onSeen();
    };
    document.addEventListener('visibilitychange', onVisible);
    window.addEventListener('focus', onVisible);
    return () => {
      document.removeEventListener('visibilitychange', onVisible);
      window.removeEventListener('focus', onVisible);
    };
  }, [onSeen]);

  useEffect(() => () => setAtBottom(true), []);

  const jumpToLatest = () => {
    const el = scroller.current;
    if (!el) return;
    if (timeline.hasMoreAfter) {
      // The latest is not loaded: start over from it (positioned at the end once it is there).
      geo.current.positioned = false;
      geo.current.firstId = '';
      void reloadLatest(roomId);
      return;
    }
    el.scrollTo({ top: el.scrollHeight, behavior: 'smooth' });
    geo.current.pinned = true;
    onSeen();
  };

  return (
    <ReactionNamesProvider>
      <div className="timeline-wrap">
        <div
          ref={scroller}
          className="timeline"
          role="log"
          aria-label={title}
          aria-busy={!timeline.loaded || timeline.loadingOlder}
          tabIndex={0}
          onScroll={onScroll}
          onKeyDown={moveBetweenMessages}
        >
          <div className="timeline-start">
            {timeline.loaded && !timeline.hasMoreBefore && (
              <p className="muted">
                This is the beginning of{' '}
                {room?.kind === 'direct' ? `your conversation with ${title}` : `#${title}`}.
              </p>
            )}
            {!timeline.loaded && !timeline.error && <p className="muted">Loading messages…</p>}
            {timeline.error && (
              <p className="field-error" role="alert">
                {timeline.error}
              </p>
            )}
          </div>
          {items.map((item) => {
            switch (item.type) {
              case 'day':
                return (
                  <div key={item.key} className="day-separator" role="separator">
                    <span>{formatDay(item.at)}</span>
                  </div>
                );
              case 'divider':
                return (
                  <div key={item.key} className="new-divider" role="separator">
                    <span>New messages</span>
                  </div>
                );
              case 'message':
                return (
                  <MessageItem
                    key={item.key}
                    message={item.message}
                    continued={item.continued}
                    room={room}
                    highlighted={item.message.id === timeline.highlightId}
                    onOpenImage={setViewing}
                  />
                );
              case 'pending':
                return <PendingItem key={item.key} pending={item.pending} continued={item.continued} />;
            }
          })}
        </div>
        {timeline.loadingNewer && (
          <p className="loading-older loading-newer" role="status">
            Loading later messages…
          </p>
        )}
        {timeline.loadingOlder && (
          // Outside the scroller, so that showing it does not move the messages being read.
          <p className="loading-older" role="status">
            Loading earlier messages…
          </p>
        )}
        {showJump && timeline.loaded && (
          <button type="button" className="jump-latest" onClick={jumpToLatest}>
            <Icon name="down" size={16} /> Jump to latest
            {room && room.unreadCount > 0 && <span className="badge">{room.unreadCount}</span>}
          </button>
        )}
        {viewing && <ImageViewer attachment={viewing} onClose={() => setViewing(null)} />}
      </div>
    </ReactionNamesProvider>
  );
}
