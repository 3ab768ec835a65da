import { useMemo } from 'react';
import { Avatar } from '../../components/Avatar';
import { chatStore } from '../../store/chat';
import { useStore } from '../../store/store';
import { myId } from '../auth/me';
import { openDm } from '../rooms/roomActions';

/** Everyone connected now; a name opens the direct conversation with them. */
export function OnlineList({ onPick }: { onPick(): void }) {
  const online = useStore(chatStore, (s) => s.online);
  const users = useMemo(
    () => Object.values(online).sort((a, b) => a.displayName.localeCompare(b.displayName)),
    [online],
  );
  const me = myId();
  return (
    <section className="online-section" aria-labelledby="online-heading">
      <div className="section-head">
        <h2 id="online-heading">
          Online <span className="count">{users.length}</span>
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
    </section>
  );
}
