import type { ServerEventName, ServerPayload } from '@parley/protocol';
import { register, uniqueName } from '../../../src/test-support/server.js';
import {
  closeAndSettle,
  connectReady,
  emitNoAck,
  expectStatusOf,
  messageMarker,
  newClientId,
  sendBurst,
} from '../../helpers/realtime.js';
import { emitAck, nextEvent, type ClientSocket } from '../../helpers/sockets.js';
import { PASSWORD, type World } from './world.js';
import type { RoomKind, UserKind } from './rules.js';

/*
 * Who receives each server → client event of packages/protocol/src/events.ts. A case makes the event happen
 * once in a room of each kind and names the user kinds whose sockets must get it; every other kind's socket
 * must not. `satisfies Record<ServerEventName, …>` makes a new event without an entry a type error.
 */

export type Listener = Exclude<UserKind, 'loggedOut'>;
export const LISTENERS: Listener[] = ['owner', 'member', 'outsider', 'guest'];
const EVERYONE = LISTENERS;
const THE_ROOM: Listener[] = ['owner', 'member'];

export interface ReceiveEnv {
  world: World;
  roomKind: RoomKind;
  sockets: Record<Listener, ClientSocket>;
}

export interface ReceiveCase {
  /** Who must get the event in a room of this kind; null where the event cannot happen (a DM is never renamed). */
  receivers: (roomKind: RoomKind) => Listener[] | null;
  /** Makes the event happen once; answers how to recognise that one event. */
  trigger: (env: ReceiveEnv) => Promise<(payload: any) => boolean>;
}

type Cases = {
  [E in ServerEventName]: ReceiveCase & {
    trigger: (env: ReceiveEnv) => Promise<(p: ServerPayload<E>) => boolean>;
  };
};

const managed = (who: (k: RoomKind) => Listener[]) => (k: RoomKind) => (k === 'direct' ? null : who(k));
const publicToAll = (k: RoomKind) => (k === 'public' ? EVERYONE : THE_ROOM);

