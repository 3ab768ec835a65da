import type { User } from '@parley/protocol';
import { chatStore } from '../../store/chat';
import { emitAck, emitVolatile } from '../../socket/connection';

/** Who is connected now (after every connect; events keep it current in between). */
export async function refreshPresence(): Promise<void> {
  try {
    const { users } = await emitAck('presence:list', {});
    chatStore.set({ online: Object.fromEntries(users.map((u) => [u.id, u])) });
  } catch {
    // Kept as it was; the next connect asks again.
  }
}

export function userOnline(user: User): void {
  chatStore.set((s) => ({ online: { ...s.online, [user.id]: user } }));
}

export function userOffline(userId: string): void {
  chatStore.set((s) => {
    if (!s.online[userId]) return {};
    const { [userId]: _gone, ...online } = s.online;
    return { online };
  });
}

// ---------------------------------------------------------------- typing, others'

/** An indicator we heard of disappears this long after its last refresh, even if the stop was lost. */
const TYPING_SHOWN_MS = 6_000;
const typingTimers = new Map<string, ReturnType<typeof setTimeout>>();

export function setTyping(roomId: string, user: User, isTyping: boolean): void {
  const key = `${roomId}:${user.id}`;
  clearTimeout(typingTimers.get(key));
  typingTimers.delete(key);
  if (isTyping)
    typingTimers.set(
      key,
      setTimeout(() => setTyping(roomId, user, false), TYPING_SHOWN_MS),
    );
  chatStore.set((s) => {
    const room = { ...(s.typing[roomId] ?? {}) };
    if (isTyping) room[user.id] = user;
    else if (room[user.id]) delete room[user.id];
    else return {};
    return { typing: { ...s.typing, [roomId]: room } };
  });
}

// ---------------------------------------------------------------- typing, ours

/** We tell the room at most this often while typing continues… */
const TYPING_REFRESH_MS = 3_000;
/** …and that we stopped after this long without a keystroke. */
const TYPING_IDLE_MS = 4_000;
let typingRoom: string | null = null;
let lastSent = 0;
let idleTimer: ReturnType<typeof setTimeout> | undefined;

export function typingActivity(roomId: string): void {
  if (typingRoom && typingRoom !== roomId) stopTyping();
  const now = Date.now();
  if (typingRoom !== roomId || now - lastSent > TYPING_REFRESH_MS) {
    emitVolatile('typing', { roomId, isTyping: true });
    lastSent = now;
    typingRoom = roomId;
  }
  clearTimeout(idleTimer);
  idleTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
}

export function stopTyping(): void {
  clearTimeout(idleTimer);
  if (!typingRoom) return;
  emitVolatile('typing', { roomId: typingRoom, isTyping: false });
  typingRoom = null;
  lastSent = 0;
}
