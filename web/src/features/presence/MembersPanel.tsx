import type { Member } from '@parley/protocol';
import { useEffect, useMemo, useRef, useState } from 'react';
import { describeError } from '../../api/errors';
import { Avatar } from '../../components/Avatar';
import { Icon } from '../../components/Icon';
import { chatStore, roomTitle, setNotice } from '../../store/chat';
import { useStore } from '../../store/store';
import { useMe } from '../auth/me';
import { AddPeopleDialog } from '../rooms/AddPeopleDialog';
import { kickMember, loadMoreMembers, openDm } from '../rooms/roomActions';
import { BannedList } from './BannedList';

/**
 * The room's members, online first, with a dot for who is connected; owners can remove people (which bans them
 * from rejoining) and see whom they banned.
 */
export function MembersPanel({ roomId, open, onClose }: { roomId: string; open: boolean; onClose(): void }) {
  const room = useStore(chatStore, (s) => s.rooms[roomId]);
  const members = useStore(chatStore, (s) => s.members[roomId]);
  const hasMore = useStore(chatStore, (s) => Boolean(s.membersNext[roomId]));
  const online = useStore(chatStore, (s) => s.online);
  const me = useMe();
  const [adding, setAdding] = useState(false);

  const sorted = useMemo(() => {
    const list = [...(members ?? [])];
    const rank = (m: Member) => (online[m.user.id] ? 0 : 1);
    return list.sort(
      (a, b) =>
        rank(a) - rank(b) ||
        (a.role === b.role ? 0 : a.role === 'owner' ? -1 : 1) ||
        a.user.displayName.localeCompare(b.user.displayName),
    );
  }, [members, online]);

  if (!room || !me) return null;
  const isOwner = room.kind !== 'direct' && room.ownerId === me.id;
  const onlineCount = sorted.filter((m) => online[m.user.id]).length;
  const title = room.kind === 'direct' ? 'Conversation' : `#${roomTitle(room)}`;

  return (
    <aside
      id="members-panel"
      className={`members-panel drawer-right${open ? ' open' : ''}`}
      aria-labelledby="members-heading"
    >
      <div className="panel-head">
        <h2 id="members-heading">
          Members{' '}
          <span className="count">
            {/* The total is the room's count: a big room's list is loaded a page at a time. */}
            {members ? `${onlineCount} of ${Math.max(room.memberCount, sorted.length)} here` : ''}
          </span>
        </h2>
        <span className="panel-head-actions">
          {isOwner && (
            <button
              type="button"
              className="icon-button"
              aria-label="Add people"
              title="Add people"
              onClick={() => setAdding(true)}
            >
              <Icon name="plus" />
            </button>
          )}
          <button type="button" className="icon-button drawer-close" aria-label="Close" onClick={onClose}>
            <Icon name="x" />
          </button>
        </span>
      </div>
      <p className="sr-only">Members of {title}</p>
      {!members && <p className="muted panel-pad">Loading members…</p>}
      <ul className="people-list member-list" aria-label="Members">
        {sorted.map((m) => {
          const isOnline = Boolean(online[m.user.id]);
          const self = m.user.id === me.id;
          return (
            <li key={m.user.id} className={`person-row${isOnline ? '' : ' away'}`}>
              <span className="avatar-wrap">
                <Avatar user={m.user} size="sm" />
                <span className={`presence-dot${isOnline ? ' online' : ''}`} aria-hidden="true" />
              </span>
              {self ? (
                <span className="person-names">
                  <span className="truncate">{m.user.displayName} (you)</span>
                </span>
              ) : (
                <button
                  type="button"
                  className="person-names link-like"
                  title={`Direct conversation with ${m.user.displayName}`}
                  onClick={() => void openDm(m.user.id)}
                >
                  <span className="truncate">{m.user.displayName}</span>
                </button>
              )}
              <span className="sr-only">{isOnline ? ', online' : ', offline'}</span>
              {m.role === 'owner' && <span className="tag">owner</span>}
              {isOwner && !self && (
                <button
                  type="button"
                  className="button tiny reveal"
                  aria-label={`Remove and ban ${m.user.displayName} from the room`}
                  title="Removes them; they cannot rejoin until you unban them"
                  onClick={() => {
                    const question = `Remove ${m.user.displayName} from ${title}? They will be banned: they cannot rejoin, nor edit their messages here, until you unban them.`;
                    if (!window.confirm(question)) return;
                    kickMember(roomId, m.user.id).catch((err: unknown) =>
                      setNotice(`Could not remove: ${describeError(err)}`),
                    );
                  }}
                >
                  Remove and ban
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {hasMore && <MoreMembers roomId={roomId} loaded={sorted.length} />}
      {isOwner && <BannedList roomId={roomId} members={members} />}
      {adding && <AddPeopleDialog room={room} onClose={() => setAdding(false)} />}
    </aside>
  );
}

/**
 * The end of the loaded members: when it scrolls into view the next page is fetched (and it moves down with the
 * list, so each page asks for the next). A button too, for keyboards and for browsers without IntersectionObserver.
 */
function MoreMembers({ roomId, loaded }: { roomId: string; loaded: number }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof IntersectionObserver === 'undefined') return;
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) void loadMoreMembers(roomId);
    });
    seen.observe(el);
    return () => seen.disconnect();
    // Observed afresh after each page: a page that did not push the sentinel out of view asks for the next one.
  }, [roomId, loaded]);
  return (
    <div ref={ref} className="members-more panel-pad">
      <button type="button" className="button tiny" onClick={() => void loadMoreMembers(roomId)}>
        Show more members
      </button>
    </div>
  );
}
