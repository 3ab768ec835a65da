import { z } from 'zod';
import type { ErrorBody } from './errors.js';
import { LIMITS } from './limits.js';
import * as s from './schemas.js';

/** Every acknowledgement: data on success, the contract's error object otherwise. */
export type Ack<T> = { ok: true; data: T } | ({ ok: false } & ErrorBody);
export type AckFn<T> = (res: Ack<T>) => void;

const { messageContent, needsContent, needsContentMessage } = s.sendMessageContent;

/** Names a schema so that generated documents (AsyncAPI) refer to it as a component. */
const named = <T extends z.ZodType>(id: string, schema: T): T => schema.meta({ id });

/** Client → server payloads, one schema each. */
export const clientEventSchemas = {
  'room:join': named('RoomJoinPayload', z.strictObject({ roomId: s.IdSchema })),
  'room:leave': named('RoomLeavePayload', z.strictObject({ roomId: s.IdSchema })),
  'message:send': named(
    'MessageSendPayload',
    z
      .strictObject({ roomId: s.IdSchema, ...messageContent, clientId: s.ClientIdSchema })
      .refine(needsContent, needsContentMessage),
  ),
  'message:edit': named(
    'MessageEditPayload',
    z.strictObject({ messageId: s.IdSchema, text: s.MessageTextSchema.min(1) }),
  ),
  'message:delete': named('MessageDeletePayload', z.strictObject({ messageId: s.IdSchema })),
  'reaction:add': named('ReactionAddPayload', z.strictObject({ messageId: s.IdSchema, emoji: s.EmojiSchema })),
  'reaction:remove': named(
    'ReactionRemovePayload',
    z.strictObject({ messageId: s.IdSchema, emoji: s.EmojiSchema }),
  ),
  'messages:fetch': named(
    'MessagesFetchPayload',
    z
      .strictObject({
        roomId: s.IdSchema,
        before: s.IdSchema.optional(),
        after: s.IdSchema.optional(),
        around: s.IdSchema.optional(),
        limit: z.number().int().min(1).max(100).optional(),
      })
      .refine((p) => [p.before, p.after, p.around].filter((c) => c !== undefined).length <= 1, {
        message: 'give at most one of before, after and around',
        path: ['around'],
      }),
  ),
  typing: named('TypingPayload', z.strictObject({ roomId: s.IdSchema, isTyping: z.boolean() })),
  'room:read': named('RoomReadPayload', z.strictObject({ roomId: s.IdSchema, messageId: s.IdSchema })),
  'presence:list': named(
    'PresenceListPayload',
    z.strictObject({
      limit: z.number().int().min(1).max(LIMITS.presencePageMax).optional(),
      after: s.CursorSchema.optional(),
    }),
  ),
  'presence:subscribe': named(
    'PresenceSubscribePayload',
    z.strictObject({
      userIds: z
        .array(s.IdSchema)
        .max(LIMITS.presenceSubscribeMax)
        .meta({ description: `At most ${LIMITS.presenceSubscribeMax} user ids; replaces the previous set` }),
    }),
  ),
} as const;

const emptyAck = named('EmptyAck', z.strictObject({}));
const messageAck = named('MessageAck', z.object({ message: s.MessageSchema }));
/** What each client event acknowledges with (the `data` of `{ok: true, data}`). */
export const clientAckSchemas = {
  'room:join': named(
    'RoomJoinAck',
    z.object({ room: s.RoomSchema, messages: z.array(s.MessageSchema), online: z.array(s.UserSchema) }),
  ),
  'room:leave': emptyAck,
  'message:send': messageAck,
  'message:edit': messageAck,
  'message:delete': emptyAck,
  'reaction:add': messageAck,
  'reaction:remove': messageAck,
  'messages:fetch': s.MessagePageSchema,
  typing: emptyAck,
  'room:read': named('RoomReadAck', z.object({ unreadCount: z.number().int() })),
  'presence:list': s.UserPageSchema,
  'presence:subscribe': named(
    'PresenceSubscribeAck',
    z.object({
      online: z.array(s.IdSchema).meta({ description: 'Which of the requested users are connected now' }),
    }),
  ),
} as const;

export type ClientEventName = keyof typeof clientEventSchemas;
export type ClientPayload<E extends ClientEventName> = z.infer<(typeof clientEventSchemas)[E]>;

export type ClientAckData = { [E in ClientEventName]: z.infer<(typeof clientAckSchemas)[E]> };

export type ClientToServerEvents = {
  [E in ClientEventName]: (payload: ClientPayload<E>, ack?: AckFn<ClientAckData[E]>) => void;
};

