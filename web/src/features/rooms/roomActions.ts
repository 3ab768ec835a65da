import type { Room, User } from '@parley/protocol';
import { allPages, api, type CreateRoomBody, type UpdateRoomBody } from '../../api/client';
import { asApiError, describeError } from '../../api/errors';
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
import { currentUser, myId } from '../auth/me';
import { membersPresence } from '../presence/presenceActions';
import { loadLatest } from '../timeline/timelineActions';

const LAST_ROOM_KEY = 'parley:lastRoom';

/** Every room the user can see: public and private rooms, and their direct conversations. */
export async function loadRooms(): Promise<void> {
  // The sidebar shows every room, so every page is read (each of the largest size).
  const [rooms, dms] = await Promise.all([
    allPages(api.listRooms, (p) => p.rooms),
    allPages(api.listDms, (p) => p.rooms),
  ]);
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
  // The divider marks what was new when a room was opened, the highlight what a search jumped to; leaving the
  // room retires both.
  const left = previous && previous !== roomId ? chatStore.get().timelines[previous] : undefined;
  if (previous && (left?.dividerId || left?.highlightId)) {
    updateTimeline(previous, () => ({ dividerId: null, highlightId: null }));
  }
  chatStore.set({ activeRoomId: roomId });
  let room = chatStore.get().rooms[roomId];
  if (!room) {
    try {
      room = await api.getRoom(roomId);
      upsertRoom(room);
    } catch (err) {
      if (chatStore.get().activeRoomId !== roomId) return;
      const e = asApiError(err);
      // The address stays: the page says the room cannot be opened (ChatApp), rather than silently showing
      // another room as if the link had worked.
      if (e.status === 404 || e.status === 403) chatStore.set({ unreachableRoomId: roomId });
      else setNotice(`Could not open the room: ${describeError(e)}`);
      return;
    }
  }
  if (chatStore.get().unreachableRoomId) chatStore.set({ unreachableRoomId: null });
  localStorage.setItem(LAST_ROOM_KEY, roomId);
  void loadMembers(roomId);
  await loadLatest(roomId, room.unreadCount);
}

/** The first page of a room's members (online first); the panel asks for more as it scrolls (loadMoreMembers). */
export async function loadMembers(roomId: string): Promise<void> {
  try {
    const { members, next } = await api.listMembers(roomId);
    chatStore.set((s) => ({
      members: { ...s.members, [roomId]: members },
      membersNext: { ...s.membersNext, [roomId]: next },
    }));
    membersPresence(members);
  } catch {
    // The panel shows what it has; the next open tries again.
  }
}

const loadingMore = new Set<string>();

/**
 * The next page of a room's members, appended. Pages are merged by user id: someone whose presence changed between
 * two pages can be listed on both (DECISIONS.md "Paged lists (issue 14)").
 */
export async function loadMoreMembers(roomId: string): Promise<void> {
  const after = chatStore.get().membersNext[roomId];
  if (!after || loadingMore.has(roomId)) return;
  loadingMore.add(roomId);
  try {
    const { members, next } = await api.listMembers(roomId, after);
    chatStore.set((s) => {
      const have = s.members[roomId] ?? [];
      const known = new Set(have.map((m) => m.user.id));
      return {
        members: { ...s.members, [roomId]: [...have, ...members.filter((m) => !known.has(m.user.id))] },
        membersNext: { ...s.membersNext, [roomId]: next },
      };
    });
    membersPresence(members);
  } catch {
    // The sentinel stays in view; the next intersection tries again.
  } finally {
    loadingMore.delete(roomId);
  }
}

/**
 * Records a join this client made: its answer carries the room with the count as the server has it after the join,
 * and the member goes into the list at once. The broadcast of the same join then changes nothing (firstArrival).
 */
function noteJoined(room: Room, user: User, keep: Partial<Pick<Room, 'unreadCount'>> = {}): void {
  firstArrival('join', room.id, user.id);
  upsertRoom(room, keep);
  chatStore.set((s) => {
    const list = s.members[room.id];
    if (!list || list.some((m) => m.user.id === user.id)) return {};
    const joined = { user, role: 'member' as const, joinedAt: new Date().toISOString(), online: false };
    return { members: { ...s.members, [room.id]: [...list, joined] } };
  });
}

/** Joins a public room: the socket event subscribes all of this user's tabs at once. */
export async function joinRoom(roomId: string): Promise<void> {
  try {
    const me = currentUser();
    if (isConnected()) {
      const { room, messages } = await emitAck('room:join', { roomId });
      if (me) noteJoined(room, me, { unreadCount: 0 });
      else upsertRoom(room, { unreadCount: 0 });
      addMessages(roomId, messages);
    } else {
      const room = await api.addMember(roomId, {});
      if (me) noteJoined(room, me, { unreadCount: 0 });
      else upsertRoom(room, { unreadCount: 0 });
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
      mentionCount: 0,
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

export async function addMember(roomId: string, user: User): Promise<void> {
  noteJoined(await api.addMember(roomId, { userId: user.id }), user);
}

/**
 * A join or leave this client made reaches it twice: as its REST (or ack) answer and as the `room:member-joined` /
 * `room:member-left` broadcast, in either order. The first arrival counts it, the second finds its key here and
 * does not: the header's count then moves once (it went one too high after an add). A join forgets the user's
 * leave and the other way round, so the next change of theirs counts again.
 */
const arrivals = new Set<string>();

/** True for the first arrival of a membership change (count it), false for the second. */
export function firstArrival(kind: 'join' | 'leave', roomId: string, userId: string): boolean {
  arrivals.delete(`${kind === 'join' ? 'leave' : 'join'}:${roomId}:${userId}`);
  const key = `${kind}:${roomId}:${userId}`;
  if (arrivals.delete(key)) return false;
  arrivals.add(key);
  return true;
}

export async function kickMember(roomId: string, userId: string): Promise<void> {
  await api.removeMember(roomId, userId);
  const room = chatStore.get().rooms[roomId];
  if (room && firstArrival('leave', roomId, userId)) {
    patchRoom(roomId, { memberCount: Math.max(0, room.memberCount - 1) });
  }
  chatStore.set((x) => ({
    members: { ...x.members, [roomId]: (x.members[roomId] ?? []).filter((m) => m.user.id !== userId) },
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
