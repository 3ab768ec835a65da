import type { Member, User } from '@parley/protocol';
import { useEffect, useState } from 'react';
import { api } from '../../api/client';
import { describeError } from '../../api/errors';
import { Avatar } from '../../components/Avatar';
import { setNotice } from '../../store/chat';

/**
 * For the room's owner: who their kicks banned, each with an Unban button (the user may then join again).
 * Reloaded whenever the member list changes, since a kick is what adds to it.
 */
export function BannedList({ roomId, members }: { roomId: string; members: Member[] | undefined }) {
  const [banned, setBanned] = useState<User[] | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let live = true;
    api
      .listBans(roomId)
      .then((r) => live && setBanned(r.users))
      .catch(() => live && setBanned(null));
    return () => {
      live = false;
    };
  }, [roomId, members, reload]);

  if (!banned?.length) return null;
  return (
    <section aria-labelledby="banned-heading">
      <h3 id="banned-heading" className="panel-subhead">
        Banned <span className="count">{banned.length}</span>
      </h3>
      <ul className="people-list member-list" aria-label="Banned">
        {banned.map((u) => (
          <li key={u.id} className="person-row away">
            <span className="avatar-wrap">
              <Avatar user={u} size="sm" />
            </span>
            <span className="person-names">
              <span className="truncate">{u.displayName}</span>
            </span>
            <button
              type="button"
              className="button tiny"
              aria-label={`Unban ${u.displayName}`}
              title="Let them join the room again"
              onClick={() => {
                api
                  .unban(roomId, u.id)
                  .then(() => setReload((n) => n + 1))
                  .catch((err: unknown) => setNotice(`Could not unban: ${describeError(err)}`));
              }}
            >
              Unban
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
