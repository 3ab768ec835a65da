import type { Me, User as UserDto } from '@parley/protocol';
import type { User } from '../../db/models.js';
import { iso, sid } from '../../http/present.js';
import { attachmentUrl } from '../uploads/presenter.js';

/** The columns presentUser reads (a model instance or a raw row both fit). */
export type UserFields = Pick<
  User,
  'id' | 'username' | 'displayName' | 'avatarAttachmentId' | 'isGuest' | 'createdAt'
>;

/** Allowlist of what anyone may see of a user. */
export function presentUser(u: UserFields): UserDto {
  return {
    id: sid(u.id),
    username: u.username,
    displayName: u.displayName,
    avatarUrl: u.avatarAttachmentId ? attachmentUrl(u.avatarAttachmentId) : null,
    isGuest: u.isGuest,
    createdAt: iso(u.createdAt),
  };
}

/** What the user sees of themself. */
export function presentMe(u: User): Me {
  return { ...presentUser(u), email: u.email };
}
