import { describe, expect, it } from 'vitest';
import {
  canDeleteMessage,
  canEditMessage,
  canJoin,
  canLeave,
  canManage,
  canPost,
  acceptsReactions,
  canReact,
  canSee,
  canSelfJoin,
} from './policy.js';

/* The room policy as tables: each row is one situation and the answer the contract asks for. */

type Kind = 'public' | 'private' | 'direct';
const room = (kind: Kind, ownerId: number | null = 1, name = 'design') => ({
  kind,
  ownerId,
  name,
  nameKey: kind === 'direct' ? null : name.toLowerCase(),
});
const general = room('public', null, 'general');
const member = { role: 'member' as const };
const owner = { role: 'owner' as const };
const alice = { id: 1 };
const bob = { id: 2 };

describe('canSee', () => {
  it.each([
    ['public, outsider', room('public'), null, true],
    ['public, member', room('public'), member, true],
    ['private, outsider', room('private'), null, false],
    ['private, member', room('private'), member, true],
    ['private, owner', room('private'), owner, true],
    ['direct, outsider', room('direct', null), null, false],
    ['direct, participant', room('direct', null), member, true],
    ['general, outsider', general, null, true],
  ])('%s → %s', (_label, r, m, expected) => {
    expect(canSee(r, m)).toBe(expected);
  });
});

describe('canPost', () => {
  it.each([
    ['public, not joined', room('public'), null, false],
    ['public, member', room('public'), member, true],
    ['private, outsider', room('private'), null, false],
    ['private, member', room('private'), member, true],
    ['direct, participant', room('direct', null), member, true],
    ['direct, outsider', room('direct', null), null, false],
  ])('%s → %s', (_label, r, m, expected) => {
    expect(canPost(r, m)).toBe(expected);
  });
});

describe('canManage', () => {
  it.each([
    ['owner of a public room', room('public', 1), alice, true],
    ['owner of a private room', room('private', 1), alice, true],
    ['someone else', room('public', 1), bob, false],
    ['anyone in an ownerless room (general)', general, alice, false],
    ['a participant of a direct room', room('direct', null), alice, false],
    ['a direct room that somehow has an owner', room('direct', 1), alice, false],
  ])('%s → %s', (_label, r, u, expected) => {
    expect(canManage(r, u)).toBe(expected);
  });
});

describe('canSelfJoin', () => {
  it.each([
    ['public', room('public'), true],
    ['general', general, true],
    ['private', room('private'), false],
    ['direct', room('direct', null), false],
  ])('%s → %s', (_label, r, expected) => {
    expect(canSelfJoin(r)).toBe(expected);
  });
});

describe('canJoin', () => {
  it.each([
    ['public, not banned', room('public'), false, true],
    ['public, banned (kicked by its owner)', room('public'), true, false],
    ['general, not banned', general, false, true],
    ['private, not banned (joined by being added)', room('private'), false, false],
    ['private, banned', room('private'), true, false],
    ['direct', room('direct', null), false, false],
  ])('%s → %s', (_label, r, banned, expected) => {
    expect(canJoin(r, banned)).toBe(expected);
  });
});

describe('canLeave', () => {
  it.each([
    ['public', room('public'), true],
    ['private', room('private'), true],
    ['general', general, false],
    ['a public room named General', { ...general, name: 'General' }, false],
    ['direct', room('direct', null), false],
  ])('%s → %s', (_label, r, expected) => {
    expect(canLeave(r)).toBe(expected);
  });
});

const text = (authorId: number | null, deletedAt: Date | null = null) => ({
  authorId,
  kind: 'text' as const,
  deletedAt,
});
const system = (authorId: number | null) => ({ authorId, kind: 'system' as const, deletedAt: null });

describe('canEditMessage', () => {
  it.each([
    ['author, text', text(1), alice, false, true],
    ['author, image', { ...text(1), kind: 'image' as const }, alice, false, true],
    ['author, banned from the room', text(1), alice, true, false],
    ['someone else', text(1), bob, false, false],
    ['someone else, banned', text(1), bob, true, false],
    ['author, deleted', text(1, new Date()), alice, false, false],
    ['author of a system message', system(1), alice, false, false],
    ['a message without author', text(null), alice, false, false],
  ])('%s → %s', (_label, m, u, banned, expected) => {
    expect(canEditMessage(m, u, banned)).toBe(expected);
  });
});

describe('canDeleteMessage', () => {
  it.each([
    ['author', text(2), room('public', 1), bob, false, true],
    ['author, banned from the room', text(2), room('public', 1), bob, true, false],
    ['author, banned from a private room', text(2), room('private', 1), bob, true, false],
    ['room owner, someone else’s message', text(2), room('public', 1), alice, false, true],
    ['room owner, a banned user’s message', text(2), room('public', 1), alice, false, true],
    ['room owner of a private room', text(2), room('private', 1), alice, false, true],
    ['neither author nor owner', text(1), room('public', 3), bob, false, false],
    ['someone in general (no owner)', text(1), general, bob, false, false],
    ['author in general', text(2), general, bob, false, true],
    ['the subject of a system message', system(2), room('public', 1), bob, false, false],
    ['a participant of a direct room, peer’s message', text(1), room('direct', null), bob, false, false],
    ['a participant of a direct room, own message', text(2), room('direct', null), bob, false, true],
  ])('%s → %s', (_label, m, r, u, banned, expected) => {
    expect(canDeleteMessage(m, r, u, banned)).toBe(expected);
  });
});

describe('canReact', () => {
  it.each([
    ['member', member, false, true],
    ['owner', owner, false, true],
    ['not a member (public room, not joined)', null, false, false],
    ['banned (kicked, so no longer a member)', null, true, false],
    ['a member with a ban left over (cannot happen: adding lifts it)', member, true, false],
  ])('%s → %s', (_label, m, banned, expected) => {
    expect(canReact(m, banned)).toBe(expected);
  });
});

describe('acceptsReactions', () => {
  it.each([
    ['a text message', { kind: 'text' as const, deletedAt: null }, true],
    ['an image message', { kind: 'image' as const, deletedAt: null }, true],
    ['a system message', { kind: 'system' as const, deletedAt: null }, false],
    ['a deleted message', { kind: 'text' as const, deletedAt: new Date() }, false],
  ])('%s → %s', (_label, m, expected) => {
    expect(acceptsReactions(m)).toBe(expected);
  });
});
