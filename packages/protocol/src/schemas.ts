import { z } from 'zod';
import { normaliseEmoji } from './emoji.js';
import { ERROR_CODES } from './errors.js';
import { LIMITS } from './limits.js';
import { hasControl, hasControlButLines, hasInvisible, normaliseNewlines } from './text.js';

/*
 * One zod schema per payload. The server validates with them, the web client types itself with them and the
 * OpenAPI/AsyncAPI documents are generated from them, so none of the three can drift from the others.
 */

const nfkc = (s: string) => s.normalize('NFKC');
/*
 * Character rules (text.ts): no string input carries control characters (free text keeps tab and newline); names shown
 * to other people carry nothing invisible. Passwords may be anything but NUL (hashing stops at it in some libraries).
 */
const NO_CONTROL = 'may not contain control characters';
const noControl = (s: string) => !hasControl(s);
const NO_NUL = 'may not contain a NUL character';
const noNul = (s: string) => !s.includes('\0');
const NO_INVISIBLE = 'may not contain control or bidi-override characters, nor invisible ones';
const visible = (s: string) => !hasInvisible(s);

/** A resource id: opaque to clients, a decimal string on the wire. */
export const IdSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,17}$/, 'must be an id')
  .meta({ description: 'Opaque id', example: '42' });
/** Upload ids are random so that attachment URLs cannot be guessed. */
export const AttachmentIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16,64}$/, 'must be an attachment id')
  .meta({ description: 'Opaque attachment id', example: 'q3Z9k1Xx0aB7cD2eF4gH6i' });
export const TimestampSchema = z
  .string()
  .meta({ description: 'ISO-8601 UTC', example: '2026-11-21T12:00:00.000Z' });

export const UsernameSchema = z
  .string()
  .overwrite(nfkc)
  .trim()
  .min(LIMITS.usernameMin)
  .max(LIMITS.usernameMax)
  .regex(LIMITS.usernamePattern, 'may contain only letters, digits, "_", "." and "-"')
  .meta({ example: 'ana' });
export const PasswordSchema = z
  .string()
  .min(LIMITS.passwordMin)
  .max(LIMITS.passwordMax)
  .refine(noNul, NO_NUL)
  .meta({ example: 'correct-horse-9' });
export const EmailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(LIMITS.emailMax)
  .pipe(z.email())
  .meta({ example: 'ana@example.com' });
export const DisplayNameSchema = z
  .string()
  .overwrite(nfkc)
  .trim()
  .min(1)
  .max(LIMITS.displayNameMax)
  .refine(visible, NO_INVISIBLE)
  .meta({ example: 'Ana Lima' });
export const RoomNameSchema = z
  .string()
  .overwrite(nfkc)
  .trim()
  .min(LIMITS.roomNameMin)
  .max(LIMITS.roomNameMax)
  .refine(visible, NO_INVISIBLE)
  .meta({ example: 'design' });
export const DescriptionSchema = z
  .string()
  .overwrite(normaliseNewlines)
  .trim()
  .max(LIMITS.descriptionMax)
  .refine((s) => !hasControlButLines(s), NO_CONTROL)
  .meta({ example: 'Design reviews' });
export const MessageTextSchema = z
  .string()
  .overwrite(normaliseNewlines)
  .trim()
  .max(LIMITS.messageTextMax)
  .refine((s) => !hasControlButLines(s), NO_CONTROL)
  .meta({ example: 'Hello!' });
export const ClientIdSchema = z
  .string()
  .min(1)
  .max(LIMITS.clientIdMax)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'must be a UUID or similar token')
  .meta({
    description: 'Idempotency key made by the client (a UUID)',
    example: '6f1c1f4e-1b7a-4c52-9d3e-0c2b8f0b6a11',
  });
export const RoomKindSchema = z.enum(['public', 'private', 'direct']);
export const CreatableRoomKindSchema = z.enum(['public', 'private']);

// ---------------------------------------------------------------- shapes (server → client)

export const UserSchema = z
  .object({
    id: IdSchema,
    username: z.string(),
    displayName: z.string(),
    avatarUrl: z.string().nullable(),
    isGuest: z.boolean(),
    createdAt: TimestampSchema,
  })
  .meta({ id: 'User' });
export const MeSchema = UserSchema.extend({ email: z.string().nullable() }).meta({ id: 'Me' });

/** Which messages of a room notify a member: every one, those that mention them, or none. */
export const NotificationLevelSchema = z.enum(['all', 'mentions', 'none']).meta({ id: 'NotificationLevel' });

