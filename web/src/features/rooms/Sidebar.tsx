import type { Room } from '@parley/protocol';
import { useMemo, useState } from 'react';
import { navigate, roomPath } from '../../app/router';
import { Avatar } from '../../components/Avatar';
import { Icon } from '../../components/Icon';
import { chatStore, roomTitle } from '../../store/chat';
import { useStore } from '../../store/store';
import { useMe } from '../auth/me';
import { signOut } from '../auth/session';
import { NotificationToggle } from '../notifications/NotificationToggle';
import { OnlineList } from '../presence/OnlineList';
import { PeopleDialog } from '../people/PeopleDialog';
import { SettingsDialog } from '../settings/SettingsDialog';
import { NewRoomDialog } from './NewRoomDialog';

const byName = (a: Room, b: Room) => roomTitle(a).localeCompare(roomTitle(b));
const byActivity = (a: Room, b: Room) => (b.lastMessageAt ?? '').localeCompare(a.lastMessageAt ?? '');

/** Rooms, direct messages and who is online; a drawer on small screens. */
export function Sidebar({ open, onClose }: { open: boolean; onClose(): void }) {
  const me = useMe();
  const rooms = useStore(chatStore, (s) => s.rooms);
  const activeId = useStore(chatStore, (s) => s.activeRoomId);
  const online = useStore(chatStore, (s) => s.online);
  const [creating, setCreating] = useState(false);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [peopleOpen, setPeopleOpen] = useState(false);

  const { joined, others, dms } = useMemo(() => {
    const all = Object.values(rooms);
    return {
      joined: all.filter((r) => r.kind !== 'direct' && r.isMember).sort(byName),
      others: all.filter((r) => r.kind === 'public' && !r.isMember).sort(byName),
      dms: all.filter((r) => r.kind === 'direct').sort(byActivity),
    };
  }, [rooms]);

  if (!me) return null;
  return (
    <aside className={`sidebar drawer-left${open ? ' open' : ''}`} aria-label="Rooms and people">
      <div className="sidebar-top">
        <span className="brand">
          <span className="brand-mark" aria-hidden="true">
            P
          </span>
          Parley
        </span>
        <span className="sidebar-top-actions">
          <NotificationToggle />
          <button type="button" className="icon-button drawer-close" aria-label="Close" onClick={onClose}>
            <Icon name="x" />
          </button>
        </span>
      </div>
      <div className="sidebar-scroll">
        <nav aria-label="Rooms">
          <div className="section-head">
            <h2 id="rooms-heading">Rooms</h2>
            {!me.isGuest && (
              <button
                type="button"
                className="icon-button small"
                aria-label="New room"
                title="New room"
                onClick={() => setCreating(true)}
              >
                <Icon name="plus" size={18} />
              </button>
            )}
          </div>
          <RoomList rooms={joined} activeId={activeId} labelledBy="rooms-heading" onPick={onClose} />
          <div className="section-head">
            <h2 id="dms-heading">Direct messages</h2>
            <button
              type="button"
              className="icon-button small"
              aria-label="New message"
              title="New message"
              onClick={() => setPeopleOpen(true)}
            >
              <Icon name="plus" size={18} />
            </button>
          </div>
          {dms.length > 0 && (
            <RoomList
              rooms={dms}
              activeId={activeId}
              labelledBy="dms-heading"
              online={online}
              onPick={onClose}
            />
          )}
          {others.length > 0 && (
            <>
              <div className="section-head">
                <h2 id="more-heading">More rooms</h2>
              </div>
              <RoomList rooms={others} activeId={activeId} labelledBy="more-heading" onPick={onClose} />
            </>
          )}
        </nav>
        <OnlineList onPick={onClose} />
      </div>
      <div className="sidebar-footer">
        {/* Your name opens your settings; "Settings" is the contract's name for this control. */}
        <button
          type="button"
          className="me me-button"
          aria-label="Settings"
          title={`Settings for ${me.displayName}`}
          onClick={() => setSettingsOpen(true)}
        >
          <Avatar user={me} size="sm" />
          <span className="me-name">
            <span className="truncate">{me.displayName}</span>
            <span className="me-sub truncate">{me.isGuest ? 'Guest' : `@${me.username}`}</span>
          </span>
        </button>
        <button type="button" className="button small" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
      {creating && <NewRoomDialog onClose={() => setCreating(false)} />}
      {settingsOpen && <SettingsDialog onClose={() => setSettingsOpen(false)} />}
      {peopleOpen && (
        <PeopleDialog
          onClose={() => {
            setPeopleOpen(false);
            onClose();
          }}
        />
      )}
    </aside>
  );
}

function RoomList({
  rooms,
  activeId,
  labelledBy,
  online,
  onPick,
}: {
  rooms: Room[];
  onPick(): void;
  activeId: string | null;
  labelledBy: string;
  online?: Record<string, unknown>;
}) {
  return (
    <ul className="room-list" aria-labelledby={labelledBy}>
      {rooms.map((r) => {
        const active = r.id === activeId;
        const unread = r.isMember && !active ? r.unreadCount : 0;
        const mentions = r.isMember && !active ? r.mentionCount : 0;
        const peerOnline = r.kind === 'direct' && r.peer && online ? Boolean(online[r.peer.id]) : false;
        return (
          <li key={r.id}>
            <a
              href={roomPath(r.id)}
              className={`room-link${active ? ' active' : ''}${unread ? ' unread' : ''}`}
              aria-current={active ? 'page' : undefined}
              onClick={(e) => {
                if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
                e.preventDefault();
                navigate(roomPath(r.id));
                onPick();
              }}
            >
              {r.kind === 'direct' ? (
                <span className={`presence-dot${peerOnline ? ' online' : ''}`} aria-hidden="true" />
              ) : (
                <span className="room-icon" aria-hidden="true">
                  <Icon name={r.kind === 'private' ? 'lock' : 'hash'} size={16} />
                </span>
              )}
              <span className="room-name truncate">{roomTitle(r)}</span>
              {r.kind === 'private' && <span className="sr-only"> (private)</span>}
              {r.kind === 'direct' && <span className="sr-only">{peerOnline ? ' (online)' : ''}</span>}
              {mentions > 0 && (
                <span className="badge mention-badge" title="Mentions of you">
                  @{mentions > 99 ? '99+' : mentions}
                  <span className="sr-only"> {mentions === 1 ? 'mention' : 'mentions'}</span>
                </span>
              )}
              {r.notifications !== 'all' && r.isMember && (
                <span className="muted-mark" title={r.notifications === 'none' ? 'Muted' : 'Mentions only'}>
                  <Icon name={r.notifications === 'none' ? 'bell-off' : 'at'} size={14} />
                  <span className="sr-only">
                    {r.notifications === 'none' ? ' (muted)' : ' (mentions only)'}
                  </span>
                </span>
              )}
              {unread > 0 && (
                <span className="badge">
                  {unread > 99 ? '99+' : unread}
                  <span className="sr-only"> unread</span>
                </span>
              )}
            </a>
          </li>
        );
      })}
    </ul>
  );
}
