import type { Message, User } from '@parley/protocol';
import { describe, expect, it } from 'vitest';
import { lastOwnEditable } from '../composer/ReplyBar';
import { firstLine, quotesOfDeleted, refreshQuotes } from './quotes';

const ana: User = { id: '1', username: 'ana', displayName: 'Ana' } as User;
const bo: User = { id: '2', username: 'bo', displayName: 'Bo' } as User;

function msg(id: string, text: string, extra: Partial<Message> = {}): Message {
  return {
    id,
    roomId: '9',
    author: ana,
    text,
    kind: 'text',
    deleted: false,
    createdAt: '2026-12-03T12:00:00.000Z',
    reactions: [],
    replyTo: null,
    ...extra,
  } as Message;
}

describe('refreshQuotes', () => {
  const parent = msg('10', 'first version');
  const reply = msg('11', 'answer', {
    author: bo,
    replyTo: { id: '10', author: ana, text: 'first version', deleted: false },
  });
  const other = msg('12', 'unrelated');

  it('brings the quotes of replies to an edited parent up to date, and only theirs', () => {
    const edited = { ...parent, text: 'second version' };
    const out = refreshQuotes([parent, reply, other], edited);
    expect(out[1]!.replyTo).toEqual({ id: '10', author: ana, text: 'second version', deleted: false });
    expect(out[2]).toBe(other);
    expect(out[1]!.text).toBe('answer');
  });

  it('cuts the quote to the 200 characters the server would send', () => {
    const out = refreshQuotes([reply], { ...parent, text: 'x'.repeat(500) });
    expect(out[0]!.replyTo!.text).toHaveLength(200);
  });

  it('marks the quote deleted, held parent or not', () => {
    expect(refreshQuotes([reply], { ...parent, deleted: true, text: '' })[0]!.replyTo).toMatchObject({
      deleted: true,
      text: '',
    });
    expect(quotesOfDeleted([reply], '10')[0]!.replyTo).toMatchObject({
      deleted: true,
      text: '',
      author: ana,
    });
  });

  it('returns the same array when nothing quotes the message (no re-render)', () => {
    const list = [parent, other];
    expect(refreshQuotes(list, { ...parent, text: 'changed' })).toBe(list);
    expect(refreshQuotes([reply], parent)).toEqual([reply]);
    const same = [reply];
    expect(refreshQuotes(same, parent)).toBe(same);
  });
});

describe('lastOwnEditable', () => {
  it('finds your last text message that is not deleted', () => {
    const list = [
      msg('1', 'mine, older'),
      msg('2', 'mine, deleted', { deleted: true, text: '' }),
      msg('3', 'theirs', { author: bo }),
      msg('4', '', { kind: 'image' } as Partial<Message>),
    ];
    expect(lastOwnEditable(list, '1')?.id).toBe('1');
    expect(lastOwnEditable(list, '2')?.id).toBe('3');
    expect(lastOwnEditable(list, null)).toBeUndefined();
    expect(lastOwnEditable([], '1')).toBeUndefined();
  });
});

describe('firstLine', () => {
  it('skips blank lines', () => {
    expect(firstLine('\n  \n hello \nworld')).toBe('hello');
    expect(firstLine('')).toBe('');
  });
});
