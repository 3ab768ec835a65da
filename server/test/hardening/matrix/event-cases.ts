import type { ClientEventName } from '@parley/protocol';
import { newClientId } from '../../helpers/realtime.js';
import type { CellEnv } from './rest-cases.js';
import {
  deleteMembersMessage,
  editMembersMessage,
  leave,
  read,
  signedIn,
  write,
  type Rule,
} from './rules.js';

/*
 * One entry per client event of packages/protocol/src/events.ts: the payload a cell sends and the rule for its
 * ack. A logged-out caller never gets that far: its handshake is refused (UNAUTHORIZED), which the rules say.
 * `satisfies Record<ClientEventName, …>` makes a new event without an entry a type error.
 */

export interface EventCase {
  variant: string;
  rule: Rule;
  /** The cell changes its room or message: it gets fresh ones. */
  fresh?: boolean;
  payload: (env: CellEnv) => unknown;
}

export const eventCases = {
  // "joins a public room (or a room the user already belongs to)": exactly who may read it.
  'room:join': [
    { variant: 'the room', rule: read, fresh: true, payload: ({ room }) => ({ roomId: room.id }) },
  ],
  'room:leave': [
    { variant: 'the room', rule: leave, fresh: true, payload: ({ room }) => ({ roomId: room.id }) },
  ],
  'message:send': [
    {
      variant: 'text',
      rule: write,
      payload: ({ room }) => ({ roomId: room.id, text: 'matrix over the socket', clientId: newClientId() }),
    },
  ],
  'message:edit': [
    {
      variant: "the member's message",
      rule: editMembersMessage,
      payload: ({ message }) => ({ messageId: message.id, text: 'edited over the socket' }),
    },
  ],
  'message:delete': [
    {
      variant: "the member's message",
      rule: deleteMembersMessage,
      fresh: true,
      payload: ({ message }) => ({ messageId: message.id }),
    },
  ],
  'reaction:add': [
    {
      variant: "the member's message",
      rule: write,
      payload: ({ message }) => ({ messageId: message.id, emoji: '🎉' }),
    },
  ],
  'reaction:remove': [
    {
      variant: "the member's message",
      rule: write,
      payload: ({ message }) => ({ messageId: message.id, emoji: '🎉' }),
    },
  ],
  'messages:fetch': [{ variant: 'history', rule: read, payload: ({ room }) => ({ roomId: room.id }) }],
  typing: [{ variant: 'start', rule: write, payload: ({ room }) => ({ roomId: room.id, isTyping: true }) }],
  'room:read': [
    {
      variant: "the member's message",
      rule: write,
      payload: ({ room, message }) => ({ roomId: room.id, messageId: message.id }),
    },
  ],
  'presence:list': [{ variant: 'everyone', rule: signedIn, payload: () => ({}) }],
  // Presence is no secret among signed-in users (presence:list shows it): anyone may watch anyone.
  'presence:subscribe': [
    {
      variant: 'the owner',
      rule: signedIn,
      payload: ({ world }) => ({ userIds: [world.sessions.owner.user.id] }),
    },
  ],
} satisfies Record<ClientEventName, EventCase[]>;
