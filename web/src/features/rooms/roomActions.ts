import type { Room } from '@parley/protocol';
import { api, type CreateRoomBody, type UpdateRoomBody } from '../../api/client';
import { asApiError } from '../../api/errors';
import { navigate, roomPath } from '../../app/router';
import {
  addMessages,
  chatStore,
  patchRoom,
  removeRoom,
  roomTitle,
  setNotice,
  updateTimeline,
  upsertRoom,
} from '../../store/chat';
import { emitAck, isConnected } from '../../socket/connection';
import { myId } from '../auth/me';
import { membersPresence } from '../presence/presenceActions';
import { loadLatest } from '../timeline/timelineActions';

const LAST_ROOM_KEY = 'parley:lastRoom';

/** Every room the user can see: public and private rooms, and their direct conversations. */
export async function loadRooms(): Promise<void> {
  const [{ rooms }, { rooms: dms }] = await Promise.all([api.listRooms(), api.listDms()]);
  chatStore.set((s) => {
    const next: Record<string, Room> = {};
    for (const r of [...rooms, ...dms]) next[r.id] = r;
    // The open room may be a public one we only preview; keep it even if the list raced with its creation.
    if (s.activeRoomId && !next[s.activeRoomId] && s.rooms[s.activeRoomId]?.kind === 'public') {
      next[s.activeRoomId] = s.rooms[s.activeRoomId]!;
    }
    return { rooms: next, roomsLoaded: true };
  });
}

/** Where to go when the address names no room: the last room opened here, else `general`. */
export function defaultRoomId(): string | null {
  const { rooms } = chatStore.get();
  const last = localStorage.getItem(LAST_ROOM_KEY);
  if (last && rooms[last]) return last;
  const list = Object.values(rooms);
  return (
    list.find((r) => r.name === 'general' && r.kind === 'public')?.id ??
    list.find((r) => r.isMember)?.id ??
    list[0]?.id ??
    null
  );
}

/** Shows a room: its latest messages, its members; the "New messages" divider goes at the first unread. */
export async function openRoom(roomId: string): Promise<void> {
  const previous = chatStore.get().activeRoomId;
  // The divider marks what was new when a room was opened; leaving the room retires it.
  if (previous && previous !== roomId && chatStore.get().timelines[previous]?.dividerId) {
    updateTimeline(previous, () => ({ dividerId: null }));
  }
  chatStore.set({ activeRoomId: roomId });
  let room = chatStore.get().rooms[roomId];
  if (!room) {
    try {
      room = await api.getRoom(roomId);
      upsertRoom(room);
    } catch {
      if (chatStore.get().activeRoomId !== roomId) return;
      setNotice('That room does not exist, or you cannot see it.');
      const fallback = defaultRoomId();
      navigate(fallback ? roomPath(fallback) : '/', { replace: true });
      return;
    }
  }
  localStorage.setItem(LAST_ROOM_KEY, roomId);
  void loadMembers(roomId);
  await loadLatest(roomId, room.unreadCount);
}

export async function loadMembers(roomId: string): Promise<void> {
  try {
    const { members } = await api.listMembers(roomId);
    chatStore.set((s) => ({ members: { ...s.members, [roomId]: members } }));
    membersPresence(members);
  } catch {
    // The panel shows what it has; the next open tries again.
  }
}

/** Joins a public room: the socket event subscribes all of this user's tabs at once. */
export async function joinRoom(roomId: string): Promise<void> {
  try {
    if (isConnected()) {
      const { room, messages } = await emitAck('room:join', { roomId });
      upsertRoom(room, { unreadCount: 0 });
      addMessages(roomId, messages);
    } else {
      upsertRoom(await api.addMember(roomId, {}), { unreadCount: 0 });
    }
    void loadMembers(roomId);
  } catch (err) {
    setNotice(`Could not join: ${asApiError(err).message}`);
  }
}

export async function leaveRoom(roomId: string): Promise<void> {
  const room = chatStore.get().rooms[roomId];
  try {
    if (isConnected()) await emitAck('room:leave', { roomId });
    else await api.removeMember(roomId, myId()!);
  } catch (err) {
    setNotice(`Could not leave: ${asApiError(err).message}`);
    return;
  }
  afterLeaving(roomId, room, `You left ${room?.kind === 'direct' ? '' : '#'}${roomTitle(room)}.`);
}

/** We are no longer a member (left here, in another tab, or kicked). */
export function afterLeaving(roomId: string, room: Room | undefined, notice: string | null): void {
  if (!room) return;
  if (room.kind === 'public') {
    patchRoom(roomId, {
      isMember: false,
      unreadCount: 0,
      memberCount: Math.max(0, room.memberCount - (room.isMember ? 1 : 0)),
    });
  } else {
    removeRoom(roomId);
    if (chatStore.get().activeRoomId === roomId) {
      const next = defaultRoomId();
      navigate(next ? roomPath(next) : '/', { replace: true });
    }
  }
  if (notice) setNotice(notice);
}

export async function createRoom(body: CreateRoomBody): Promise<Room> {
  const room = await api.createRoom(body);
  upsertRoom(room, { unreadCount: 0 });
  navigate(roomPath(room.id));
  return room;
}

export async function updateRoom(roomId: string, body: UpdateRoomBody): Promise<Room> {
  const room = await api.updateRoom(roomId, body);
  upsertRoom(room);
  return room;
}

export async function deleteRoom(roomId: string): Promise<void> {
  const room = chatStore.get().rooms[roomId];
  await api.deleteRoom(roomId);
  roomDeleted(roomId, `#${roomTitle(room)} was deleted.`);
}

export function roomDeleted(roomId: string, notice: string): void {
  const wasActive = chatStore.get().activeRoomId === roomId;
  removeRoom(roomId);
  if (wasActive) {
    const next = defaultRoomId();
    navigate(next ? roomPath(next) : '/', { replace: true });
    setNotice(notice);
  }
}

export async function addMember(roomId: string, userId: string): Promise<void> {
  upsertRoom(await api.addMember(roomId, { userId }));
  await loadMembers(roomId);
}

export async function kickMember(roomId: string, userId: string): Promise<void> {
  await api.removeMember(roomId, userId);
  chatStore.set((s) => ({
    members: { ...s.members, [roomId]: (s.members[roomId] ?? []).filter((m) => m.user.id !== userId) },
  }));
}

/** Opens (or finds) the direct conversation with a user and shows it. */
export async function openDm(userId: string): Promise<void> {
  try {
    const room = await api.openDm(userId);
    upsertRoom(room);
    navigate(roomPath(room.id));
  } catch (err) {
    setNotice(`Could not open the conversation: ${asApiError(err).message}`);
  }
}
