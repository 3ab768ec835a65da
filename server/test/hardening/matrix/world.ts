import type { Message, Room, Session } from '@parley/protocol';
import {
  client,
  register,
  uniqueName,
  type Call,
  type TestServer,
} from '../../../src/test-support/server.js';
import { png, uploadFile } from '../../helpers/images.js';
import {
  addMember,
  connectReady,
  createRoom,
  expectStatusOf,
  joinRoom,
  postMessage,
} from '../../helpers/realtime.js';
import type { ClientSocket } from '../../helpers/sockets.js';
import type { RoomKind, UserKind } from './rules.js';

/*
 * The people and rooms the matrix runs against. Rooms that a cell may change (join, leave, kick, delete) are made
 * fresh for that cell; the others are made once per kind. A direct room cannot be made fresh (one pair, one DM),
 * which is fine: no cell may change it.
 */

export const PASSWORD = 'correct-horse-9';

export interface World {
  server: TestServer;
  call: Call;
  /** The signed-in kinds; `loggedOut` has none. */
  sessions: Record<Exclude<UserKind, 'loggedOut'>, Session>;
  /** A second member of every public and private room: the one the owner kicks. */
  victim: Session;
  /** A registered user in no room but general: the one the owner adds. */
  newcomer: Session;
  /** A room of `kind` as described in rules.ts: shared, or made for this cell only. */
  room(kind: RoomKind, fresh: boolean): Promise<Room>;
  /** A text message by the member in `room`: shared per room, or a new one. */
  message(room: Room, fresh: boolean): Promise<Message>;
  /** An image the member posted in `room` (one per room): its attachment id. */
  image(room: Room): Promise<string>;
  /** A new session of a user of this kind, for cells that end or revoke the caller's session. */
  throwaway(kind: Exclude<UserKind, 'loggedOut'>): Promise<Session>;
}

/** A new guest session. */
export async function guest(call: Call): Promise<Session> {
  const res = await call('POST', '/api/auth/guest', { body: { username: uniqueName('g') } });
  expectStatusOf(res, 201);
  return res.body;
}

/** Registers the matrix's users on `server` and answers the world they live in. */
export async function makeWorld(server: TestServer): Promise<World> {
  const call = client(server.url);
  const [owner, member, outsider, victim, newcomer] = [
    await register(call, uniqueName('own')),
    await register(call, uniqueName('mem')),
    await register(call, uniqueName('out')),
    await register(call, uniqueName('vic')),
    await register(call, uniqueName('new')),
  ];
  const sessions = { owner, member, outsider, guest: await guest(call) };

  async function makeRoom(kind: RoomKind): Promise<Room> {
    if (kind === 'direct') {
      const res = await call('POST', '/api/dms', {
        token: owner.accessToken,
        body: { userId: member.user.id },
      });
      expectStatusOf(res, 200);
      return res.body;
    }
    const room = await createRoom(call, owner, kind);
    for (const m of [member, victim])
      if (kind === 'public') await joinRoom(call, m, room.id);
      else await addMember(call, owner, room.id, m);
    return room;
  }

  const shared = new Map<RoomKind, Promise<Room>>();
  const sharedMessages = new Map<string, Promise<Message>>();
  const images = new Map<string, Promise<string>>();
  async function postImage(room: Room): Promise<string> {
    const up = await uploadFile(server.url, member.accessToken, await png(16, 16));
    expectStatusOf(up, 201);
    const res = await call('POST', `/api/chatrooms/${room.id}/messages`, {
      token: member.accessToken,
      body: { attachmentId: up.body.id },
    });
    expectStatusOf(res, 201);
    return up.body.id;
  }
  return {
    server,
    call,
    sessions,
    victim,
    newcomer,
    room: (kind, fresh) => {
      if (fresh) return makeRoom(kind);
      if (!shared.has(kind)) shared.set(kind, makeRoom(kind));
      return shared.get(kind)!;
    },
    message: (room, fresh) => {
      const post = () => postMessage(call, member, room.id, `matrix ${uniqueName('m')}`);
      if (fresh) return post();
      if (!sharedMessages.has(room.id)) sharedMessages.set(room.id, post());
      return sharedMessages.get(room.id)!;
    },
    image: (room) => {
      if (!images.has(room.id)) images.set(room.id, postImage(room));
      return images.get(room.id)!;
    },
    throwaway: (kind) => (kind === 'guest' ? guest(call) : register(call, uniqueName('tmp'))),
  };
}

/**
 * One socket, set up and counted online, for each signed-in kind of the world. They opt in to `messages:new`, as
 * the web client does, so that batches are checked too (a socket that does not gets single events only).
 */
export async function connectKinds(
  server: TestServer,
  world: World,
): Promise<Record<Exclude<UserKind, 'loggedOut'>, ClientSocket>> {
  const { owner, member, outsider, guest } = world.sessions;
  const auth = { messageBatches: true };
  return {
    owner: await connectReady(server, owner, auth),
    member: await connectReady(server, member, auth),
    outsider: await connectReady(server, outsider, auth),
    guest: await connectReady(server, guest, auth),
  };
}
