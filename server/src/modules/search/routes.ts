import { routes } from '@parley/protocol';
import type { Router } from 'express';
import type { AppContext } from '../../context.js';
import { mount } from '../../http/route.js';
import { searchMessages } from './service.js';

export function searchRoutes(router: Router, ctx: AppContext): void {
  // A read, but each one walks an index: a budget of its own (LIMIT_SEARCH) keeps one user from hogging it.
  mount(router, ctx, routes.searchMessages, async ({ actor, query }) => {
    await ctx.limits.take('search', actor.user.id);
    return searchMessages(ctx, actor.user, query);
  });
}
