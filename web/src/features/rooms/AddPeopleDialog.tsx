import type { Room, User } from '@parley/protocol';
import { useEffect, useState } from 'react';
import { api } from '../../api/client';
import { describeError } from '../../api/errors';
import { Avatar } from '../../components/Avatar';
import { Dialog } from '../../components/Dialog';
import { chatStore, roomTitle } from '../../store/chat';
import { useStore } from '../../store/store';
import { addMember } from './roomActions';

/** The owner finds people by name and adds them to the room. */
export function AddPeopleDialog({ room, onClose }: { room: Room; onClose(): void }) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<User[]>([]);
  const [status, setStatus] = useState<string | null>(null);
  const members = useStore(chatStore, (s) => s.members[room.id]);

  useEffect(() => {
    const q = query.trim();
    if (!q) {
      setResults([]);
      return;
    }
    const ctl = new AbortController();
    const t = setTimeout(() => {
      api
        .searchUsers(q, ctl.signal)
        .then((r) => setResults(r.users))
        .catch(() => undefined);
    }, 200);
    return () => {
      clearTimeout(t);
      ctl.abort();
    };
  }, [query]);

  const isMember = (id: string) => members?.some((m) => m.user.id === id) ?? false;

  return (
    <Dialog title={`Add people to #${roomTitle(room)}`} onClose={onClose}>
      <div className="field">
        <label htmlFor="people-search">Find people</label>
        <input
          id="people-search"
          type="search"
          autoComplete="off"
          value={query}
          placeholder="Name or username"
          onChange={(e) => setQuery(e.target.value)}
        />
      </div>
      <p className="sr-only" role="status">
        {query.trim() ? `${results.length} people found` : ''}
      </p>
      {status && (
        <p className="dialog-status" role="status">
          {status}
        </p>
      )}
      <ul className="people-list search-results" aria-label="Search results">
        {results.map((u) => (
          <li key={u.id} className="person-row">
            <Avatar user={u} size="sm" />
            <span className="person-names">
              <span className="truncate">{u.displayName}</span>
              <span className="me-sub truncate">@{u.username}</span>
            </span>
            {isMember(u.id) ? (
              <span className="tag">Member</span>
            ) : (
              <button
                type="button"
                className="button small"
                aria-label={`Add ${u.displayName}`}
                onClick={() =>
                  void addMember(room.id, u)
                    .then(() => setStatus(`${u.displayName} was added.`))
                    .catch((err: unknown) => setStatus(describeError(err)))
                }
              >
                Add
              </button>
            )}
          </li>
        ))}
      </ul>
    </Dialog>
  );
}
