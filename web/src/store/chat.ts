import type { Attachment, Member, Message, ReplyTo, Room, User } from '@parley/protocol';
import { compareIds } from '../lib/ids';
import { currentUser } from '../features/auth/me';
import { createStore } from './store';

/** A message we sent that the server has not acknowledged yet (or refused). */
export interface PendingMessage {
  clientId: string;
  roomId: string;
  text: string;
  attachment: Attachment | null;
  /** A local object URL of the image while the real one is not known. */
  previewUrl: string | null;
  status: 'sending' | 'failed';
  error: string | null;
  createdAt: string;
  /** The message this one answers, sent with every attempt (a retry too), and its quote shown meanwhile. */
  replyTo?: ReplyTo;
}

export interface Timeline {
  /** Stored messages, oldest first, unique by id. */
  messages: Message[];
  pending: PendingMessage[];
  hasMoreBefore: boolean;
  /**
   * The messages held end before the room's latest (after a jump to a search result): live messages are not added
   * (that would leave a gap) until scrolling down has loaded the rest.
   */
  hasMoreAfter: boolean;
  loadingNewer: boolean;
  /** The message jumped to: scrolled into view and highlighted. */
  highlightId: string | null;
  loaded: boolean;
  loadingOlder: boolean;
  error: string | null;
  /** The first message that was unread when the room was opened: the "New messages" divider goes above it. */
  dividerId: string | null;
}

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting';

export interface ChatState {
  rooms: Record<string, Room>;
  roomsLoaded: boolean;
  activeRoomId: string | null;
  timelines: Record<string, Timeline>;
  members: Record<string, Member[]>;
  /** roomId → the cursor of the room's next page of members; null (or absent) when all are loaded. */
  membersNext: Record<string, string | null>;
  /**
   * Who we know is connected now, by user id: the pages of `presence:list` loaded so far, and the people we show
   * (room members, DM peers), kept current by `presence:subscribe` and `presence:changed`.
   */
  online: Record<string, User>;
  /** The cursor of the next page of the Online list; null when it is all loaded. */
  onlineNext: string | null;
  /** roomId → userId → who is typing there. */
  typing: Record<string, Record<string, User>>;
  connection: ConnectionStatus;
  /** A passing message for the user ("You were removed from #design"). */
  notice: string | null;
  /** The room the address names but we may not open (404/403): the page says so instead of showing another. */
  unreachableRoomId: string | null;
}

const initial: ChatState = {
  rooms: {},
  roomsLoaded: false,
  activeRoomId: null,
  timelines: {},
  members: {},
  membersNext: {},
  online: {},
  onlineNext: null,
  typing: {},
  connection: 'connecting',
  notice: null,
  unreachableRoomId: null,
};

export const chatStore = createStore<ChatState>(initial);

export function resetChat(): void {
  for (const t of Object.values(chatStore.get().timelines)) {
    for (const p of t.pending) if (p.previewUrl) URL.revokeObjectURL(p.previewUrl);
  }
  chatStore.set({ ...initial });
}

export const emptyTimeline = (): Timeline => ({
  messages: [],
  pending: [],
  hasMoreBefore: false,
  hasMoreAfter: false,
  loadingNewer: false,
  highlightId: null,
  loaded: false,
  loadingOlder: false,
  error: null,
  dividerId: null,
});

/** Merges `incoming` into the sorted, unique `existing` list. Later copies of a message replace earlier ones. */
export function mergeMessages(existing: Message[], incoming: Message[]): Message[] {
  if (incoming.length === 0) return existing;
  const last = existing[existing.length - 1];
  // The common case: one new message after everything we have.
  if (incoming.length === 1 && (!last || compareIds(incoming[0]!.id, last.id) > 0)) {
    return [...existing, incoming[0]!];
  }
  const byId = new Map(existing.map((m) => [m.id, m]));
  for (const m of incoming) byId.set(m.id, m);
  return [...byId.values()].sort((a, b) => compareIds(a.id, b.id));
}

export function updateTimeline(roomId: string, fn: (t: Timeline) => Partial<Timeline>): void {
  chatStore.set((s) => {
    const t = s.timelines[roomId] ?? emptyTimeline();
    return { timelines: { ...s.timelines, [roomId]: { ...t, ...fn(t) } } };
  });
}

/**
 * Adds stored messages to a room's timeline, retiring the pending copies they confirm (by clientId). While the
 * timeline stops short of the latest (`hasMoreAfter`), messages after its end are left out unless the caller is
 * the one loading that range (it passes `hasMoreAfter`): they would sit after a gap.
 */
export function addMessages(roomId: string, messages: Message[], extra: Partial<Timeline> = {}): void {
  updateTimeline(roomId, (t) => {
    const end = t.messages[t.messages.length - 1]?.id;
    const kept =
      t.hasMoreAfter && !('hasMoreAfter' in extra) && end
        ? messages.filter((m) => compareIds(m.id, end) <= 0)
        : messages;
    const confirmed = new Set(messages.map((m) => m.clientId).filter(Boolean));
    const pending = t.pending.filter((p) => {
      if (!confirmed.has(p.clientId)) return true;
      if (p.previewUrl) URL.revokeObjectURL(p.previewUrl);
      return false;
    });
    return {
      ...extra,
      messages: mergeMessages(t.messages, kept),
      pending: pending.length === t.pending.length ? t.pending : pending,
    };
  });
}

export function lastStoredId(roomId: string): string | null {
  const t = chatStore.get().timelines[roomId];
  return t?.messages[t.messages.length - 1]?.id ?? null;
}

export function upsertRoom(
  room: Room,
  keep: Partial<Pick<Room, 'unreadCount' | 'mentionCount' | 'notifications'>> = {},
): void {
  chatStore.set((s) => {
    const prev = s.rooms[room.id];
    const next: Room = {
      ...room,
      // Broadcast room updates carry no per-user counts, level or peer: keep ours.
      unreadCount: keep.unreadCount ?? prev?.unreadCount ?? room.unreadCount,
      mentionCount: keep.mentionCount ?? prev?.mentionCount ?? room.mentionCount,
      notifications: keep.notifications ?? prev?.notifications ?? room.notifications,
      peer: room.peer ?? prev?.peer,
    };
    return { rooms: { ...s.rooms, [room.id]: next } };
  });
}

export function patchRoom(roomId: string, patch: Partial<Room>): void {
  chatStore.set((s) => {
    const prev = s.rooms[roomId];
    if (!prev) return {};
    return { rooms: { ...s.rooms, [roomId]: { ...prev, ...patch } } };
  });
}

export function removeRoom(roomId: string): void {
  chatStore.set((s) => {
    if (!s.rooms[roomId]) return {};
    const { [roomId]: _gone, ...rooms } = s.rooms;
    const { [roomId]: _t, ...timelines } = s.timelines;
    const { [roomId]: _m, ...members } = s.members;
    return { rooms, timelines, members };
  });
}

export function setNotice(notice: string | null): void {
  chatStore.set({ notice });
}

/** The name people see for a room: `#design`, or the other person's name for a DM. */
export function roomTitle(room: Room | undefined): string {
  if (!room) return '';
  if (room.kind === 'direct') {
    // A DM with yourself is where you keep notes (the server makes it when you pick yourself).
    if (room.peer && room.peer.id === currentUser()?.id) return 'Notes to self';
    return room.peer?.displayName ?? 'Direct message';
  }
  return room.name;
}