export const RoomSchema = z
  .object({
    id: IdSchema,
    name: z.string(),
    description: z.string(),
    kind: RoomKindSchema,
    ownerId: IdSchema.nullable(),
    memberCount: z.number().int(),
    isMember: z.boolean(),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
    lastMessageAt: TimestampSchema.nullable(),
    unreadCount: z.number().int(),
    mentionCount: z.number().int().meta({
      description: 'Unread messages that mention the caller (0 on broadcast copies, as unreadCount)',
    }),
    notifications: NotificationLevelSchema.meta({
      description: "The caller's notification level for this room (`all` on broadcast copies: keep your own)",
    }),
    peer: UserSchema.optional().meta({ description: 'Direct rooms only: the other participant' }),
  })
  .meta({ id: 'Room' });

export const AttachmentSchema = z
  .object({
    id: AttachmentIdSchema,
    url: z.string(),
    thumbnailUrl: z.string(),
    mime: z.string(),
    size: z.number().int(),
    width: z.number().int(),
    height: z.number().int(),
    expiresAt: TimestampSchema.nullable(),
    expired: z
      .boolean()
      .meta({ description: 'Extension: the image is past its retention and no longer served' }),
  })
  .meta({ id: 'Attachment' });

export const EmojiSchema = z
  .string()
  .transform((s, ctx) => {
    const e = normaliseEmoji(s);
    if (e === null) {
      ctx.addIssue({ code: 'custom', message: 'must be one emoji' });
      return z.NEVER;
    }
    return e;
  })
  .meta({ description: "One emoji (a single grapheme of Unicode's RGI emoji set)", example: '👍' });

export const ReactionSchema = z
  .object({
    emoji: z.string(),
    count: z.number().int(),
    userIds: z.array(IdSchema).meta({ description: 'The first 50 users who reacted, in the order they did' }),
  })
  .meta({ id: 'Reaction' });

export const ReplyToSchema = z
  .object({
    id: IdSchema,
    author: UserSchema.nullable(),
    text: z.string().meta({ description: "The first 200 characters of the parent's text ('' once deleted)" }),
    deleted: z.boolean(),
  })
  .meta({ id: 'ReplyTo' });

export const MessageKindSchema = z.enum(['text', 'image', 'system']);
export const SystemEventSchema = z.enum(['joined', 'left', 'kicked', 'room_renamed']);
export const MessageSchema = z
  .object({
    id: IdSchema,
    roomId: IdSchema,
    kind: MessageKindSchema,
    author: UserSchema.nullable(),
    text: z.string(),
    attachment: AttachmentSchema.nullable(),
    event: SystemEventSchema.nullable(),
    clientId: z.string().nullable(),
    createdAt: TimestampSchema,
    editedAt: TimestampSchema.nullable(),
    deleted: z.boolean(),
    mentions: z.array(IdSchema).meta({
      description:
        'Ids of the room members the text names as `@username` (or all of them: `@room` by the owner), ascending',
    }),
    reactions: z.array(ReactionSchema).meta({
      description: 'At most 20 distinct emoji, in the order each was first added',
    }),
    replyTo: ReplyToSchema.nullable().meta({ description: 'The message this one answers, quoted' }),
  })
  .meta({ id: 'Message' });

export const SessionSchema = z
  .object({
    user: MeSchema,
    accessToken: z.string(),
    refreshToken: z.string(),
    expiresIn: z.number().int().meta({ description: 'Access token lifetime in seconds' }),
  })
  .meta({ id: 'Session' });

export const MemberSchema = z
  .object({
    user: UserSchema,
    role: z.enum(['owner', 'member']),
    joinedAt: TimestampSchema,
    online: z.boolean(),
  })
  .meta({ id: 'Member' });

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES as [string, ...string[]]),
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      retryAfter: z
        .number()
        .int()
        .optional()
        .meta({ description: 'Extension: seconds to wait (RATE_LIMITED)' }),
    }),
  })
  .meta({ id: 'Error' });

export const HealthSchema = z
  .object({
    status: z.enum(['ok', 'fail']),
    checks: z.object({ database: z.enum(['ok', 'fail']), realtime: z.enum(['ok', 'fail']) }),
  })
  .meta({ id: 'Health' });

// ---------------------------------------------------------------- requests (client → server)

export const RegisterBodySchema = z
  .strictObject({
    username: UsernameSchema,
    email: EmailSchema,
    password: PasswordSchema,
    displayName: DisplayNameSchema.optional(),
  })
  .meta({ id: 'RegisterBody' });

