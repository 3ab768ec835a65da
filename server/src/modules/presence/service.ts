import type { User as UserDto } from '@parley/protocol';
import type { AppContext } from '../../context.js';
import { presentUser } from '../users/presenter.js';

/** The members of a room who are connected now. */
export async function onlineMembers(ctx: AppContext, roomId: number): Promise<UserDto[]> {
  const memberships = await ctx.models.Membership.findAll({ where: { roomId }, attributes: ['userId'] });
  const online = await ctx.presence.filterOnline(memberships.map((m) => String(m.userId)));
  if (!online.size) return [];
  const users = await ctx.models.User.findAll({
    where: { id: [...online].map(Number) },
    order: [['usernameKey', 'ASC']],
  });
  return users.map(presentUser);
}

/** Everyone connected now. */
export async function onlineUsers(ctx: AppContext): Promise<UserDto[]> {
  const ids = await ctx.presence.onlineUserIds();
  if (!ids.length) return [];
  const users = await ctx.models.User.findAll({
    where: { id: ids.map(Number) },
    order: [['usernameKey', 'ASC']],
  });
  return users.map(presentUser);
}
