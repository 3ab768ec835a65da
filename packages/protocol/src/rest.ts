import type { z } from 'zod';
import type { ErrorCode } from './errors.js';
import * as s from './schemas.js';

/** Who may call a route: anyone, any signed-in user (guests too), or registered users only. */
export type Audience = 'anyone' | 'user' | 'registered';

/** One REST route of the contract. The server mounts it, validates with it, and the OpenAPI document is made from it. */
export interface RouteDef {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express-style path: `/api/chatrooms/:id`. */
  path: string;
  tag: string;
  summary: string;
  audience: Audience;
  body?: z.ZodType;
  /** A multipart upload instead of a JSON body: the name of the file field. */
  multipart?: { field: string };
  query?: z.ZodType;
  status: 200 | 201 | 204;
  /**
   * Where a 201's `Location` header points: the created resource's canonical URL, as a template filled from the
   * answer. `{a.b}` is the answer's field `a.b`, URL-encoded; a template that is one placeholder only (`{url}`) is
   * a URL the answer already holds, used as is. Required on every 201 route (`def` checks it).
   */
  location?: string;
  response?: z.ZodType;
  /** The error codes this route can answer with, beyond VALIDATION_ERROR/UNAUTHORIZED/INTERNAL. */
  errors: ErrorCode[];
}

/** A 201 must say where its resource lives (HTTP conventions: every 201 carries `Location`). */
type LocationRule<T> = T extends { status: 201 } ? { location: string } : { location?: never };
const def = <T extends RouteDef>(r: T & LocationRule<T>) => r;

