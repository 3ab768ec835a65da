import { routes } from '@parley/protocol';
import type { Router } from 'express';
import type { AppContext } from '../../context.js';
import { mount, pathId } from '../../http/route.js';
import { changePassword } from '../auth/service.js';
import { presentMe } from './presenter.js';
import * as users from './service.js';

export function userRoutes(router: Router, ctx: AppContext): void {
  mount(router, ctx, routes.getMe, async ({ actor }) => presentMe(actor.user));
  mount(router, ctx, routes.updateMe, async ({ actor, body }) => {
    await ctx.limits.take('profile', actor.user.id);
    return users.updateMe(ctx, actor.user, body);
  });
  mount(router, ctx, routes.changePassword, async ({ actor, body }) =>
    changePassword(ctx, actor.user, actor.sessionId, body),
  );
  mount(router, ctx, routes.searchUsers, async ({ query }) => users.searchUsers(ctx, query));
  mount(router, ctx, routes.getUser, async ({ params }) => users.getUser(ctx, pathId(params.id)));
}
