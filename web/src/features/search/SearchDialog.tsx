import { useEffect, useId, useMemo, useRef, useState } from 'react';
import type { SearchHit } from '@parley/protocol';
import { api } from '../../api/client';
import { describeError } from '../../api/errors';
import { Dialog } from '../../components/Dialog';
import { formatFull } from '../../lib/time';
import { chatStore, roomTitle, setNotice } from '../../store/chat';
import { useStore } from '../../store/store';
import { navigate, roomPath } from '../../app/router';
import { jumpToMessage } from '../timeline/timelineActions';
import { Snippet } from './Snippet';

/** Typing pauses this long before a search is sent (each one is an index walk on the server). */
const DEBOUNCE_MS = 250;
const PAGE = 20;

interface Results {
  query: string;
  hits: SearchHit[];
  hasMore: boolean;
}

/**
 * Message search (Ctrl/Cmd+K or the Search button): results as you type, newest first, grouped by room, hits
 * marked. Choosing one opens its room at that message, highlighted, with history loading both ways from there.
 */
export function SearchDialog({ onClose }: { onClose(): void }) {
  const rooms = useStore(chatStore, (s) => s.rooms);
  const activeRoomId = useStore(chatStore, (s) => s.activeRoomId);
  const [q, setQ] = useState('');
  const [thisRoom, setThisRoom] = useState(false);
  const [results, setResults] = useState<Results | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  const inputId = useId();
  const scopeRoomId = thisRoom && activeRoomId ? activeRoomId : undefined;

  const run = async (query: string, before?: string) => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setBusy(true);
    setError(null);
    try {
      const page = await api.searchMessages(
        { q: query, roomId: scopeRoomId, before, limit: PAGE },
        controller.signal,
      );
      setResults((prev) => ({
        query,
        hits: before && prev ? [...prev.hits, ...page.results] : page.results,
        hasMore: page.hasMore,
      }));
    } catch (err) {
      if (controller.signal.aborted) return;
      setError(describeError(err));
    } finally {
      if (abort.current === controller) setBusy(false);
    }
  };

  useEffect(() => {
    const query = q.trim();
    if (!query) {
      abort.current?.abort();
      setResults(null);
      setBusy(false);
      return;
    }
    const timer = setTimeout(() => void run(query), DEBOUNCE_MS);
    return () => clearTimeout(timer);
    // `run` reads the scope given here (it is the same function but for scopeRoomId).
  }, [q, scopeRoomId]);

  useEffect(() => () => abort.current?.abort(), []);

  // Grouped by room, rooms in the order of their newest hit.
  const groups = useMemo(() => {
    const byRoom = new Map<string, SearchHit[]>();
    for (const hit of results?.hits ?? []) {
      const list = byRoom.get(hit.message.roomId) ?? [];
      list.push(hit);
      byRoom.set(hit.message.roomId, list);
    }
    return [...byRoom.entries()];
  }, [results]);

  const open = (hit: SearchHit) => {
    const { roomId, id } = hit.message;
    onClose();
    jumpToMessage(roomId, id)
      .then(() => navigate(roomPath(roomId)))
      .catch((err: unknown) => setNotice(`Could not open that message: ${describeError(err)}`));
  };

  const last = results?.hits[results.hits.length - 1];
  const status = busy
    ? 'Searching…'
    : error
      ? null
      : results
        ? results.hits.length
          ? `${results.hits.length}${results.hasMore ? '+' : ''} ${results.hits.length === 1 ? 'message' : 'messages'} found`
          : 'No messages match.'
        : null;

  return (
    <Dialog title="Search messages" onClose={onClose} className="search-dialog">
      <form role="search" onSubmit={(e) => e.preventDefault()} className="search-form">
        <label htmlFor={inputId} className="sr-only">
          Search messages
        </label>
        <input
          id={inputId}
          type="search"
          className="search-input"
          placeholder="Search messages"
          autoComplete="off"
          maxLength={200}
          value={q}
          onChange={(e) => setQ(e.target.value)}
        />
        {activeRoomId && rooms[activeRoomId] && (
          <label className="search-scope">
            <input type="checkbox" checked={thisRoom} onChange={(e) => setThisRoom(e.target.checked)} />
            Only in {roomTitle(rooms[activeRoomId])}
          </label>
        )}
      </form>
      <p className="search-status" role="status">
        {status}
      </p>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <div className="search-results">
        {groups.map(([roomId, hits]) => {
          const headingId = `search-room-${roomId}`;
          const room = rooms[roomId];
          return (
            <section key={roomId} aria-labelledby={headingId} className="search-group">
              <h3 id={headingId}>
                {room ? (room.kind === 'direct' ? roomTitle(room) : `#${roomTitle(room)}`) : 'A room'}
              </h3>
              <ul>
                {hits.map((hit) => (
                  <li key={hit.message.id}>
                    <button type="button" className="search-hit" onClick={() => open(hit)}>
                      <span className="search-hit-meta">
                        <span className="search-hit-author">
                          {hit.message.author?.displayName ?? 'Deleted user'}
                        </span>{' '}
                        <time dateTime={hit.message.createdAt}>{formatFull(hit.message.createdAt)}</time>
                      </span>
                      <span className="search-hit-text">
                        <Snippet text={hit.snippet} />
                      </span>
                    </button>
                  </li>
                ))}
              </ul>
            </section>
          );
        })}
      </div>
      {results?.hasMore && last && (
        <button
          type="button"
          className="button search-more"
          disabled={busy}
          onClick={() => void run(results.query, last.message.id)}
        >
          More results
        </button>
      )}
    </Dialog>
  );
}