/** Every REST route of the contract, by operation id. */
export const routes = {
  register: def({
    method: 'post',
    path: '/api/auth/register',
    tag: 'auth',
    summary: 'Create an account and sign in',
    audience: 'anyone',
    body: s.RegisterBodySchema,
    status: 201,
    location: '/api/users/{user.id}',
    response: s.SessionSchema,
    errors: ['USERNAME_TAKEN', 'EMAIL_TAKEN', 'CONFLICT', 'RATE_LIMITED'],
  }),
  login: def({
    method: 'post',
    path: '/api/auth/login',
    tag: 'auth',
    summary: 'Sign in with username (or email) and password',
    audience: 'anyone',
    body: s.LoginBodySchema,
    status: 200,
    response: s.SessionSchema,
    errors: ['INVALID_CREDENTIALS', 'RATE_LIMITED'],
  }),
  guest: def({
    method: 'post',
    path: '/api/auth/guest',
    tag: 'auth',
    summary: 'Sign in as a guest with a unique name',
    audience: 'anyone',
    body: s.GuestBodySchema,
    status: 201,
    location: '/api/users/{user.id}',
    response: s.SessionSchema,
    errors: ['USERNAME_TAKEN', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  refresh: def({
    method: 'post',
    path: '/api/auth/refresh',
    tag: 'auth',
    summary: 'Trade a refresh token (body or cookie) for a new session; each refresh token works once',
    audience: 'anyone',
    body: s.RefreshBodySchema,
    status: 200,
    response: s.SessionSchema,
    errors: ['RATE_LIMITED', 'FORBIDDEN'],
  }),
  logout: def({
    method: 'post',
    path: '/api/auth/logout',
    tag: 'auth',
    summary: 'End the session of this refresh token (body or cookie)',
    audience: 'anyone',
    body: s.RefreshBodySchema,
    status: 204,
    errors: [],
  }),
  logoutAll: def({
    method: 'post',
    path: '/api/auth/logout-all',
    tag: 'auth',
    summary:
      'Sign out everywhere: ends every session of the user, this one included; their sockets get `session:ended` (reason `logout_all`)',
    audience: 'user',
    body: s.LogoutAllBodySchema,
    status: 204,
    errors: ['RATE_LIMITED'],
  }),
  getMe: def({
    method: 'get',
    path: '/api/users/me',
    tag: 'users',
    summary: 'The signed-in user',
    audience: 'user',
    status: 200,
    response: s.MeSchema,
    errors: [],
  }),
  updateMe: def({
    method: 'patch',
    path: '/api/users/me',
    tag: 'users',
    summary: 'Change display name, email or avatar',
    audience: 'user',
    body: s.UpdateMeBodySchema,
    status: 200,
    response: s.MeSchema,
    errors: ['EMAIL_TAKEN', 'CONFLICT', 'NOT_FOUND', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  changePassword: def({
    method: 'post',
    path: '/api/users/me/password',
    tag: 'users',
    summary: 'Change password; every other session is revoked',
    audience: 'registered',
    body: s.ChangePasswordBodySchema,
    status: 204,
    errors: ['INVALID_CREDENTIALS', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  searchUsers: def({
    method: 'get',
    path: '/api/users',
    tag: 'users',
    summary:
      'Find users by name prefix; `online=true` for who is connected now. Paged by username: `limit` (default 100, max 200), `after` = the previous page’s `next`',
    audience: 'user',
    query: s.UserSearchQuerySchema,
    status: 200,
    response: s.UserPageSchema,
    errors: [],
  }),
  getUser: def({
    method: 'get',
    path: '/api/users/:id',
    tag: 'users',
    summary: 'One user',
    audience: 'user',
    status: 200,
    response: s.UserSchema,
    errors: ['NOT_FOUND'],
  }),
  listRooms: def({
    method: 'get',
    path: '/api/chatrooms',
    tag: 'rooms',
    summary:
      'Every public room and the private rooms the caller belongs to, by name. Paged: `limit` (default 100, max 200), `after` = the previous page’s `next`',
    audience: 'user',
    query: s.ListPageQuerySchema,
    status: 200,
    response: s.RoomPageSchema,
    errors: [],
  }),
  createRoom: def({
    method: 'post',
    path: '/api/chatrooms',
    tag: 'rooms',
    summary: 'Create a room; the creator owns it',
    audience: 'registered',
    body: s.CreateRoomBodySchema,
    status: 201,
    location: '/api/chatrooms/{id}',
    response: s.RoomSchema,
    errors: ['ROOM_NAME_TAKEN', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  getRoom: def({
    method: 'get',
    path: '/api/chatrooms/:id',
    tag: 'rooms',
    summary: 'One room',
    audience: 'user',
    status: 200,
    response: s.RoomSchema,
    errors: ['NOT_FOUND'],
  }),
  updateRoom: def({
    method: 'patch',
    path: '/api/chatrooms/:id',
    tag: 'rooms',
    summary: 'Rename, describe or change the kind of a room (owner)',
    audience: 'user',
    body: s.UpdateRoomBodySchema,
    status: 200,
    response: s.RoomSchema,
    errors: ['NOT_FOUND', 'FORBIDDEN', 'ROOM_NAME_TAKEN', 'RATE_LIMITED'],
  }),
  deleteRoom: def({
    method: 'delete',
    path: '/api/chatrooms/:id',
    tag: 'rooms',
    summary: 'Delete a room with its messages and memberships (owner)',
    audience: 'user',
    status: 204,
    errors: ['NOT_FOUND', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  listMembers: def({
    method: 'get',
    path: '/api/chatrooms/:id/members',
    tag: 'rooms',
    summary:
      'Members of a room with role and presence: online first, then by username. Paged: `limit` (default 100, max 200), `after` = the previous page’s `next`',
    audience: 'user',
    query: s.ListPageQuerySchema,
    status: 200,
    response: s.MemberPageSchema,
    errors: ['NOT_FOUND'],
  }),
  addMember: def({
    method: 'post',
    path: '/api/chatrooms/:id/members',
    tag: 'rooms',
    summary:
      'Join a public room yourself (403 while banned from it), or (owner) add a user to a room, which lifts their ban',
    audience: 'user',
    body: s.AddMemberBodySchema,
    status: 200,
    response: s.RoomSchema,
    errors: ['NOT_FOUND', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  removeMember: def({
    method: 'delete',
    path: '/api/chatrooms/:id/members/:userId',
    tag: 'rooms',
    summary: 'Leave a room (yourself) or kick a member (owner): a kick also bans them from rejoining',
    audience: 'user',
    status: 204,
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  setNotifications: def({
    method: 'put',
    path: '/api/chatrooms/:id/notifications',
    tag: 'rooms',
    summary:
      'Set your notification level for a room (members): `all`, `mentions` (only messages that mention you) or `none`',
    audience: 'user',
    body: s.SetNotificationsBodySchema,
    status: 200,
    response: s.RoomSchema,
    errors: ['NOT_FOUND', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  listBans: def({
    method: 'get',
    path: '/api/chatrooms/:id/bans',
    tag: 'rooms',
    summary: 'The users banned from a room (owner), most recently banned first',
    audience: 'user',
    status: 200,
    response: s.UserListSchema,
    errors: ['NOT_FOUND', 'FORBIDDEN'],
  }),
  unbanUser: def({
    method: 'delete',
    path: '/api/chatrooms/:id/bans/:userId',
    tag: 'rooms',
    summary:
      'Lift a ban (owner): the user may join again. Unbanning someone who is not banned changes nothing',
    audience: 'user',
    status: 204,
    errors: ['NOT_FOUND', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  listMessages: def({
    method: 'get',
    path: '/api/chatrooms/:id/messages',
    tag: 'messages',
    summary:
      'History, oldest first, paged by message id cursors (before, after, or the page around a message)',
    audience: 'user',
    query: s.HistoryQuerySchema,
    status: 200,
    response: s.MessagePageSchema,
    errors: ['NOT_FOUND'],
  }),
  searchMessages: def({
    method: 'get',
    path: '/api/search',
    tag: 'messages',
    summary:
      'Messages matching every word of q (the last as a prefix), case- and accent-insensitively, newest first, in your rooms and DMs or in the one room roomId',
    audience: 'user',
    query: s.SearchQuerySchema,
    status: 200,
    response: s.SearchResultsSchema,
    errors: ['NOT_FOUND', 'RATE_LIMITED'],
  }),
  sendMessage: def({
    method: 'post',
    path: '/api/chatrooms/:id/messages',
    tag: 'messages',
    summary: 'Post a message (idempotent by clientId) and broadcast it',
    audience: 'user',
    body: s.SendMessageBodySchema,
    status: 201,
    location: '/api/messages/{id}',
    response: s.MessageSchema,
    errors: ['NOT_FOUND', 'FORBIDDEN', 'CONFLICT', 'RATE_LIMITED'],
  }),
  editMessage: def({
    method: 'patch',
    path: '/api/messages/:id',
    tag: 'messages',
    summary: 'Edit your message',
    audience: 'user',
    body: s.EditMessageBodySchema,
    status: 200,
    response: s.MessageSchema,
    errors: ['NOT_FOUND', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  deleteMessage: def({
    method: 'delete',
    path: '/api/messages/:id',
    tag: 'messages',
    summary: 'Delete a message (author or room owner)',
    audience: 'user',
    status: 204,
    errors: ['NOT_FOUND', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  addReaction: def({
    method: 'post',
    path: '/api/messages/:id/reactions',
    tag: 'messages',
    summary: 'React to a message with one emoji (idempotent; at most 20 distinct per message); broadcasts message:updated',
    audience: 'user',
    body: s.ReactionBodySchema,
    status: 200,
    response: s.MessageSchema,
    errors: ['NOT_FOUND', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  removeReaction: def({
    method: 'delete',
    path: '/api/messages/:id/reactions/:emoji',
    tag: 'messages',
    summary: 'Take back your reaction (the emoji URL-encoded; idempotent); broadcasts message:updated',
    audience: 'user',
    status: 200,
    response: s.MessageSchema,
    errors: ['NOT_FOUND', 'FORBIDDEN', 'RATE_LIMITED'],
  }),
  listDms: def({
    method: 'get',
    path: '/api/dms',
    tag: 'dms',
    summary:
      "The caller's direct rooms, most recently active first. Paged: `limit` (default 100, max 200), `after` = the previous page’s `next`",
    audience: 'user',
    query: s.ListPageQuerySchema,
    status: 200,
    response: s.RoomPageSchema,
    errors: [],
  }),
  openDm: def({
    method: 'post',
    path: '/api/dms',
    tag: 'dms',
    summary: 'Open (or find) the direct room with a user',
    audience: 'user',
    body: s.CreateDmBodySchema,
    status: 200,
    response: s.RoomSchema,
    errors: ['NOT_FOUND', 'RATE_LIMITED'],
  }),
  upload: def({
    method: 'post',
    path: '/api/uploads',
    tag: 'uploads',
    summary:
      'Upload an image (multipart/form-data, field `file`); JPEG, PNG, GIF or WebP, decided by its bytes',
    audience: 'user',
    multipart: { field: 'file' },
    status: 201,
    location: '{url}',
    response: s.AttachmentSchema,
    errors: ['PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'RATE_LIMITED', 'STORAGE_FULL', 'UNAVAILABLE'],
  }),
  health: def({
    method: 'get',
    path: '/api/health',
    tag: 'meta',
    summary: 'Liveness and dependency checks',
    audience: 'anyone',
    status: 200,
    response: s.HealthSchema,
    errors: ['UNAVAILABLE'],
  }),
} satisfies Record<string, RouteDef>;

export type RouteId = keyof typeof routes;

/**
 * Routes that answer bytes rather than JSON (attachment images), outside the JSON route table: they are mounted by
 * hand, documented in the OpenAPI document, and known to the 405 answer (a wrong method on them answers 405).
 */
export interface FileRouteDef {
  method: 'get';
  path: string;
  tag: string;
  summary: string;
  /** The media types the bytes may have. */
  mime: string[];
}

export const fileRoutes = {
  getUpload: {
    method: 'get',
    path: '/api/uploads/:id',
    tag: 'uploads',
    summary:
      'An uploaded image, by the signed URL of its Attachment (`url`: `?exp=&sig=`), or by id with a bearer token of a user who may see it',
    mime: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'],
  },
  getUploadThumbnail: {
    method: 'get',
    path: '/api/uploads/:id/thumbnail',
    tag: 'uploads',
    summary: 'The WebP thumbnail of an uploaded image (`thumbnailUrl` of its Attachment), as above',
    mime: ['image/webp'],
  },
} satisfies Record<string, FileRouteDef>;
