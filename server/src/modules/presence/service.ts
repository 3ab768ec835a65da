import type { User as UserDto } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import type { AppContext } from '../../context.js';
import { invalidField } from '../../errors.js';
import { presentUser } from '../users/presenter.js';
import { orderKey, userIdOfKey } from './store.js';

/** A page of users in (usernameKey, id) order; `next` is the cursor of its last user when there is more. */
export interface UserPage {
  users: UserDto[];
  hasMore: boolean;
  next: string | null;
}

const ORDER_KEY = /^[^ ]{1,64} \d{20}$/;

/** The opaque cursor of a position in a user list: its order key, base64url. */
export const encodeUserCursor = (nameKey: string, userId: string): string =>
  Buffer.from(orderKey(nameKey, userId)).toString('base64url');

/** The order key inside a cursor; VALIDATION_ERROR for anything a page did not hand out. */
export function decodeUserCursor(cursor: string | undefined, field = 'after'): string | undefined {
  if (cursor === undefined) return undefined;
  const key = Buffer.from(cursor, 'base64url').toString();
  if (!ORDER_KEY.test(key)) throw invalidField(field, 'must be a cursor from a previous page');
  return key;
}

/** The online members of a room, the first `LIMITS.roomJoinOnlineMax` by username (room:join). */
export async function onlineMembers(ctx: AppContext, roomId: number): Promise<UserDto[]> {
  const memberships = await ctx.models.Membership.findAll({ where: { roomId }, attributes: ['userId'] });
  const online = await ctx.presence.filterOnline(memberships.map((m) => String(m.userId)));
  if (!online.size) return [];
  const users = await ctx.models.User.findAll({
    where: { id: [...online].map(Number) },
    order: [
      ['usernameKey', 'ASC'],
      ['id', 'ASC'],
    ],
    limit: LIMITS.roomJoinOnlineMax,
  });
  return users.map(presentUser);
}

/**
 * A page of the users online now (presence:list, GET /api/users?online=true): the store's ordered list from the
 * cursor on, then those users by primary key. O(log N + limit), whatever the number of users online.
 */
export async function onlinePage(ctx: AppContext, limit: number, after?: string): Promise<UserPage> {
  const keys = await ctx.presence.onlinePage(limit + 1, decodeUserCursor(after));
  const hasMore = keys.length > limit;
  const ids = keys.slice(0, limit).map(userIdOfKey);
  const rows = ids.length ? await ctx.models.User.findAll({ where: { id: ids.map(Number) } }) : [];
  const byId = new Map(rows.map((u) => [String(u.id), u]));
  // Listed in the store's order; a user deleted meanwhile is left out.
  const users = ids.flatMap((id) => {
    const u = byId.get(id);
    return u ? [u] : [];
  });
  return {
    users: users.map(presentUser),
    hasMore,
    next: hasMore ? Buffer.from(keys[limit - 1]!).toString('base64url') : null,
  };
}
