import { z } from 'zod';
import type { ErrorBody } from './errors.js';
import * as s from './schemas.js';

/** Every acknowledgement: data on success, the contract's error object otherwise. */
export type Ack<T> = { ok: true; data: T } | ({ ok: false } & ErrorBody);
export type AckFn<T> = (res: Ack<T>) => void;

const { messageContent, needsContent, needsContentMessage } = s.sendMessageContent;

/** Client → server payloads, one schema each. */
export const clientEventSchemas = {
  'room:join': z.strictObject({ roomId: s.IdSchema }),
  'room:leave': z.strictObject({ roomId: s.IdSchema }),
  'message:send': z
    .strictObject({ roomId: s.IdSchema, ...messageContent, clientId: s.ClientIdSchema })
    .refine(needsContent, needsContentMessage),
  'message:edit': z.strictObject({ messageId: s.IdSchema, text: s.MessageTextSchema.min(1) }),
  'message:delete': z.strictObject({ messageId: s.IdSchema }),
  'messages:fetch': z.strictObject({
    roomId: s.IdSchema,
    before: s.IdSchema.optional(),
    after: s.IdSchema.optional(),
    limit: z.number().int().min(1).max(100).optional(),
  }),
  typing: z.strictObject({ roomId: s.IdSchema, isTyping: z.boolean() }),
  'room:read': z.strictObject({ roomId: s.IdSchema, messageId: s.IdSchema }),
  'presence:list': z.strictObject({}),
} as const;

export type ClientEventName = keyof typeof clientEventSchemas;
export type ClientPayload<E extends ClientEventName> = z.infer<(typeof clientEventSchemas)[E]>;

/** What each client event acknowledges with. */
export interface ClientAckData {
  'room:join': { room: s.Room; messages: s.Message[]; online: s.User[] };
  'room:leave': Record<string, never>;
  'message:send': { message: s.Message };
  'message:edit': { message: s.Message };
  'message:delete': Record<string, never>;
  'messages:fetch': s.MessagePage;
  typing: Record<string, never>;
  'room:read': { unreadCount: number };
  'presence:list': { users: s.User[] };
}

export type ClientToServerEvents = {
  [E in ClientEventName]: (payload: ClientPayload<E>, ack?: AckFn<ClientAckData[E]>) => void;
};

export interface MemberJoinedEvent {
  roomId: string;
  user: s.User;
  at: string;
}
export interface MemberLeftEvent {
  roomId: string;
  userId: string;
  at: string;
  reason: 'left' | 'kicked';
}

export interface ServerToClientEvents {
  'message:new': (m: s.Message) => void;
  'message:updated': (m: s.Message) => void;
  'message:deleted': (e: { id: string; roomId: string }) => void;
  'room:member-joined': (e: MemberJoinedEvent) => void;
  'room:member-left': (e: MemberLeftEvent) => void;
  'room:created': (r: s.Room) => void;
  'room:updated': (r: s.Room) => void;
  'room:deleted': (e: { roomId: string }) => void;
  'presence:online': (e: { user: s.User; at: string }) => void;
  'presence:offline': (e: { userId: string; at: string }) => void;
  typing: (e: { roomId: string; user: s.User; isTyping: boolean }) => void;
  'session:ended': (e: { reason: string }) => void;
  error: (e: ErrorBody) => void;
}

/** What the server keeps on each socket (`socket.data`). */
export interface SocketData {
  userId: string;
  sessionId: string;
}
