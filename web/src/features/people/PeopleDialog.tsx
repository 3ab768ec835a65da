import type { User } from '@parley/protocol';
import { useEffect, useMemo, useState } from 'react';
import { api } from '../../api/client';
import { describeError } from '../../api/errors';
import { Avatar } from '../../components/Avatar';
import { Dialog } from '../../components/Dialog';
import { chatStore } from '../../store/chat';
import { useStore } from '../../store/store';
import { myId } from '../auth/me';
import { openDm } from '../rooms/roomActions';

const PAGE = 30;

/**
 * "New message": the people directory. With no query it lists who is online now; a query searches everyone by
 * name prefix. Both are paged by the server ("Show more" asks for the next page); within what is loaded, people
 * online now come first. Picking someone opens (or finds) the direct conversation; yourself gives notes to self.
 */
export function PeopleDialog({ onClose }: { onClose(): void }) {
  const [query, setQuery] = useState('');
  const [users, setUsers] = useState<User[]>([]);
  const [onlineFound, setOnlineFound] = useState<User[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const online = useStore(chatStore, (s) => s.online);
  const me = myId();
  const q = query.trim();

  useEffect(() => {
    const ctl = new AbortController();
    const t = setTimeout(
      () => {
        setLoading(true);
        setError(null);
        // A query asks twice: who of the matches is online now (shown first), and everyone matching (paged).
        Promise.all([
          api.usersPage({ q: q || undefined, online: true, limit: PAGE }, ctl.signal),
          q ? api.usersPage({ q, limit: PAGE }, ctl.signal) : null,
        ])
          .then(([live, all]) => {
            setOnlineFound(live.users);
            const page = all ?? live;
            setUsers(page.users);
            setNext(page.hasMore ? page.next : null);
          })
          .catch((err: unknown) => {
            if ((err as Error).name !== 'AbortError') setError(describeError(err));
          })
          .finally(() => setLoading(false));
      },
      q ? 200 : 0,
    );
    return () => {
      clearTimeout(t);
      ctl.abort();
    };
  }, [q]);

  const more = () => {
    if (!next) return;
    setLoading(true);
    api
      .usersPage(q ? { q, limit: PAGE, after: next } : { online: true, limit: PAGE, after: next })
      .then((page) => {
        setUsers((u) => [...u, ...page.users.filter((x) => !u.some((y) => y.id === x.id))]);
        setNext(page.hasMore ? page.next : null);
      })
      .catch((err: unknown) => setError(describeError(err)))
      .finally(() => setLoading(false));
  };

  const onlineIds = useMemo(
    () => new Set([...onlineFound.map((u) => u.id), ...Object.keys(online)]),
    [onlineFound, online],
  );
  const sorted = useMemo(() => {
    if (!q) return users;
    // Online first (those the server found online, then any loaded match we know is online), then the rest in
    // the server's order (by username).
    const seen = new Set<string>();
    const out: User[] = [];
    for (const u of [...onlineFound, ...users.filter((x) => onlineIds.has(x.id)), ...users]) {
      if (seen.has(u.id)) continue;
      seen.add(u.id);
      out.push(u);
    }
    return out;
  }, [users, onlineFound, onlineIds, q]);

  return (
    <Dialog title="New message" onClose={onClose} description="Find someone to write to.">
      <div className="field">
        <label htmlFor="directory-search">Find people</label>
        <input
          id="directory-search"
          type="search"
          autoComplete="off"
          value={query}
          placeholder="Name or username"
          onChange={(e) => setQuery(e.target.value)}
        />
      </div>
      <p className="sr-only" role="status">
        {loading ? '' : q ? `${sorted.length} people found` : `${sorted.length} people online`}
      </p>
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <h3 className="directory-heading" id="directory-heading">
        {q ? 'People' : 'Online now'}
      </h3>
      <ul className="people-list search-results" aria-labelledby="directory-heading">
        {sorted.map((u) => {
          const self = u.id === me;
          const on = self || onlineIds.has(u.id) || !q;
          return (
            <li key={u.id} className="person-row">
              <span className="avatar-wrap">
                <Avatar user={u} size="sm" />
                <span className={`presence-dot${on ? ' online' : ''}`} aria-hidden="true" />
              </span>
              <span className="person-names">
                <span className="truncate">
                  {u.displayName}
                  {self && <span className="you"> (you)</span>}
                </span>
                <span className="me-sub truncate">
                  @{u.username}
                  {on ? ' · online' : ''}
                </span>
              </span>
              <button
                type="button"
                className="button small"
                aria-label={self ? 'Notes to self' : `Message ${u.displayName}`}
                onClick={() => {
                  onClose();
                  void openDm(u.id);
                }}
              >
                {self ? 'Notes' : 'Message'}
              </button>
            </li>
          );
        })}
      </ul>
      {!loading && sorted.length === 0 && !error && (
        <p className="directory-empty">
          {q ? 'Nobody by that name.' : 'Nobody else is online. Search by name.'}
        </p>
      )}
      {next && (
        <button type="button" className="button tiny" disabled={loading} onClick={more}>
          {loading ? 'Loading…' : 'Show more'}
        </button>
      )}
    </Dialog>
  );
}