export const LoginBodySchema = z
  .strictObject({
    username: z
      .string()
      .max(LIMITS.emailMax)
      .refine(noControl, NO_CONTROL)
      .optional()
      .meta({ description: 'Username, or the email address' }),
    email: z.string().max(LIMITS.emailMax).refine(noControl, NO_CONTROL).optional(),
    password: z.string().max(LIMITS.passwordMax).refine(noNul, NO_NUL),
  })
  .refine((b) => (b.username === undefined) !== (b.email === undefined), {
    message: 'give either username or email',
    path: ['username'],
  })
  .meta({ id: 'LoginBody', example: { username: 'ana', password: 'correct-horse-9' } });

export const GuestBodySchema = z.strictObject({ username: UsernameSchema }).meta({ id: 'GuestBody' });

/** The refresh token may instead travel in the httpOnly cookie, so the body is optional. */
export const RefreshBodySchema = z
  .strictObject({ refreshToken: z.string().min(1).max(512).refine(noControl, NO_CONTROL).optional() })
  .meta({ id: 'RefreshBody' });

/** Sign out everywhere takes no options; an empty object (or no body), and any field is refused. */
export const LogoutAllBodySchema = z
  .strictObject({})
  .meta({ id: 'LogoutAllBody', description: 'Empty: every session of the caller ends' });

export const UpdateMeBodySchema = z
  .strictObject({
    displayName: DisplayNameSchema.optional(),
    email: EmailSchema.optional(),
    avatarAttachmentId: AttachmentIdSchema.nullable().optional(),
  })
  .meta({ id: 'UpdateMeBody' });

export const ChangePasswordBodySchema = z
  .strictObject({
    currentPassword: z.string().max(LIMITS.passwordMax).refine(noNul, NO_NUL),
    newPassword: PasswordSchema,
  })
  .meta({ id: 'ChangePasswordBody' });

const booleanQuery = z.enum(['true', 'false']).transform((v) => v === 'true');
/** An opaque position in a paged list: pass a page's `next` as `after` to get the page after it. */
export const CursorSchema = z
  .string()
  .min(1)
  .max(400)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a cursor from a previous page')
  .meta({ description: 'Opaque cursor: the `next` of the previous page' });

export const UserSearchQuerySchema = z.object({
  q: z.string().max(LIMITS.usernameMax).refine(noControl, NO_CONTROL).optional(),
  online: booleanQuery.optional(),
  limit: z.coerce.number().int().min(1).max(LIMITS.userSearchMax).optional(),
  after: CursorSchema.optional(),
});

/** `limit` and `after` of a paged list (rooms, DMs, members): contract v2 "Lists are paged". */
export const ListPageQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(LIMITS.listPageMax)
    .optional()
    .meta({ description: 'Items per page: default 100, max 200' }),
  after: CursorSchema.optional(),
});

export const CreateRoomBodySchema = z
  .strictObject({
    name: RoomNameSchema,
    description: DescriptionSchema.optional(),
    kind: CreatableRoomKindSchema.optional(),
  })
  .meta({ id: 'CreateRoomBody' });

export const UpdateRoomBodySchema = z
  .strictObject({
    name: RoomNameSchema.optional(),
    description: DescriptionSchema.optional(),
    kind: CreatableRoomKindSchema.optional(),
  })
  .meta({ id: 'UpdateRoomBody' });

export const AddMemberBodySchema = z
  .strictObject({ userId: IdSchema.optional() })
  .meta({ id: 'AddMemberBody', description: 'Empty to join yourself; `userId` for an owner adding someone' });

export const HistoryQuerySchema = z
  .object({
    before: IdSchema.optional(),
    after: IdSchema.optional(),
    around: IdSchema.optional().meta({
      description:
        'The page centred on this message (a search result, a reply): `hasMoreBefore`/`hasMoreAfter` say what lies beyond',
    }),
    limit: z.coerce.number().int().min(1).max(LIMITS.historyMax).optional(),
  })
  .refine((q) => [q.before, q.after, q.around].filter((c) => c !== undefined).length <= 1, {
    message: 'give at most one of before, after and around',
    path: ['around'],
  });

/** GET /api/search (v2): words of `q` (the last one a prefix), in the caller's rooms or in the one room `roomId`. */
export const SearchQuerySchema = z.object({
  q: z
    .string()
    .trim()
    .min(1)
    .max(LIMITS.searchQueryMax)
    .refine(noControl, NO_CONTROL)
    .meta({ example: 'cafe tomor' }),
  roomId: IdSchema.optional(),
  before: IdSchema.optional().meta({
    description: "Results older than this message (the previous page's last)",
  }),
  limit: z.coerce.number().int().min(1).max(LIMITS.searchMax).optional(),
});

