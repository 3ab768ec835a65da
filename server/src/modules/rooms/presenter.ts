import type { Room as RoomDto } from '@parley/protocol';
import type { Room, User } from '../../db/models.js';
import { iso, sid } from '../../http/present.js';
import { FORMER_GUEST, presentUser } from '../users/presenter.js';

/** The parts of a Room that depend on who is looking. */
export interface RoomView {
  isMember: boolean;
  unreadCount: number;
  /** Unread messages that mention the viewer; 0 when not given (broadcast copies). */
  mentionCount?: number;
  /** The viewer's notification level; `all` when not given (broadcast copies, non-members). */
  notifications?: 'all' | 'mentions' | 'none';
  /** Direct rooms: the other participant (the viewer themself in a note-to-self DM). */
  peer?: User;
}

/**
 * Allowlist of what clients see of a room. A direct room is named after the peer, as every chat app shows it.
 * Broadcast copies carry `unreadCount: 0`, `mentionCount: 0` and `notifications: "all"`: each client keeps its own
 * counters from `message:new`, and its own level (it is per member, and a broadcast goes to all of them).
 */
export function presentRoom(room: Room, view: RoomView): RoomDto {
  const dto: RoomDto = {
    id: sid(room.id),
    // A released guest's name may belong to someone else now: its DM says so (users/presenter.ts).
    name:
      room.kind === 'direct' && view.peer
        ? view.peer.username + (view.peer.releasedAt ? FORMER_GUEST : '')
        : room.name,
    description: room.description,
    kind: room.kind,
    ownerId: room.ownerId === null ? null : sid(room.ownerId),
    memberCount: room.memberCount,
    isMember: view.isMember,
    createdAt: iso(room.createdAt),
    updatedAt: iso(room.updatedAt),
    lastMessageAt: iso(room.lastMessageAt),
    unreadCount: view.unreadCount,
    mentionCount: view.mentionCount ?? 0,
    notifications: view.notifications ?? 'all',
  };
  if (room.kind === 'direct' && view.peer) dto.peer = presentUser(view.peer);
  return dto;
}
