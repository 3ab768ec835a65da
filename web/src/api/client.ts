import type {
  AddMemberBodySchema,
  CreateRoomBodySchema,
  LoginBodySchema,
  Me,
  MemberPage,
  MessagePage,
  NotificationLevel,
  RegisterBodySchema,
  Room,
  RoomPage,
  SearchResults,
  Session,
  UpdateMeBodySchema,
  UpdateRoomBodySchema,
  User,
} from '@parley/protocol';
import type { z } from 'zod';
import { LIMITS } from '../lib/limits';
import { request } from './http';

/*
 * The REST routes the web client uses, typed from the protocol package (bodies are the input types of the
 * same zod schemas the server validates with).
 */

export type RegisterBody = z.input<typeof RegisterBodySchema>;
export type LoginBody = z.input<typeof LoginBodySchema>;
export type CreateRoomBody = z.input<typeof CreateRoomBodySchema>;
export type UpdateRoomBody = z.input<typeof UpdateRoomBodySchema>;
export type UpdateMeBody = z.input<typeof UpdateMeBodySchema>;
export type AddMemberBody = z.input<typeof AddMemberBodySchema>;

const id = encodeURIComponent;

/** Room lists are read whole (the sidebar shows them all), so in pages of the largest size. */
const LIST_PAGE_MAX = LIMITS.listPageMax;
/** Members come a page at a time as the panel scrolls: the first page of a 5,000-member room stays quick. */
const MEMBER_PAGE = 100;

/** Every item of a paged list, page after page (`next` → `after`). */
export async function allPages<P extends { hasMore: boolean; next: string | null }, T>(
  page: (after?: string) => Promise<P>,
  items: (p: P) => T[],
): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  do {
    const p = await page(after);
    out.push(...items(p));
    after = p.hasMore && p.next ? p.next : undefined;
  } while (after);
  return out;
}

export const api = {
  register: (body: RegisterBody) => request<Session>('POST', '/api/auth/register', { body, auth: false }),
  login: (body: LoginBody) => request<Session>('POST', '/api/auth/login', { body, auth: false }),
  guest: (username: string) =>
    request<Session>('POST', '/api/auth/guest', { body: { username }, auth: false }),

  me: () => request<Me>('GET', '/api/users/me'),
  updateMe: (body: UpdateMeBody) => request<Me>('PATCH', '/api/users/me', { body }),
  changePassword: (currentPassword: string, newPassword: string) =>
    request<void>('POST', '/api/users/me/password', { body: { currentPassword, newPassword } }),
  /** One page of the people directory: by name prefix, or (`online`) who is connected now. */
  usersPage: (q: { q?: string; online?: boolean; after?: string; limit?: number }, signal?: AbortSignal) =>
    request<{ users: User[]; hasMore: boolean; next: string | null }>('GET', '/api/users', {
      query: { ...q, online: q.online ? 'true' : undefined },
      signal,
    }),
  searchUsers: (q: string, signal?: AbortSignal) =>
    request<{ users: User[] }>('GET', '/api/users', { query: { q, limit: 10 }, signal }),

  /** Lists are paged (contract v2): `after` is the previous page's `next`. */
  listRooms: (after?: string) =>
    request<RoomPage>('GET', '/api/chatrooms', { query: { limit: LIST_PAGE_MAX, after } }),
  listDms: (after?: string) =>
    request<RoomPage>('GET', '/api/dms', { query: { limit: LIST_PAGE_MAX, after } }),
  openDm: (userId: string) => request<Room>('POST', '/api/dms', { body: { userId } }),
  getRoom: (roomId: string) => request<Room>('GET', `/api/chatrooms/${id(roomId)}`),
  createRoom: (body: CreateRoomBody) => request<Room>('POST', '/api/chatrooms', { body }),
  updateRoom: (roomId: string, body: UpdateRoomBody) =>
    request<Room>('PATCH', `/api/chatrooms/${id(roomId)}`, { body }),
  deleteRoom: (roomId: string) => request<void>('DELETE', `/api/chatrooms/${id(roomId)}`),
  listMembers: (roomId: string, after?: string) =>
    request<MemberPage>('GET', `/api/chatrooms/${id(roomId)}/members`, {
      query: { limit: MEMBER_PAGE, after },
    }),
  addMember: (roomId: string, body: AddMemberBody) =>
    request<Room>('POST', `/api/chatrooms/${id(roomId)}/members`, { body }),
  removeMember: (roomId: string, userId: string) =>
    request<void>('DELETE', `/api/chatrooms/${id(roomId)}/members/${id(userId)}`),
  setNotifications: (roomId: string, level: NotificationLevel) =>
    request<Room>('PUT', `/api/chatrooms/${id(roomId)}/notifications`, { body: { level } }),
  listBans: (roomId: string) => request<{ users: User[] }>('GET', `/api/chatrooms/${id(roomId)}/bans`),
  unban: (roomId: string, userId: string) =>
    request<void>('DELETE', `/api/chatrooms/${id(roomId)}/bans/${id(userId)}`),
  history: (roomId: string, q: { before?: string; after?: string; around?: string; limit?: number }) =>
    request<MessagePage>('GET', `/api/chatrooms/${id(roomId)}/messages`, { query: q }),
  searchMessages: (
    q: { q: string; roomId?: string; before?: string; limit?: number },
    signal?: AbortSignal,
  ) => request<SearchResults>('GET', '/api/search', { query: q, signal }),
};
