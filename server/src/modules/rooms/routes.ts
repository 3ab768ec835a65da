import { routes } from '@parley/protocol';
import type { Router } from 'express';
import type { AppContext } from '../../context.js';
import { mount, pathId } from '../../http/route.js';
import * as bans from './bans.js';
import * as dms from './dms.js';
import * as lists from './lists.js';
import { setNotifications } from './notifications.js';
import * as rooms from './service.js';

export function roomRoutes(router: Router, ctx: AppContext): void {
  mount(router, ctx, routes.listRooms, async ({ actor, query }) => lists.listRooms(ctx, actor.user, query));
  // Each write class has its own per-user limit (config WRITE_LIMITS), taken before the work.
  mount(router, ctx, routes.createRoom, async ({ actor, body }) => {
    await ctx.limits.take('roomCreate', actor.user.id);
    return rooms.createRoom(ctx, actor.user, body);
  });
  mount(router, ctx, routes.getRoom, async ({ actor, params }) =>
    rooms.getRoom(ctx, actor.user, pathId(params.id)),
  );
  mount(router, ctx, routes.updateRoom, async ({ actor, params, body }) => {
    await ctx.limits.take('roomUpdate', actor.user.id);
    return rooms.updateRoom(ctx, actor.user, pathId(params.id), body);
  });
  mount(router, ctx, routes.deleteRoom, async ({ actor, params }) => {
    await ctx.limits.take('roomUpdate', actor.user.id);
    return rooms.deleteRoom(ctx, actor.user, pathId(params.id));
  });
  mount(router, ctx, routes.listMembers, async ({ actor, params, query }) =>
    lists.listMembers(ctx, actor.user, pathId(params.id), query),
  );
  mount(router, ctx, routes.addMember, async ({ actor, params, body }) => {
    await ctx.limits.take('membership', actor.user.id);
    return rooms.addMember(
      ctx,
      actor.user,
      pathId(params.id),
      body.userId === undefined ? undefined : Number(body.userId),
    );
  });
  mount(router, ctx, routes.removeMember, async ({ actor, params }) => {
    await ctx.limits.take('membership', actor.user.id);
    return rooms.removeMember(ctx, actor.user, pathId(params.id), pathId(params.userId));
  });
  // A setting of one's membership: in the membership class, so it cannot be flipped faster than one joins.
  mount(router, ctx, routes.setNotifications, async ({ actor, params, body }) => {
    await ctx.limits.take('membership', actor.user.id);
    return setNotifications(ctx, actor.user, pathId(params.id), body.level);
  });
  mount(router, ctx, routes.listBans, async ({ actor, params }) => ({
    users: await bans.listBans(ctx, actor.user, pathId(params.id)),
  }));
  // Lifting a ban lets the user back in: a membership change of the owner's, in the same limit as a kick.
  mount(router, ctx, routes.unbanUser, async ({ actor, params }) => {
    await ctx.limits.take('membership', actor.user.id);
    return bans.unban(ctx, actor.user, pathId(params.id), pathId(params.userId));
  });
  mount(router, ctx, routes.listDms, async ({ actor, query }) => lists.listDms(ctx, actor.user, query));
  mount(router, ctx, routes.openDm, async ({ actor, body }) => {
    await ctx.limits.take('dmOpen', actor.user.id);
    return dms.openDm(ctx, actor.user, Number(body.userId));
  });
}
