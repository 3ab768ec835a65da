import { useMemo, useState } from 'react';
import { Avatar } from '../../components/Avatar';
import { chatStore } from '../../store/chat';
import { useStore } from '../../store/store';
import { myId } from '../auth/me';
import { openDm } from '../rooms/roomActions';
import { loadMoreOnline } from './presenceActions';

/**
 * Who is connected now, a page at a time ("Show more" asks for the next); a name opens the direct conversation
 * with them.
 */
export function OnlineList({ onPick }: { onPick(): void }) {
  const online = useStore(chatStore, (s) => s.online);
  const more = useStore(chatStore, (s) => s.onlineNext !== null);
  const [loading, setLoading] = useState(false);
  const users = useMemo(
    () => Object.values(online).sort((a, b) => a.displayName.localeCompare(b.displayName)),
    [online],
  );
  const me = myId();
  return (
    <section className="online-section" aria-labelledby="online-heading">
      <div className="section-head">
        <h2 id="online-heading">
          Online <span className="count">{more ? `${users.length}+` : users.length}</span>
        </h2>
      </div>
      <ul className="people-list" aria-label="Online">
        {users.map((u) => (
          <li key={u.id}>
            <button
              type="button"
              className="person"
              title={u.id === me ? 'You' : `Direct conversation with ${u.displayName}`}
              onClick={() => {
                onPick();
                void openDm(u.id);
              }}
            >
              <span className="avatar-wrap">
                <Avatar user={u} size="sm" />
                <span className="presence-dot online" aria-hidden="true" />
              </span>
              <span className="truncate">
                {u.displayName}
                {u.id === me && <span className="you"> (you)</span>}
              </span>
            </button>
          </li>
        ))}
      </ul>
      {more && (
        <button
          type="button"
          className="button tiny"
          disabled={loading}
          onClick={() => {
            setLoading(true);
            loadMoreOnline()
              .catch(() => undefined)
              .finally(() => setLoading(false));
          }}
        >
          {loading ? 'Loading…' : 'Show more'}
        </button>
      )}
    </section>
  );
}
