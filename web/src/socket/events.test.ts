import type { Me, Message, Room, User } from '@parley/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as EventsModule from './events';
import type * as ChatModule from '../store/chat';
import type * as SessionModule from '../features/auth/session';

/*
 * `messages:new` (several messages of a room in one frame) must leave the client exactly where the same messages
 * as single `message:new` events would: timeline, unread and mention counts, the "New messages" divider, typing.
 * The modules are loaded after a minimal browser environment exists (the router listens to `window` on import).
 */

let events: typeof EventsModule;
let chat: typeof ChatModule;
let session: typeof SessionModule;

beforeAll(async () => {
  const g = globalThis as Record<string, unknown>;
  const listens = { addEventListener() {}, removeEventListener() {} };
  g.window ??= { ...listens, location: { pathname: '/' } };
  g.location ??= { pathname: '/' };
  // A background tab: nothing counts as seen.
  g.document ??= { ...listens, visibilityState: 'hidden' };
  events = await import('./events');
  chat = await import('../store/chat');
  session = await import('../features/auth/session');
});

const user = (id: string, name: string): User => ({
  id,
  username: name,
  displayName: name,
  isGuest: false,
  avatarUrl: null,
  createdAt: '2026-12-01T10:00:00.000Z',
});
const me: Me = { ...user('1', 'me'), email: null };
const sam = user('2', 'sam');

const room = (id: string): Room =>
  ({
    id,
    name: `room${id}`,
    description: '',
    kind: 'public',
    ownerId: '2',
    memberCount: 2,
    isMember: true,
    createdAt: '2026-12-01T10:00:00.000Z',
    updatedAt: '2026-12-01T10:00:00.000Z',
    lastMessageAt: null,
    unreadCount: 0,
    mentionCount: 0,
    notifications: 'all',
  }) as Room;

const message = (id: string, roomId: string, mentions: string[] = []): Message => ({
  id,
  roomId,
  kind: 'text',
  author: sam,
  text: `hello ${id}`,
  attachment: null,
  mentions,
  event: null,
  clientId: null,
  createdAt: `2026-12-03T09:00:0${id.slice(-1)}.000Z`,
  editedAt: null,
  deleted: false,
  reactions: [],
  replyTo: null,
});

/** A socket that only records handlers, so that the test can play server events into them. */
function fakeSocket() {
  const handlers = new Map<string, (payload: unknown) => void>();
  const socket = {
    on(event: string, fn: (payload: unknown) => void) {
      handlers.set(event, fn);
      return socket;
    },
  };
  return { socket, fire: (event: string, payload: unknown) => handlers.get(event)!(payload) };
}

/** Two rooms we are in; the active one is open (its latest page loaded), sam is typing in both. */
function setUp() {
  chat.resetChat();
  session.authStore.set({ auth: { status: 'signed-in', user: me } });
  for (const id of ['10', '20']) {
    chat.upsertRoom(room(id));
    chat.updateTimeline(id, () => ({ loaded: true }));
    chat.chatStore.set((s) => ({ typing: { ...s.typing, [id]: { [sam.id]: sam } } }));
  }
  chat.chatStore.set({ activeRoomId: '10' });
  const f = fakeSocket();
  events.bindServerEvents(f.socket as never);
  return f;
}

const state = () => {
  const { rooms, timelines, typing } = chat.chatStore.get();
  return { rooms, timelines, typing };
};

describe('messages:new', () => {
  it('leaves the store exactly as the same messages one by one would', () => {
    const r10 = [message('101', '10'), message('102', '10', [me.id]), message('103', '10')];
    const r20 = [message('201', '20', [me.id]), message('202', '20')];

    const singles = setUp();
    for (const m of [...r10, ...r20]) singles.fire('message:new', m);
    const one = state();

    const batched = setUp();
    batched.fire('messages:new', { roomId: '10', messages: r10 });
    batched.fire('messages:new', { roomId: '20', messages: r20 });
    const two = state();

    expect(two).toEqual(one);
    // And it did something: unread and mention counts, the divider, the timeline, typing cleared.
    expect(one.rooms['20']).toMatchObject({ unreadCount: 2, mentionCount: 1 });
    expect(one.rooms['10']).toMatchObject({ unreadCount: 3, mentionCount: 1 });
    expect(one.timelines['10']!.dividerId).toBe('101');
    expect(one.timelines['20']!.messages.map((m) => m.id)).toEqual(['201', '202']);
    expect(one.typing['10']).toEqual({});
  });
});

describe('quotes of replies follow their parent', () => {
  const reply = (id: string, parentId: string, text: string): Message => ({
    ...message(id, '10'),
    replyTo: { id: parentId, author: sam, text, deleted: false },
  });

  it('an edited parent we hold changes the quotes of the loaded replies to it', () => {
    const f = setUp();
    chat.addMessages('10', [message('101', '10'), reply('102', '101', 'hello 101'), message('103', '10')]);
    f.fire('message:updated', {
      ...message('101', '10'),
      text: 'hello, edited',
      editedAt: '2026-12-03T09:05:00.000Z',
    });
    const ms = chat.chatStore.get().timelines['10']!.messages;
    expect(ms[1]!.replyTo).toEqual({ id: '101', author: sam, text: 'hello, edited', deleted: false });
    expect(ms[2]).toEqual(message('103', '10'));
  });

  it('a deleted parent, held or not, makes the quotes say so', () => {
    const f = setUp();
    chat.addMessages('10', [
      message('101', '10'),
      reply('102', '101', 'hello 101'),
      reply('103', '99', 'far up'),
    ]);
    f.fire('message:deleted', { id: '101', roomId: '10' });
    f.fire('message:deleted', { id: '99', roomId: '10' });
    const ms = chat.chatStore.get().timelines['10']!.messages;
    expect(ms[0]).toMatchObject({ deleted: true, text: '' });
    expect(ms[1]!.replyTo).toMatchObject({ id: '101', deleted: true, text: '' });
    expect(ms[2]!.replyTo).toMatchObject({ id: '99', deleted: true, text: '' });
  });
});
