import { resetMessageUi } from '../features/timeline/messageUi';
import { setNotice, chatStore, resetChat, lastStoredId } from '../store/chat';
import { closeSocket, openSocket } from '../socket/connection';
import { bindServerEvents } from '../socket/events';
import { clearDrafts } from '../features/composer/Composer';
import { flushPending } from '../features/composer/sendActions';
import {
  refreshPresence,
  resubscribePresence,
  startPresenceWatch,
  stopTyping,
} from '../features/presence/presenceActions';
import { loadMembers, loadRooms } from '../features/rooms/roomActions';
import { catchUpRoom } from '../features/timeline/timelineActions';
import { describeError } from '../api/errors';

/**
 * Everything that lives while a user is signed in: the socket, its event bindings and the store. Returns the
 * function that tears it all down (sign-out, or another user signing in).
 */
export function startChatSession(): () => void {
  resetChat();
  resetMessageUi();
  let connects = 0;
  const socket = openSocket({
    onConnect: () => void onConnected(++connects === 1),
    onDisconnect: () => chatStore.set({ connection: 'reconnecting' }),
  });
  bindServerEvents(socket);
  const stopWatching = startPresenceWatch();
  void loadRooms().catch((err: unknown) => setNotice(`Could not load your rooms. ${describeError(err)}`));
  return () => {
    stopWatching();
    stopTyping();
    closeSocket();
    resetChat();
    resetMessageUi();
    clearDrafts();
  };
}

/**
 * (Re)connected: the server subscribed this socket to every room we belong to. Fill each open timeline from
 * the last message we hold, noted before anything else can arrive on the new connection, so nothing that
 * happened while we were away is missing; then send what waited.
 */
async function onConnected(first: boolean): Promise<void> {
  const { timelines } = chatStore.get();
  const from = Object.keys(timelines)
    .filter((id) => timelines[id]!.loaded)
    .map((id) => [id, lastStoredId(id)] as const);
  chatStore.set({ connection: 'connected' });
  // A new connection watches nobody: the first page of the Online list, then the people on screen.
  void refreshPresence().then(resubscribePresence);
  if (!first) await loadRooms().catch(() => undefined);
  const { rooms, activeRoomId } = chatStore.get();
  await Promise.all(from.filter(([id]) => rooms[id]?.isMember).map(([id, after]) => catchUpRoom(id, after)));
  if (!first && activeRoomId) void loadMembers(activeRoomId);
  flushPending();
}
