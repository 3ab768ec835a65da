import type { Message, Room, RouteId, Session } from '@parley/protocol';
import { expect } from 'vitest';
import { uniqueName, type Res } from '../../../src/test-support/server.js';
import { png } from '../../helpers/images.js';
import {
  anyone,
  belongs,
  deleteMembersMessage,
  editMembersMessage,
  leave,
  manage,
  read,
  registeredOnly,
  selfJoin,
  signedIn,
  write,
  type RoomKind,
  type Rule,
  type UserKind,
} from './rules.js';
import { PASSWORD, type World } from './world.js';

/*
 * One entry per REST route of packages/protocol/src/rest.ts: how a cell calls it and which rule of rules.ts says
 * what it must answer. `satisfies Record<RouteId, …>` makes a new route without an entry a type error, and the
 * matrix test compares the keys with the route table at run time too.
 */

/** What a cell knows when it builds its request. */
export interface CellEnv {
  world: World;
  user: UserKind;
  roomKind: RoomKind;
  room: Room;
  /** A text message of the member in `room`. */
  message: Message;
  /** The caller's session, null when logged out. */
  actor: Session | null;
}

export interface RestCase {
  /** Tells apart several calls of one route (e.g. leaving vs kicking). */
  variant: string;
  rule: Rule;
  /** The cell changes its room or message (join, leave, kick, delete): it gets fresh ones. */
  fresh?: boolean;
  /** The call ends or revokes the caller's session: a new session of the same kind makes it. */
  throwawayActor?: boolean;
  /** Values of the path's `:params`. */
  params?: (env: CellEnv) => Record<string, string>;
  query?: (env: CellEnv) => string;
  /** The JSON body, or the file of a multipart route. */
  body?: (env: CellEnv) => unknown;
  /** More of the contract's answer than status and schema (who sees what). */
  check?: (res: Res, env: CellEnv) => void;
}

const roomId = ({ room }: CellEnv) => ({ id: room.id });
const messageId = ({ message }: CellEnv) => ({ id: message.id });
/** The caller's own id (a logged-out caller names the member's). */
const selfId = (env: CellEnv) => (env.actor ?? env.world.sessions.member).user.id;
const freshName = (prefix: string) => ({ username: uniqueName(prefix) });
const sees = (env: CellEnv) => env.roomKind === 'public' || belongs(env.user);