const messageContent = {
  text: MessageTextSchema.optional(),
  attachmentId: AttachmentIdSchema.optional(),
  replyToId: IdSchema.optional().meta({ description: 'Answer this message (of the same room)' }),
};
const needsContent = (b: { text?: string; attachmentId?: string }) =>
  Boolean(b.text) || Boolean(b.attachmentId);
const needsContentMessage = { message: 'a message needs text or an attachment', path: ['text'] };

export const SendMessageBodySchema = z
  .strictObject({ ...messageContent, clientId: ClientIdSchema.optional() })
  .refine(needsContent, needsContentMessage)
  .meta({ id: 'SendMessageBody' });

export const EditMessageBodySchema = z
  .strictObject({ text: MessageTextSchema.min(1) })
  .meta({ id: 'EditMessageBody' });

export const ReactionBodySchema = z.strictObject({ emoji: EmojiSchema }).meta({ id: 'ReactionBody' });

export const SetNotificationsBodySchema = z
  .strictObject({ level: NotificationLevelSchema })
  .meta({ id: 'SetNotificationsBody' });

export const CreateDmBodySchema = z.strictObject({ userId: IdSchema }).meta({ id: 'CreateDmBody' });

// ---------------------------------------------------------------- list envelopes

export const UserListSchema = z.object({ users: z.array(UserSchema) }).meta({ id: 'UserList' });
/** A page of users, ordered by username: `next` (when `hasMore`) is the `after` of the next page. */
export const UserPageSchema = z
  .object({ users: z.array(UserSchema), hasMore: z.boolean(), next: CursorSchema.nullable() })
  .meta({ id: 'UserPage' });
/** A page of rooms: `next` (when `hasMore`) is the `after` of the next page. */
export const RoomPageSchema = z
  .object({ rooms: z.array(RoomSchema), hasMore: z.boolean(), next: CursorSchema.nullable() })
  .meta({ id: 'RoomPage' });
/** A page of members, online first, then by username: `next` (when `hasMore`) is the `after` of the next page. */
export const MemberPageSchema = z
  .object({ members: z.array(MemberSchema), hasMore: z.boolean(), next: CursorSchema.nullable() })
  .meta({ id: 'MemberPage' });
export const MessagePageSchema = z
  .object({
    messages: z.array(MessageSchema),
    hasMore: z.boolean(),
    hasMoreBefore: z.boolean().optional().meta({ description: 'With `around`: older messages exist' }),
    hasMoreAfter: z.boolean().optional().meta({ description: 'With `around`: newer messages exist' }),
  })
  .meta({ id: 'MessagePage' });

export const SearchHitSchema = z
  .object({
    message: MessageSchema,
    snippet: z.string().meta({
      description:
        'The matching text, each hit wrapped in U+0002 … U+0003 (control characters, never HTML); cut to about 200 characters around the first hit, with … where cut',
      example: 'see you at the \u0002café\u0003',
    }),
  })
  .meta({ id: 'SearchHit' });
export const SearchResultsSchema = z
  .object({ results: z.array(SearchHitSchema), hasMore: z.boolean() })
  .meta({ id: 'SearchResults' });

export type User = z.infer<typeof UserSchema>;
export type Me = z.infer<typeof MeSchema>;
export type Room = z.infer<typeof RoomSchema>;
export type NotificationLevel = z.infer<typeof NotificationLevelSchema>;
export type RoomKind = z.infer<typeof RoomKindSchema>;
export type Attachment = z.infer<typeof AttachmentSchema>;
export type Message = z.infer<typeof MessageSchema>;
export type Reaction = z.infer<typeof ReactionSchema>;
export type ReplyTo = z.infer<typeof ReplyToSchema>;
export type SystemEvent = z.infer<typeof SystemEventSchema>;
export type Session = z.infer<typeof SessionSchema>;
export type Member = z.infer<typeof MemberSchema>;
export type Health = z.infer<typeof HealthSchema>;
export type MessagePage = z.infer<typeof MessagePageSchema>;
export type RoomPage = z.infer<typeof RoomPageSchema>;
export type MemberPage = z.infer<typeof MemberPageSchema>;
export type SearchHit = z.infer<typeof SearchHitSchema>;
export type SearchResults = z.infer<typeof SearchResultsSchema>;

/** Shared by REST and socket: `{ messageContent, clientId }` rules live in one place. */
export const sendMessageContent = { messageContent, needsContent, needsContentMessage };
