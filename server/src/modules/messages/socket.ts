import type { AppContext } from '../../context.js';
import { withAck, type EventEntry } from '../../realtime/with-ack.js';
import { react } from './reactions.js';
import * as messages from './service.js';

/**
 * message:send/edit/delete, reaction:add/remove, messages:fetch and room:read: thin adapters over the services REST uses too. A
 * socket's message writes are handled in the order they arrived, so one client's messages are stored in the order
 * it sent them even when it does not wait for each ack (a send lets the next one start once it is queued for its
 * group commit, which keeps that order). Built once per app; the socket comes with each call.
 */
export function messageEvents(ctx: AppContext): EventEntry[] {
  const serial = { serial: true };
  return [
    withAck(
      'message:send',
      async (p, { user, queued }) => {
        // Once queued for a commit its place in the room's order is fixed: the socket's next send may start.
        const { message } = await messages.send(
          ctx,
          user,
          Number(p.roomId),
          { text: p.text, attachmentId: p.attachmentId, clientId: p.clientId, replyToId: p.replyToId },
          queued,
        );
        return { message };
      },
      serial,
    ),
    withAck(
      'message:edit',
      async (p, { user }) => {
        await ctx.limits.take('messageEdit', user.id);
        return { message: await messages.edit(ctx, user, Number(p.messageId), p.text) };
      },
      serial,
    ),
    withAck(
      'message:delete',
      async (p, { user }) => {
        await ctx.limits.take('messageEdit', user.id);
        await messages.remove(ctx, user, Number(p.messageId));
        return {};
      },
      serial,
    ),
    withAck(
      'reaction:add',
      async (p, { user }) => {
        await ctx.limits.take('messageEdit', user.id);
        return { message: await react(ctx, user, Number(p.messageId), p.emoji, true) };
      },
      serial,
    ),
    withAck(
      'reaction:remove',
      async (p, { user }) => {
        await ctx.limits.take('messageEdit', user.id);
        return { message: await react(ctx, user, Number(p.messageId), p.emoji, false) };
      },
      serial,
    ),
    withAck('messages:fetch', async (p, { user }) =>
      messages.history(ctx, user, Number(p.roomId), {
        before: p.before,
        after: p.after,
        around: p.around,
        limit: p.limit,
      }),
    ),
    withAck('room:read', async (p, { user }) => {
      await ctx.limits.take('readMarker', user.id);
      return { unreadCount: await messages.markRead(ctx, user, Number(p.roomId), Number(p.messageId)) };
    }),
  ];
}