export const receiveCases = {
  'message:new': {
    receivers: () => THE_ROOM,
    trigger: async ({ world, roomKind }) => {
      const m = await world.message(await world.room(roomKind, false), true);
      return (p) => p.id === m.id;
    },
  },
  'messages:new': {
    // Several messages of one commit, as one frame to the room's sockets (the matrix's sockets opt in).
    receivers: () => THE_ROOM,
    trigger: async ({ world, roomKind, sockets }) => {
      const room = await world.room(roomKind, false);
      const sent = await sendBurst(world.server, sockets.member, room.id, ['b1', 'b2', 'b3']);
      return (p: ServerPayload<'messages:new'>) =>
        p.roomId === room.id && p.messages.some((m) => sent.some((s) => s.id === m.id));
    },
  },
  'message:updated': {
    receivers: () => THE_ROOM,
    trigger: async ({ world, roomKind }) => {
      const m = await world.message(await world.room(roomKind, false), true);
      const res = await world.call('PATCH', `/api/messages/${m.id}`, {
        token: world.sessions.member.accessToken,
        body: { text: 'edited for the receive matrix' },
      });
      expectStatusOf(res, 200);
      return (p) => p.id === m.id;
    },
  },
  'message:deleted': {
    receivers: () => THE_ROOM,
    trigger: async ({ world, roomKind }) => {
      const m = await world.message(await world.room(roomKind, false), true);
      const res = await world.call('DELETE', `/api/messages/${m.id}`, {
        token: world.sessions.member.accessToken,
      });
      expectStatusOf(res, 204);
      return (p) => p.id === m.id;
    },
  },
  typing: {
    // "the room, not the typist"
    receivers: () => ['owner'],
    trigger: async ({ roomKind, world, sockets }) => {
      const room = await world.room(roomKind, false);
      const ack = await emitAck(sockets.member, 'typing', { roomId: room.id, isTyping: true });
      if (!ack.ok) throw new Error(JSON.stringify(ack));
      return (p) => p.roomId === room.id && p.user.id === world.sessions.member.user.id;
    },
  },
  'room:member-joined': {
    receivers: managed(() => THE_ROOM),
    trigger: async ({ world, roomKind }) => {
      const room = await world.room(roomKind, true);
      const { owner } = world.sessions;
      const res = await world.call('POST', `/api/chatrooms/${room.id}/members`, {
        token: roomKind === 'public' ? world.newcomer.accessToken : owner.accessToken,
        body: roomKind === 'public' ? {} : { userId: world.newcomer.user.id },
      });
      expectStatusOf(res, 200);
      return (p) => p.roomId === room.id && p.user.id === world.newcomer.user.id;
    },
  },
  'room:member-left': {
    receivers: managed(() => THE_ROOM),
    trigger: async ({ world, roomKind }) => {
      const room = await world.room(roomKind, true);
      const res = await world.call('DELETE', `/api/chatrooms/${room.id}/members/${world.victim.user.id}`, {
        token: world.victim.accessToken,
      });
      expectStatusOf(res, 204);
      return (p) => p.roomId === room.id && p.userId === world.victim.user.id;
    },
  },
  'room:created': {
    // Public rooms to everyone; a private room or DM to its members (here: its creator / the DM's two users).
    receivers: (k) => (k === 'public' ? EVERYONE : k === 'private' ? ['owner'] : ['member']),
    trigger: async ({ world, roomKind }) => {
      if (roomKind === 'direct') {
        const peer = await register(world.call, uniqueName('peer'));
        const res = await world.call('POST', '/api/dms', {
          token: world.sessions.member.accessToken,
          body: { userId: peer.user.id },
        });
        expectStatusOf(res, 200);
        return (p) => p.id === res.body.id;
      }
      const res = await world.call('POST', '/api/chatrooms', {
        token: world.sessions.owner.accessToken,
        body: { name: uniqueName('rc'), kind: roomKind },
      });
      expectStatusOf(res, 201);
      return (p) => p.id === res.body.id;
    },
  },
  'room:updated': {
    receivers: managed(publicToAll),
    trigger: async ({ world, roomKind }) => {
      const room = await world.room(roomKind, true);
      const res = await world.call('PATCH', `/api/chatrooms/${room.id}`, {
        token: world.sessions.owner.accessToken,
        body: { description: 'updated for the receive matrix' },
      });
      expectStatusOf(res, 200);
      return (p) => p.id === room.id;
    },
  },
  'room:deleted': {
    // The members; for a public room everyone, whose room list showed it too.
    receivers: managed(publicToAll),
    trigger: async ({ world, roomKind }) => {
      const room = await world.room(roomKind, true);
      const res = await world.call('DELETE', `/api/chatrooms/${room.id}`, {
        token: world.sessions.owner.accessToken,
      });
      expectStatusOf(res, 204);
      return (p) => p.roomId === room.id;
    },
  },
  'presence:changed': {
    // Only the sockets that subscribed to the user (here the member's and the guest's), whatever the room.
    receivers: () => ['member', 'guest'],
    trigger: async ({ world, sockets }) => {
      const someone = await register(world.call, uniqueName('on'));
      for (const k of ['member', 'guest'] as const)
        await emitAck(sockets[k], 'presence:subscribe', { userIds: [someone.user.id] });
      await closeAndSettle(world.server, await connectReady(world.server, someone));
      const isIt = (p: ServerPayload<'presence:changed'>) =>
        [...p.online.map((u) => u.id), ...p.offline.map((o) => o.userId)].includes(someone.user.id);
      // Batched: wait for the batch, so that the marker comes after it.
      for (const k of ['member', 'guest'] as const) await nextEvent(sockets[k], 'presence:changed', isIt);
      return isIt;
    },
  },
  'user:updated': {
    // The members of the changer's rooms and the changer's own sockets. Everyone stays in general, so that is every
    // listener; the room kind plays no part, so it is checked once.
    receivers: (k) => (k === 'public' ? EVERYONE : null),
    trigger: async ({ world }) => {
      const someone = await register(world.call, uniqueName('upd'));
      const res = await world.call('PATCH', '/api/users/me', {
        token: someone.accessToken,
        body: { displayName: `Renamed ${uniqueName('rn')}` },
      });
      expectStatusOf(res, 200);
      return (p) => p.id === someone.user.id;
    },
  },
  'session:ended': {
    // Only the sockets of the ended session: here a second session of the member, not the one listening.
    receivers: () => [],
    trigger: async ({ world }) => {
      const login = await world.call('POST', '/api/auth/login', {
        body: { username: world.sessions.member.user.username, password: PASSWORD },
      });
      expectStatusOf(login, 200);
      const other = await connectReady(world.server, login.body);
      const ended = new Promise<void>((resolve) => other.once('disconnect', () => resolve()));
      expectStatusOf(await world.call('POST', '/api/auth/logout', { token: login.body.accessToken }), 204);
      await ended;
      return () => true;
    },
  },
  error: {
    // Only the socket that broke the rule (here: the outsider's, sending to a room it is not in, without a callback).
    receivers: () => ['outsider'],
    trigger: async ({ world, roomKind, sockets }) => {
      const room = await world.room(roomKind, false);
      const clientId = newClientId();
      emitNoAck(sockets.outsider, 'message:send', { roomId: room.id, text: 'no', clientId });
      // The outsider's own acked send afterwards: its error event was sent before this ack.
      await emitAck(sockets.outsider, 'presence:list', {});
      return () => true;
    },
  },
} satisfies Cases;

/** Posts the marker every listener gets after whatever a trigger caused: a message in general. */
export async function generalMarker(world: World) {
  const general = (
    await world.call('GET', '/api/chatrooms', { token: world.newcomer.accessToken })
  ).body.rooms.find((r: { name: string }) => r.name === 'general');
  return messageMarker(world.call, world.newcomer, general.id);
}
