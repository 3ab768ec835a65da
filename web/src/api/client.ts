import type {
  AddMemberBodySchema,
  CreateRoomBodySchema,
  LoginBodySchema,
  Me,
  Member,
  MessagePage,
  RegisterBodySchema,
  Room,
  Session,
  UpdateRoomBodySchema,
  User,
} from '@parley/protocol';
import type { z } from 'zod';
import { request } from './http';

/*
 * The REST routes the web client uses, typed from the protocol package (bodies are the input types of the
 * same zod schemas the server validates with).
 */

export type RegisterBody = z.input<typeof RegisterBodySchema>;
export type LoginBody = z.input<typeof LoginBodySchema>;
export type CreateRoomBody = z.input<typeof CreateRoomBodySchema>;
export type UpdateRoomBody = z.input<typeof UpdateRoomBodySchema>;
export type AddMemberBody = z.input<typeof AddMemberBodySchema>;

const id = encodeURIComponent;

export const api = {
  register: (body: RegisterBody) => request<Session>('POST', '/api/auth/register', { body, auth: false }),
  login: (body: LoginBody) => request<Session>('POST', '/api/auth/login', { body, auth: false }),
  guest: (username: string) =>
    request<Session>('POST', '/api/auth/guest', { body: { username }, auth: false }),

  me: () => request<Me>('GET', '/api/users/me'),
  searchUsers: (q: string, signal?: AbortSignal) =>
    request<{ users: User[] }>('GET', '/api/users', { query: { q, limit: 10 }, signal }),

  listRooms: () => request<{ rooms: Room[] }>('GET', '/api/chatrooms'),
  listDms: () => request<{ rooms: Room[] }>('GET', '/api/dms'),
  openDm: (userId: string) => request<Room>('POST', '/api/dms', { body: { userId } }),
  getRoom: (roomId: string) => request<Room>('GET', `/api/chatrooms/${id(roomId)}`),
  createRoom: (body: CreateRoomBody) => request<Room>('POST', '/api/chatrooms', { body }),
  updateRoom: (roomId: string, body: UpdateRoomBody) =>
    request<Room>('PATCH', `/api/chatrooms/${id(roomId)}`, { body }),
  deleteRoom: (roomId: string) => request<void>('DELETE', `/api/chatrooms/${id(roomId)}`),
  listMembers: (roomId: string) =>
    request<{ members: Member[] }>('GET', `/api/chatrooms/${id(roomId)}/members`),
  addMember: (roomId: string, body: AddMemberBody) =>
    request<Room>('POST', `/api/chatrooms/${id(roomId)}/members`, { body }),
  removeMember: (roomId: string, userId: string) =>
    request<void>('DELETE', `/api/chatrooms/${id(roomId)}/members/${id(userId)}`),
  listBans: (roomId: string) => request<{ users: User[] }>('GET', `/api/chatrooms/${id(roomId)}/bans`),
  unban: (roomId: string, userId: string) =>
    request<void>('DELETE', `/api/chatrooms/${id(roomId)}/bans/${id(userId)}`),
  history: (roomId: string, q: { before?: string; after?: string; limit?: number }) =>
    request<MessagePage>('GET', `/api/chatrooms/${id(roomId)}/messages`, { query: q }),
};
