import { EmojiSchema, routes } from '@parley/protocol';
import type { Router } from 'express';
import type { AppContext } from '../../context.js';
import { fromZod } from '../../errors.js';
import { mount, pathId } from '../../http/route.js';
import { react } from './reactions.js';
import * as messages from './service.js';

/** The `:emoji` of a path (Express has URL-decoded it), validated and normalised as a body's would be. */
function pathEmoji(value: string | undefined): string {
  const r = EmojiSchema.safeParse(value ?? '');
  if (!r.success) throw fromZod(r.error, 'emoji');
  return r.data;
}

export function messageRoutes(router: Router, ctx: AppContext): void {
  mount(router, ctx, routes.listMessages, async ({ actor, params, query }) =>
    messages.history(ctx, actor.user, pathId(params.id), query),
  );
  mount(router, ctx, routes.sendMessage, async ({ actor, params, body, res }) => {
    const { message, replayed } = await messages.send(ctx, actor.user, pathId(params.id), body);
    // A retried send answers as the first one did; the header tells the two apart.
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    return message;
  });
  // Edits and deletes are broadcast like sends, so they get a budget of their own the size of the message limit.
  mount(router, ctx, routes.editMessage, async ({ actor, params, body }) => {
    await ctx.limits.take('messageEdit', actor.user.id);
    return messages.edit(ctx, actor.user, pathId(params.id), body.text);
  });
  mount(router, ctx, routes.deleteMessage, async ({ actor, params }) => {
    await ctx.limits.take('messageEdit', actor.user.id);
    return messages.remove(ctx, actor.user, pathId(params.id));
  });
  // Reactions are broadcast like edits, and share their budget.
  mount(router, ctx, routes.addReaction, async ({ actor, params, body }) => {
    await ctx.limits.take('messageEdit', actor.user.id);
    return react(ctx, actor.user, pathId(params.id), body.emoji, true);
  });
  mount(router, ctx, routes.removeReaction, async ({ actor, params }) => {
    const emoji = pathEmoji(params.emoji);
    await ctx.limits.take('messageEdit', actor.user.id);
    return react(ctx, actor.user, pathId(params.id), emoji, false);
  });
}
