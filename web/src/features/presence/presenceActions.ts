import type { Member, ServerPayload, User } from '@parley/protocol';
import { chatStore, type ChatState } from '../../store/chat';
import { emitAck, emitVolatile, isConnected } from '../../socket/connection';
import { currentUser, myId } from '../auth/me';

/** Users per page of the Online list. */
const ONLINE_PAGE = 50;
/** The server watches at most this many users per socket. */
const MAX_WATCHED = 500;
/** What we show settles for this long before the server is told (opening a room changes it several times). */
const SUBSCRIBE_DEBOUNCE_MS = 300;

/**
 * The first page of who is online (after every connect); `presence:changed` keeps the users we watch current in
 * between. Users known online from elsewhere (room members, DM peers) are kept: the subscription that follows a
 * connect answers for them.
 */
export async function refreshPresence(): Promise<void> {
  try {
    const page = await emitAck('presence:list', { limit: ONLINE_PAGE });
    listed = new Set(page.users.map((u) => u.id));
    listedVersion++;
    chatStore.set((s) => ({
      online: { ...pick(s.online, watchedIds(s)), ...byId(page.users), ...selfOnline() },
      onlineNext: page.next,
    }));
  } catch {
    // Kept as it was; the next connect asks again.
  }
}

/** The next page of the Online list. */
export async function loadMoreOnline(): Promise<void> {
  const after = chatStore.get().onlineNext;
  if (!after) return;
  const page = await emitAck('presence:list', { limit: ONLINE_PAGE, after });
  for (const u of page.users) listed.add(u.id);
  listedVersion++;
  chatStore.set((s) => ({ online: { ...s.online, ...byId(page.users) }, onlineNext: page.next }));
}

/** `presence:changed`: some of the users we watch came or went. */
export function presenceChanged({ online, offline }: ServerPayload<'presence:changed'>): void {
  chatStore.set((s) => {
    const next = { ...s.online, ...byId(online) };
    for (const { userId } of offline) delete next[userId];
    return { online: next };
  });
}

/** A room's member list arrived: it says who of them is online now. */
export function membersPresence(members: Member[]): void {
  chatStore.set((s) => {
    const next = { ...s.online };
    for (const m of members) {
      if (m.online) next[m.user.id] = m.user;
      else if (m.user.id !== myId()) delete next[m.user.id];
    }
    return { online: next };
  });
}

/** Everyone the Online list's pages named: watched, so that they are seen going and coming back. */
let listed = new Set<string>();
let listedVersion = 0;

/**
 * Who the screen shows, so who we watch: DM peers, the open room's members, then the Online list; at most
 * MAX_WATCHED, in that order of priority. Ourselves excluded: our own tabs are online by definition.
 */
function watchedIds(s: ChatState): string[] {
  const ids = new Set<string>();
  for (const r of Object.values(s.rooms)) if (r.kind === 'direct' && r.peer) ids.add(r.peer.id);
  if (s.activeRoomId) for (const m of s.members[s.activeRoomId] ?? []) ids.add(m.user.id);
  for (const id of listed) ids.add(id);
  ids.delete(myId() ?? '');
  return [...ids].slice(0, MAX_WATCHED);
}

let sentKey: string | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
let unsubscribeStore: (() => void) | null = null;

/**
 * Keeps the server's `presence:subscribe` set equal to the people on screen: re-sent (debounced) whenever that set
 * changes, and after every (re)connect, since a new connection starts with nothing watched.
 */
export function startPresenceWatch(): () => void {
  sentKey = null;
  listed = new Set();
  unsubscribeStore = chatStore.subscribe(schedule);
  return () => {
    clearTimeout(timer);
    unsubscribeStore?.();
    unsubscribeStore = null;
  };
}

/** After a (re)connect: the new socket watches nobody yet. */
export function resubscribePresence(): void {
  sentKey = null;
  schedule();
}

/** What `watchedIds` last looked at: most store changes (messages, typing) touch none of it. */
let seen: { rooms: unknown; members: unknown; active: unknown; listed: number } | null = null;

function schedule(): void {
  const s = chatStore.get();
  const now = { rooms: s.rooms, members: s.members, active: s.activeRoomId, listed: listedVersion };
  if (sentKey !== null && seen && Object.entries(now).every(([k, v]) => seen![k as keyof typeof now] === v))
    return;
  seen = now;
  const key = watchedIds(s).sort().join(',');
  if (key === sentKey) return;
  clearTimeout(timer);
  timer = setTimeout(() => void subscribe(), SUBSCRIBE_DEBOUNCE_MS);
}

async function subscribe(): Promise<void> {
  if (!isConnected()) return; // the connect handler resubscribes
  const ids = watchedIds(chatStore.get());
  const key = [...ids].sort().join(',');
  if (key === sentKey) return;
  sentKey = key;
  try {
    const { online } = await emitAck('presence:subscribe', { userIds: ids });
    const now = new Set(online);
    chatStore.set((s) => {
      // Exactly who of those we watch is online: anyone else's dot could not be kept current.
      const next = selfOnline();
      const known = usersById(s);
      for (const id of now) {
        const user = known.get(id);
        if (user) next[id] = user;
      }
      return { online: next };
    });
  } catch {
    sentKey = null; // tried again at the next change or connect
  }
}

/** Every User object the store holds, for turning ids back into users. */
function usersById(s: ChatState): Map<string, User> {
  const users = new Map<string, User>();
  for (const r of Object.values(s.rooms)) if (r.peer) users.set(r.peer.id, r.peer);
  for (const list of Object.values(s.members)) for (const m of list) users.set(m.user.id, m.user);
  for (const u of Object.values(s.online)) users.set(u.id, u);
  return users;
}

const byId = (users: User[]) => Object.fromEntries(users.map((u) => [u.id, u]));

function pick(online: Record<string, User>, ids: string[]): Record<string, User> {
  const out: Record<string, User> = {};
  for (const id of ids) if (online[id]) out[id] = online[id];
  return out;
}

/** We are online while connected, whatever page of the list we are on. */
function selfOnline(): Record<string, User> {
  const me = currentUser();
  if (!me) return {};
  const { email: _email, ...user } = me;
  return { [user.id]: user };
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
