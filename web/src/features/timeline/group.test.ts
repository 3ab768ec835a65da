import type { Message, User } from '@parley/protocol';
import { describe, expect, it } from 'vitest';
import { buildItems } from './group';

const guest = (id: string): User => ({
  id,
  username: 'sam',
  displayName: 'sam',
  isGuest: true,
  avatarUrl: null,
  createdAt: '2026-12-01T10:00:00.000Z',
});

const message = (id: string, author: User, createdAt: string): Message => ({
  id,
  roomId: '1',
  kind: 'text',
  author,
  text: `hello from ${author.id}`,
  attachment: null,
  mentions: [],
  event: null,
  clientId: null,
  createdAt,
  editedAt: null,
  deleted: false,
  reactions: [],
  replyTo: null,
});

describe('buildItems', () => {
  it('groups by author id: two guests who held the same name each get their own header', () => {
    const first = guest('10');
    const second = guest('11');
    const items = buildItems(
      [
        message('1', first, '2026-12-01T10:00:00.000Z'),
        message('2', first, '2026-12-01T10:01:00.000Z'),
        message('3', second, '2026-12-01T10:02:00.000Z'),
      ],
      [],
      null,
      null,
    ).filter((i) => i.type === 'message');
    expect(items.map((i) => i.continued)).toEqual([false, true, false]);
  });
});
