import type {
  ClientToServerEvents,
  Message as MessageDto,
  ServerToClientEvents,
  SocketData,
} from '@parley/protocol';
import type { Server, Socket } from 'socket.io';
import type { MessageFanout } from './fanout.js';

/**
 * Events between the nodes of one deployment (`io.serverSideEmit`, REDIS_URL only). `messages:unpublished`: the
 * ids of messages whose broadcast this node could not publish while its Redis connection was down (new ones, and
 * edited or deleted ones), sent once it is back so that the other nodes deliver them from the database
 * (scale/recovery.ts).
 */
export interface InterNodeEvents {
  'messages:unpublished': (report: { created: string[]; changed: string[] }) => void;
}

export type IoServer = Server<ClientToServerEvents, ServerToClientEvents, InterNodeEvents, SocketData>;
export type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterNodeEvents, SocketData>;

/** The one place Socket.IO room names are made. */
export const channel = {
  room: (roomId: string | number) => `room:${roomId}`,
  user: (userId: string | number) => `user:${userId}`,
  session: (sessionId: string) => `session:${sessionId}`,
  /**
   * Every socket that did not opt in to `messages:new` (handshake `auth.messageBatches`): it gets one
   * `message:new` per message (realtime/fanout.ts).
   */
  singles: 'clients:single-messages',
};

type Emit = ServerToClientEvents;

/**
 * Told of each `message:new` this node delivers to its own sockets (scale-out: the gap fill after a Redis outage,
 * scale/deliveries.ts). `false`: this node's sockets already have it.
 */
export interface DeliveryRecorder {
  deliver(roomId: string | number, messageId: string): boolean;
}

/**
 * What services use to reach connected clients. Services call it only after their transaction committed, so
 * nobody hears of a change that was rolled back. Taking something away (ending sessions, unsubscribing from a
 * room) goes through `Revocations` (revocations.ts) instead, which also reaches sockets still in their handshake.
 */
export class Broadcaster {
  constructor(
    private io: IoServer,
    private fanout: MessageFanout,
  ) {}

  /**
   * The messages one commit stored, ascending id: each room's go out now, in one frame per socket when there are
   * several (realtime/fanout.ts).
   */
  messagesNew(messages: readonly MessageDto[]): void {
    if (messages.length) this.fanout.send(messages);
  }

  toRoom<E extends keyof Emit>(roomId: string | number, event: E, ...args: Parameters<Emit[E]>): void {
    if (event === 'message:new') {
      this.fanout.send([args[0] as MessageDto]);
      return;
    }
    this.io.to(channel.room(roomId)).emit(event, ...args);
  }

  toUsers<E extends keyof Emit>(userIds: (string | number)[], event: E, ...args: Parameters<Emit[E]>): void {
    if (userIds.length) this.io.to(userIds.map(channel.user)).emit(event, ...args);
  }

  /** To the room and to some users who may have just left it; each socket gets it once. */
  toRoomAndUsers<E extends keyof Emit>(
    roomId: string | number,
    userIds: (string | number)[],
    event: E,
    ...args: Parameters<Emit[E]>
  ): void {
    this.io.to([channel.room(roomId), ...userIds.map(channel.user)]).emit(event, ...args);
  }

  /** To several rooms and users at once; each socket gets it once. */
  toRoomsAndUsers<E extends keyof Emit>(
    roomIds: (string | number)[],
    userIds: (string | number)[],
    event: E,
    ...args: Parameters<Emit[E]>
  ): void {
    const channels = [...roomIds.map(channel.room), ...userIds.map(channel.user)];
    if (channels.length) this.io.to(channels).emit(event, ...args);
  }

  toAll<E extends keyof Emit>(event: E, ...args: Parameters<Emit[E]>): void {
    this.io.emit(event, ...args);
  }

  /** To every socket that is not subscribed to the room (the room's non-members). */
  toAllButRoom<E extends keyof Emit>(roomId: string | number, event: E, ...args: Parameters<Emit[E]>): void {
    this.io.except(channel.room(roomId)).emit(event, ...args);
  }

  /** Subscribes every socket of the user, on every node, to the room. */
  subscribe(userId: string | number, roomId: string | number): void {
    this.io.in(channel.user(userId)).socketsJoin(channel.room(roomId));
  }
}
