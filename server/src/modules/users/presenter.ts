import type { Me, User as UserDto } from '@parley/protocol';
import type { User } from '../../db/models.js';
import { iso, sid } from '../../http/present.js';
import { attachmentUrl } from '../uploads/presenter.js';

/** The columns presentUser reads (a model instance or a raw row both fit). */
export type UserFields = Pick<
  User,
  'id' | 'username' | 'displayName' | 'avatarAttachmentId' | 'isGuest' | 'createdAt' | 'releasedAt'
>;

/** Appended to a released guest's display name (docs/DECISIONS.md, "Look-alike names"). */
export const FORMER_GUEST = ' (former guest)';

/**
 * Allowlist of what anyone may see of a user. A released guest's name may now belong to someone else (a new guest
 * or a registered user), so its messages must not read as theirs: like a deactivated user in Slack or Mattermost, it
 * keeps its username and is shown as `<display name> (former guest)`, in every client, and loses its avatar.
 */
export function presentUser(u: UserFields): UserDto {
  const released = u.releasedAt !== null && u.releasedAt !== undefined;
  return {
    id: sid(u.id),
    username: u.username,
    displayName: released ? `${u.displayName}${FORMER_GUEST}` : u.displayName,
    avatarUrl: u.avatarAttachmentId && !released ? attachmentUrl(u.avatarAttachmentId) : null,
    isGuest: u.isGuest,
    createdAt: iso(u.createdAt),
  };
}

/** What the user sees of themself. */
export function presentMe(u: User): Me {
  return { ...presentUser(u), email: u.email };
}
