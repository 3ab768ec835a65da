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

/**
 * Joining by oneself, all told: a room one may self-join, unless its owner kicked (banned) one from it. Callers
 * answer 404 when `canSelfJoin` already says no (the room stays hidden) and 403 for a ban of a visible room.
 */
export const canJoin = (room: RoomLike, banned: boolean): boolean => canSelfJoin(room) && !banned;

/** `general` is where everyone lands; nobody leaves it, and DMs cannot be left either. */
export const canLeave = (room: RoomLike): boolean => room.kind !== 'direct' && room.nameKey !== 'general';

/**
 * Only the author edits, and never a system message or a deleted one; nor while banned from the room (a kicked
 * user could otherwise rewrite what the room already read).
 */
export const canEditMessage = (
  message: Pick<Message, 'authorId' | 'kind' | 'deletedAt'>,
  user: Pick<User, 'id'>,
  banned: boolean,
) => !banned && message.kind !== 'system' && message.deletedAt === null && message.authorId === user.id;

/**
 * The author or the room's owner deletes. A banned author no longer may: the ban is a moderation act, and what
 * they wrote is what the owner moderates (as a removed Slack or Mattermost member cannot act in the channel).
 */
export const canDeleteMessage = (
  message: Pick<Message, 'authorId' | 'kind'>,
  room: RoomLike,
  user: Pick<User, 'id'>,
  banned: boolean,
): boolean => (!banned && message.kind !== 'system' && message.authorId === user.id) || canManage(room, user);

/** Reacting to a message (contract v2 reactions): members of its room, never a banned user. */
export const canReact = (membership: MemberLike, banned: boolean): boolean => membership !== null && !banned;

/**
 * Which messages take reactions: a live text or image message. A system message (a join, a rename) is nobody's
 * to react to, and a deleted one has nothing left to react to (its reactions went with it).
 */
export const acceptsReactions = (message: Pick<Message, 'kind' | 'deletedAt'>): boolean =>
  message.kind !== 'system' && message.deletedAt === null;
