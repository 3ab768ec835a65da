import type { Message } from '@parley/protocol';
import { myId } from '../features/auth/me';
import { mentionsMe, notifyMessage } from '../features/notifications/notify';
import { userUpdated } from '../features/people/userUpdated';
import { presenceChanged, setTyping } from '../features/presence/presenceActions';
import { afterLeaving, firstArrival, roomDeleted } from '../features/rooms/roomActions';
import { countsAsUnread, markDeleted, markRead, replaceMessage } from '../features/timeline/timelineActions';
import { isViewing } from '../features/timeline/viewState';
import { addMessages, chatStore, patchRoom, roomTitle, updateTimeline, upsertRoom } from '../store/chat';
import type { ParleySocket } from './connection';

/** Server → client events, applied to the store. */
export function bindServerEvents(socket: ParleySocket): void {
  socket.on('message:new', onMessage);
  // Several messages of one room in one frame (we opt in at the handshake): each is exactly one `message:new`.
  socket.on('messages:new', ({ messages }) => messages.forEach((m) => onMessage(m)));
  socket.on('message:updated', onUpdated);
  socket.on('message:deleted', ({ id, roomId }) => markDeleted(roomId, id));

  socket.on('room:created', (room) => upsertRoom(room));
  socket.on('room:updated', (room) => upsertRoom(room));
  socket.on('room:deleted', ({ roomId }) => {
    const room = chatStore.get().rooms[roomId];
    roomDeleted(roomId, `${room?.kind === 'direct' ? '' : '#'}${roomTitle(room)} was deleted.`);
  });

  socket.on('room:member-joined', ({ roomId, user, at }) => {
    const counts = firstArrival('join', roomId, user.id);
    const s = chatStore.get();
    const members = s.members[roomId];
    const known = members?.some((m) => m.user.id === user.id);
    if (members && !known) {
      chatStore.set((x) => ({
        members: {
          ...x.members,
          [roomId]: [...members, { user, role: 'member', joinedAt: at, online: true }],
        },
      }));
    }
    const room = s.rooms[roomId];
    // Our own add or join was counted by its answer already (firstArrival), whichever came first.
    if (room && counts) {
      patchRoom(roomId, {
        memberCount: room.memberCount + 1,
        ...(user.id === myId() ? { isMember: true } : {}),
      });
    }
  });

  socket.on('room:member-left', ({ roomId, userId, reason }) => {
    const s = chatStore.get();
    const members = s.members[roomId];
    if (members) {
      chatStore.set((x) => ({
        members: { ...x.members, [roomId]: members.filter((m) => m.user.id !== userId) },
      }));
    }
    const room = s.rooms[roomId];
    if (!room) return;
    if (userId === myId()) {
      const name = `${room.kind === 'direct' ? '' : '#'}${roomTitle(room)}`;
      afterLeaving(roomId, room, reason === 'kicked' ? `You were removed from ${name}.` : null);
    } else if (firstArrival('leave', roomId, userId)) {
      // Counted whether or not we had loaded them (the list comes a page at a time), once (see firstArrival).
      patchRoom(roomId, { memberCount: Math.max(0, room.memberCount - 1) });
    }
  });

  socket.on('presence:changed', presenceChanged);
  socket.on('typing', ({ roomId, user, isTyping }) => setTyping(roomId, user, isTyping));
  socket.on('user:updated', userUpdated);
}

function onMessage(m: Message): void {
  const s = chatStore.get();
  const t = s.timelines[m.roomId];
  // Only rooms whose latest page we hold take live messages: anything else could leave a gap.
  if (t?.loaded) addMessages(m.roomId, [m]);
  else if (t?.pending.some((p) => p.clientId === m.clientId)) addMessages(m.roomId, [m]);
  const room = s.rooms[m.roomId];
  if (!room) return;
  patchRoom(m.roomId, { lastMessageAt: m.createdAt });
  if (m.author) setTyping(m.roomId, m.author, false);
  if (!countsAsUnread(m, myId())) {
    if (s.activeRoomId === m.roomId && isViewing()) markRead(m.roomId);
    return;
  }
  const active = s.activeRoomId === m.roomId;
  if (active && isViewing()) {
    markRead(m.roomId);
    return;
  }
  const mentioned = mentionsMe(m, myId());
  patchRoom(m.roomId, {
    unreadCount: room.unreadCount + 1,
    ...(mentioned ? { mentionCount: room.mentionCount + 1 } : {}),
  });
  if (active && t && !t.dividerId) updateTimeline(m.roomId, () => ({ dividerId: m.id }));
  if (!active || document.visibilityState !== 'visible') notifyMessage(m, room, mentioned);
}

/**
 * An edit may add or remove a mention of us: an unread message's change moves the mention badge (the server's
 * count is exact again with the next room list).
 */
function onUpdated(m: Message): void {
  const s = chatStore.get();
  const room = s.rooms[m.roomId];
  const before = s.timelines[m.roomId]?.messages.find((x) => x.id === m.id);
  replaceMessage(m);
  if (!room || !before || !room.unreadCount || !countsAsUnread(m, myId())) return;
  const delta = Number(mentionsMe(m, myId())) - Number(mentionsMe(before, myId()));
  if (delta) patchRoom(m.roomId, { mentionCount: Math.max(0, room.mentionCount + delta) });
}
