import { useEffect, useMemo, useState } from 'react';
import { describeError } from '../api/errors';
import { chatStore, roomTitle, setNotice } from '../store/chat';
import { useStore } from '../store/store';
import { ConnectionBanner } from '../components/ConnectionBanner';
import { Toast } from '../components/Toast';
import { MembersPanel } from '../features/presence/MembersPanel';
import { defaultRoomId, openRoom } from '../features/rooms/roomActions';
import { RoomView } from '../features/rooms/RoomView';
import { Sidebar } from '../features/rooms/Sidebar';
import { SearchDialog } from '../features/search/SearchDialog';
import { UnreachableRoom } from '../features/rooms/UnreachableRoom';
import { jumpToMessage } from '../features/timeline/timelineActions';
import { startChatSession } from './chatSession';
import { navigate, roomIdFromPath, roomPath, usePath } from './router';

export type Drawer = 'none' | 'rooms' | 'members';

/** The signed-in app: rooms sidebar, the open room, its members. On small screens the sides are drawers. */
export function ChatApp() {
  useEffect(() => startChatSession(), []);
  const path = usePath();
  const roomId = roomIdFromPath(path);
  const roomsLoaded = useStore(chatStore, (s) => s.roomsLoaded);
  const unreachable = useStore(chatStore, (s) => roomId !== null && s.unreachableRoomId === roomId);
  const [drawer, setDrawer] = useState<Drawer>('none');
  const [searching, setSearching] = useState(false);

  // Ctrl+K (Cmd+K on a Mac) opens message search from anywhere in the app, as in most chat apps.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === 'k') {
        e.preventDefault();
        setDrawer('none');
        setSearching(true);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  useEffect(() => {
    if (!roomsLoaded) return;
    if (roomId) {
      // A message's link (Copy link): `/rooms/42?around=123` opens the room at that message, highlighted.
      const around = new URLSearchParams(location.search).get('around');
      if (around && /^[0-9]{1,18}$/.test(around)) {
        history.replaceState(null, '', roomPath(roomId));
        jumpToMessage(roomId, around)
          .catch((err: unknown) => setNotice(`Could not open that message: ${describeError(err)}`))
          .finally(() => void openRoom(roomId));
      } else {
        void openRoom(roomId);
      }
    } else {
      const fallback = defaultRoomId();
      if (fallback) navigate(roomPath(fallback), { replace: true });
    }
    setDrawer('none');
  }, [roomId, roomsLoaded]);

  useEffect(() => {
    if (drawer === 'none') return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') setDrawer('none');
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [drawer]);

  useDocumentTitle();

  return (
    <div className="app" data-drawer={drawer}>
      <a className="skip-link" href="#composer-input">
        Skip to message box
      </a>
      <Sidebar open={drawer === 'rooms'} onClose={() => setDrawer('none')} />
      <main className="main" id="main">
        {/* In the main column's flow, above the room: it pushes the room down instead of covering its title. */}
        <ConnectionBanner />
        {unreachable ? (
          <UnreachableRoom />
        ) : roomId ? (
          <RoomView
            key={roomId}
            roomId={roomId}
            onOpenRooms={() => setDrawer('rooms')}
            onOpenMembers={() => setDrawer(drawer === 'members' ? 'none' : 'members')}
            membersOpen={drawer === 'members'}
            onSearch={() => setSearching(true)}
          />
        ) : (
          <div className="empty-room" role="status">
            {roomsLoaded ? 'No room open. Pick one from the list.' : 'Loading your rooms…'}
          </div>
        )}
      </main>
      {roomId && !unreachable && (
        <MembersPanel roomId={roomId} open={drawer === 'members'} onClose={() => setDrawer('none')} />
      )}
      {drawer !== 'none' && <div className="scrim" aria-hidden="true" onClick={() => setDrawer('none')} />}
      {searching && <SearchDialog onClose={() => setSearching(false)} />}
      <Toast />
    </div>
  );
}

/** "(3) design · Parley": unread messages in rooms we belong to, including the open one while hidden. */
function useDocumentTitle(): void {
  const rooms = useStore(chatStore, (s) => s.rooms);
  const activeId = useStore(chatStore, (s) => s.activeRoomId);
  const unread = useMemo(
    () => Object.values(rooms).reduce((n, r) => n + (r.isMember ? r.unreadCount : 0), 0),
    [rooms],
  );
  const title = roomTitle(activeId ? rooms[activeId] : undefined);
  useEffect(() => {
    const base = title ? `${title} · Parley` : 'Parley';
    document.title = unread > 0 ? `(${unread}) ${base}` : base;
  }, [unread, title]);
}