/** Server → client payloads, one schema each (the AsyncAPI document is generated from these). */
export const serverEventSchemas = {
  'message:new': s.MessageSchema,
  'messages:new': named(
    'MessagesNewEvent',
    z.object({
      roomId: s.IdSchema,
      messages: z
        .array(s.MessageSchema)
        .min(1)
        .meta({ description: 'Messages of this room, ascending id: handle each as one `message:new`' }),
    }),
  ),
  'message:updated': s.MessageSchema,
  'message:deleted': named('MessageDeletedEvent', z.object({ id: s.IdSchema, roomId: s.IdSchema })),
  'room:member-joined': named(
    'MemberJoinedEvent',
    z.object({ roomId: s.IdSchema, user: s.UserSchema, at: s.TimestampSchema }),
  ),
  'room:member-left': named(
    'MemberLeftEvent',
    z.object({
      roomId: s.IdSchema,
      userId: s.IdSchema,
      at: s.TimestampSchema,
      reason: z.enum(['left', 'kicked']),
    }),
  ),
  'room:created': s.RoomSchema,
  'room:updated': s.RoomSchema,
  'room:deleted': named('RoomDeletedEvent', z.object({ roomId: s.IdSchema })),
  'presence:changed': named(
    'PresenceChangedEvent',
    z.object({
      online: z.array(s.UserSchema),
      offline: z.array(z.object({ userId: s.IdSchema, at: s.TimestampSchema })),
    }),
  ),
  typing: named('TypingEvent', z.object({ roomId: s.IdSchema, user: s.UserSchema, isTyping: z.boolean() })),
  'user:updated': s.UserSchema,
  'session:ended': named(
    'SessionEndedEvent',
    z.object({
      reason: z
        .string()
        .meta({ description: 'logout, logout_all, reuse, password_changed, released, token_expired' }),
    }),
  ),
  error: s.ErrorSchema,
} as const;

export type ServerEventName = keyof typeof serverEventSchemas;
export type ServerPayload<E extends ServerEventName> = z.infer<(typeof serverEventSchemas)[E]>;
export type MemberJoinedEvent = ServerPayload<'room:member-joined'>;
export type MemberLeftEvent = ServerPayload<'room:member-left'>;
export type MessagesNewEvent = ServerPayload<'messages:new'>;

export type ServerToClientEvents = {
  [E in ServerEventName]: (payload: ServerPayload<E>) => void;
};

/** Human descriptions of every event, for the AsyncAPI document. */
export const eventDocs: Record<ClientEventName | ServerEventName, string> = {
  'room:join':
    'Join a public room (or one you belong to); subscribes all your sockets. Acks room, latest 50 messages, online members. FORBIDDEN while its owner has banned you (a kick bans).',
  'room:leave': 'End your membership; all your sockets leave the room.',
  'message:send': 'Send a message. Acked only after it is stored; idempotent by clientId.',
  'message:edit': 'Edit your message (FORBIDDEN once banned from its room).',
  'message:delete': 'Delete a message (author, unless banned from its room, or room owner).',
  'reaction:add':
    'React with one emoji (idempotent; at most 20 distinct per message; members only, not while banned). Acks the message; the room gets message:updated.',
  'reaction:remove':
    'Take back your reaction (idempotent). Acks the message; the room gets message:updated.',
  'messages:fetch':
    'History page; `after` fills the gap after a reconnect; `around` is the page centred on a message (`hasMoreBefore`/`hasMoreAfter`).',
  typing:
    'Client → server: you are (not) typing. Server → client: someone in the room is (not) typing; expires after 5 s.',
  'room:read': "Move your read marker; acks the room's unread count.",
  'presence:list':
    'A page of the users connected now, by username (`limit` default 100, max 200; `after`: the previous page’s `next`).',
  'presence:subscribe':
    'Watch these users’ presence (at most 500 ids; replaces the socket’s previous set; `[]` stops). Acks which of them are online now. Your own user needs no subscription: your own sockets are online by definition and are never sent your own presence.',
  'message:new': 'A message was stored in one of your rooms (your own included).',
  'messages:new':
    'Several messages of one room, stored at once, in one frame (ascending id; each is what its own `message:new` would be). Sent only to sockets that opted in with `auth: { messageBatches: true }` at the handshake, in place of the single events; a socket that did not opt in gets one `message:new` per message. Order per room holds across singles and batches.',
  'message:updated': 'A message was edited, or its reactions (or the quote of the message it answers) changed.',
  'message:deleted': 'A message was deleted.',
  'room:member-joined': 'Someone joined the room (also stored as a system message).',
  'room:member-left':
    'Someone left or was kicked (sent to the room and to that user). A kick also bans them from the room until its owner unbans them.',
  'room:created': 'A room appeared: public rooms to everyone, private rooms and DMs to their members.',
  'room:updated': 'A room changed.',
  'room:deleted': 'A room was deleted (or became private and so invisible to you).',
  'presence:changed':
    'Users you subscribed to came online or went offline. At most one per PRESENCE_BATCH_MS (default 1 s) per socket; a user who changed twice in that time appears once, in the final state; never empty.',
  'user:updated':
    'Someone you share a room with (or you, in another tab) changed their display name or avatar: the User as it is now. Email changes are never sent.',
  'session:ended':
    'Your session was logged out, revoked or expired; refresh and reconnect, or sign in again.',
  error: 'A rule was broken by an event sent without an acknowledgement callback.',
};

/**
 * The Socket.IO handshake `auth` object. `messageBatches: true`: the client understands `messages:new`, and the
 * server may deliver several messages of a room in one frame instead of one `message:new` each (fewer frames per
 * socket when a room is busy). Without it, every message comes as its own `message:new` (contract v2).
 */
export interface HandshakeAuth {
  token: string;
  messageBatches?: boolean;
}

/** What the server keeps on each socket (`socket.data`). */
export interface SocketData {
  userId: string;
  sessionId: string;
}
