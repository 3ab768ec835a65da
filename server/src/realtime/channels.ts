import type { ClientToServerEvents, ServerToClientEvents, SocketData } from '@parley/protocol';
import type { Server, Socket } from 'socket.io';

export type IoServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type IoSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/** The one place Socket.IO room names are made. */
export const channel = {
  room: (roomId: string | number) => `room:${roomId}`,
  user: (userId: string | number) => `user:${userId}`,
  session: (sessionId: string) => `session:${sessionId}`,
};

type Emit = ServerToClientEvents;

/**
 * What services use to reach connected clients. Services call it only after their transaction committed, so
 * nobody hears of a change that was rolled back. Taking something away (ending sessions, unsubscribing from a
 * room) goes through `Revocations` (revocations.ts) instead, which also reaches sockets still in their handshake.
 */
export class Broadcaster {
  constructor(private io: IoServer) {}

  toRoom<E extends keyof Emit>(roomId: string | number, event: E, ...args: Parameters<Emit[E]>): void {
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