export const restCases = {
  register: [
    {
      variant: 'new account',
      rule: anyone,
      body: () => {
        const { username } = freshName('reg');
        return { username, email: `${username}@example.com`, password: PASSWORD };
      },
    },
  ],
  login: [
    {
      variant: 'right password',
      rule: anyone,
      body: ({ world }) => ({ username: world.newcomer.user.username, password: PASSWORD }),
    },
  ],
  guest: [{ variant: 'free name', rule: anyone, body: () => freshName('gst') }],
  refresh: [
    {
      variant: 'unused refresh token',
      rule: anyone,
      body: async ({ world }) => ({ refreshToken: (await world.throwaway('member')).refreshToken }),
    },
  ],
  logout: [{ variant: 'own session', rule: signedIn, throwawayActor: true }],
  logoutAll: [{ variant: 'every own session', rule: signedIn, throwawayActor: true }],
  getMe: [{ variant: 'self', rule: signedIn }],
  // A display name claims its skeleton (issue 13): each actor takes one of its own.
  updateMe: [
    { variant: 'display name', rule: signedIn, body: () => ({ displayName: `Matrix ${uniqueName('dn')}` }) },
  ],
  changePassword: [
    {
      variant: 'own password',
      rule: registeredOnly,
      throwawayActor: true,
      body: () => ({ currentPassword: PASSWORD, newPassword: 'battery-staple-10' }),
    },
  ],
  searchUsers: [
    {
      variant: 'by prefix',
      rule: signedIn,
      query: ({ world }) => `?q=${world.sessions.owner.user.username}`,
    },
  ],
  getUser: [
    { variant: 'the owner', rule: signedIn, params: ({ world }) => ({ id: world.sessions.owner.user.id }) },
  ],
  listRooms: [
    {
      variant: 'all visible',
      rule: signedIn,
      // One page of the largest size holds every room of the matrix's world; hasMore says it did.
      query: () => '?limit=200',
      check: (res, env) => {
        expect(res.body.hasMore, 'the page holds every room').toBe(false);
        if (env.roomKind === 'direct') return;
        const listed = (res.body.rooms as Room[]).some((r) => r.id === env.room.id);
        expect(listed, 'listed iff the caller may see the room').toBe(sees(env));
      },
    },
  ],
  createRoom: [{ variant: 'new name', rule: registeredOnly, body: () => ({ name: uniqueName('mx') }) }],
  getRoom: [
    {
      variant: 'the room',
      rule: read,
      params: roomId,
      check: (res, env) => expect(res.body.isMember).toBe(belongs(env.user)),
    },
  ],
  updateRoom: [
    { variant: 'description', rule: manage, params: roomId, body: () => ({ description: 'changed' }) },
  ],
  deleteRoom: [{ variant: 'the room', rule: manage, fresh: true, params: roomId }],
  listMembers: [
    {
      variant: 'the room',
      rule: read,
      params: roomId,
      query: () => '?limit=200',
      check: (res) => expect(res.body.hasMore).toBe(false),
    },
  ],
  addMember: [
    { variant: 'self-join', rule: selfJoin, fresh: true, params: roomId, body: () => ({}) },
    {
      variant: 'add another user',
      rule: manage,
      fresh: true,
      params: roomId,
      body: ({ world }) => ({ userId: world.newcomer.user.id }),
    },
  ],
  removeMember: [
    {
      variant: 'leave',
      rule: leave,
      fresh: true,
      params: (env) => ({ id: env.room.id, userId: selfId(env) }),
    },
    {
      variant: 'kick a member',
      rule: manage,
      fresh: true,
      params: (env) => ({ id: env.room.id, userId: env.world.victim.user.id }),
    },
  ],
  setNotifications: [
    {
      variant: 'mentions only',
      rule: write,
      params: roomId,
      body: () => ({ level: 'mentions' }),
      check: (res) => expect(res.body.notifications).toBe('mentions'),
    },
  ],
  listBans: [
    {
      variant: 'the room',
      rule: manage,
      params: roomId,
      check: (res) => expect(res.body.users).toEqual([]),
    },
  ],
  unbanUser: [
    {
      variant: 'a member who is not banned',
      rule: manage,
      params: (env) => ({ id: env.room.id, userId: env.world.victim.user.id }),
    },
  ],
  listMessages: [
    {
      variant: 'history',
      rule: read,
      params: roomId,
      check: (res, env) =>
        expect((res.body.messages as Message[]).map((m) => m.id)).toContain(env.message.id),
    },
  ],
  searchMessages: [
    {
      // Without roomId: the caller's own rooms and DMs only, so the member's message is found by members alone.
      variant: 'in your rooms',
      rule: signedIn,
      query: ({ message }) => `?q=${encodeURIComponent(message.text)}`,
      check: (res, env) => {
        const ids = (res.body.results as { message: Message }[]).map((r) => r.message.id);
        if (belongs(env.user)) expect(ids).toContain(env.message.id);
        else expect(ids).not.toContain(env.message.id);
      },
    },
    {
      variant: 'in one room',
      rule: read,
      query: ({ message, room }) => `?q=${encodeURIComponent(message.text)}&roomId=${room.id}`,
      check: (res, env) =>
        expect((res.body.results as { message: Message }[]).map((r) => r.message.id)).toContain(
          env.message.id,
        ),
    },
  ],
  sendMessage: [{ variant: 'text', rule: write, params: roomId, body: () => ({ text: 'matrix says hi' }) }],
  editMessage: [
    {
      variant: "the member's message",
      rule: editMembersMessage,
      params: messageId,
      body: () => ({ text: 'edited' }),
    },
  ],
  deleteMessage: [
    { variant: "the member's message", rule: deleteMembersMessage, fresh: true, params: messageId },
  ],
  // Reacting: members of the room (a public room's non-members 403, a hidden room's 404); idempotent.
  addReaction: [
    { variant: "the member's message", rule: write, params: messageId, body: () => ({ emoji: '👍' }) },
  ],
  removeReaction: [
    {
      variant: "the member's message",
      rule: write,
      params: (env) => ({ id: env.message.id, emoji: '👍' }),
    },
  ],
  listDms: [
    {
      variant: 'own DMs',
      rule: signedIn,
      query: () => '?limit=200',
      check: (res, env) => {
        expect(res.body.hasMore, 'the page holds every DM').toBe(false);
        if (env.roomKind !== 'direct') return;
        const listed = (res.body.rooms as Room[]).some((r) => r.id === env.room.id);
        expect(listed, 'a DM is listed for its two participants only').toBe(belongs(env.user));
      },
    },
  ],
  openDm: [
    {
      variant: 'with the owner',
      rule: signedIn,
      body: ({ world }) => ({ userId: world.sessions.owner.user.id }),
    },
  ],
  upload: [{ variant: 'a PNG', rule: signedIn, body: () => png(16, 16) }],
  health: [{ variant: 'check', rule: anyone }],
} satisfies Record<RouteId, RestCase[]>;
