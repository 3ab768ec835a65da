import type { Member, Message, User } from '@parley/protocol';
import { createElement, Fragment, type ReactNode } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import {
  createReactionNames,
  ReactionNamesProvider,
  useReactionNames,
  type ReactionNames,
} from './reactionNames';

const user = (id: string, displayName: string) => ({ id, displayName }) as User;
const member = (id: string, displayName: string) => ({ user: user(id, displayName) }) as Member;
const byAuthor = (id: string, displayName: string) => ({ author: user(id, displayName) }) as Message;

/** The stores that the probes rendered in `tree` were given, in render order. */
function storesIn(tree: (probe: () => ReactNode) => ReactNode[]): ReactionNames[] {
  const seen: ReactionNames[] = [];
  function Probe() {
    seen.push(useReactionNames());
    return null;
  }
  renderToStaticMarkup(createElement(Fragment, null, ...tree(() => createElement(Probe))));
  return seen;
}

/** What `Timeline` renders around its messages: one provider. */
const timeline = (...chips: ReactNode[]) =>
  createElement(ReactionNamesProvider, { children: createElement(Fragment, null, ...chips) });

describe('createReactionNames', () => {
  it('names members over whoever is online over the authors held', () => {
    const nameOf = createReactionNames().lookup({
      members: [member('1', 'Ana (member)')],
      messages: [byAuthor('1', 'Ana (author)'), byAuthor('2', 'Bo (author)'), byAuthor('3', 'Cy')],
      online: { '2': user('2', 'Bo (online)') },
    });
    expect(['1', '2', '3', '4'].map(nameOf)).toEqual(['Ana (member)', 'Bo (online)', 'Cy', undefined]);
  });

  it('gives the same lookup back while the sources are the same objects, a new one when one changes', () => {
    const names = createReactionNames();
    const members = [member('1', 'Ana')];
    const messages: Message[] = [];
    const online = {};
    const first = names.lookup({ members, messages, online });
    expect(names.lookup({ members, messages, online })).toBe(first);
    const renamed = names.lookup({ members: [member('1', 'Ana B')], messages, online });
    expect(renamed).not.toBe(first);
    expect(renamed('1')).toBe('Ana B');
  });
});

describe('ReactionNamesProvider', () => {
  it('shares one store among the chips of a timeline, and none between two timelines', () => {
    const [a1, a2, b1] = storesIn((probe) => [timeline(probe(), probe()), timeline(probe())]);
    expect(a1).toBe(a2);
    expect(b1).not.toBe(a1);

    // What one timeline builds neither replaces nor serves the other's lookup.
    const sources = { members: [member('1', 'Ana')], messages: [], online: {} };
    const inA = a1!.lookup(sources);
    const inB = b1!.lookup(sources);
    expect(inB).not.toBe(inA);
    b1!.lookup({ ...sources, members: [member('1', 'Ana B')] });
    expect(a1!.lookup(sources)).toBe(inA);
  });

  it('outside a provider, each chip gets a store of its own', () => {
    const [one, two] = storesIn((probe) => [probe(), probe()]);
    expect(one).toBeDefined();
    expect(two).not.toBe(one);
  });
});
