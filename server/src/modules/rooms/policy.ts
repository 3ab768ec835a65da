import type { Membership, Message, Room, User } from '../../db/models.js';

/*
 * Who may do what to a room, as small pure functions. Callers turn a "no" into 404 where existence must not
 * leak (a private room or DM the caller is not in) and into 403 where the room is visible anyway.
 */

type RoomLike = Pick<Room, 'kind' | 'ownerId' | 'name' | 'nameKey'>;
type MemberLike = Pick<Membership, 'role'> | null;

/** Public rooms are readable by every signed-in user; private rooms and DMs only by their members. */
export const canSee = (room: RoomLike, membership: MemberLike): boolean =>
  room.kind === 'public' || membership !== null;

/** Posting needs membership, even in a public room (join first, as in Slack). */
export const canPost = (_room: RoomLike, membership: MemberLike): boolean => membership !== null;

/** Rename, describe, change kind, delete, add others, kick: the owner of a non-direct room. */
export const canManage = (room: RoomLike, user: Pick<User, 'id'>): boolean =>
  room.kind !== 'direct' && room.ownerId !== null && room.ownerId === user.id;

/** Joining by oneself: public rooms only (a private room is joined by being added). */
export const canSelfJoin = (room: RoomLike): boolean => room.kind === 'public';

/** `general` is where everyone lands; nobody leaves it, and DMs cannot be left either. */
export const canLeave = (room: RoomLike): boolean => room.kind !== 'direct' && room.nameKey !== 'general';

/** Only the author edits, and never a system message or a deleted one. */
export const canEditMessage = (
  message: Pick<Message, 'authorId' | 'kind' | 'deletedAt'>,
  user: Pick<User, 'id'>,
) => message.kind !== 'system' && message.deletedAt === null && message.authorId === user.id;

/** The author or the room's owner deletes. */
export const canDeleteMessage = (
  message: Pick<Message, 'authorId' | 'kind'>,
  room: RoomLike,
  user: Pick<User, 'id'>,
): boolean => (message.kind !== 'system' && message.authorId === user.id) || canManage(room, user);
