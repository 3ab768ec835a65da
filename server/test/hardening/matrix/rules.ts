import type { ErrorCode } from '@parley/protocol';

/*
 * The authorization matrix's vocabulary: who calls (user kinds), on what (room kinds), and what the contract
 * answers. Each rule below is one sentence of /work/shared/CONTRACT.md (or of a route's audience in
 * packages/protocol/src/rest.ts) turned into a function of the two kinds.
 */

/** Who calls, relative to the room of the cell. The guest is a guest who is not a member of that room. */
export const USER_KINDS = ['owner', 'member', 'outsider', 'guest', 'loggedOut'] as const;
export type UserKind = (typeof USER_KINDS)[number];

/**
 * The room of the cell. In a direct room the "owner" is the participant who opened it and the "member" the other
 * one (a DM has no owner: `ownerId` is null).
 */
export const ROOM_KINDS = ['public', 'private', 'direct'] as const;
export type RoomKind = (typeof ROOM_KINDS)[number];

/** What a cell must answer: success (the route's status / `{ok: true}`), or the error with this code. */
export type Outcome = 'ok' | Extract<ErrorCode, 'UNAUTHORIZED' | 'FORBIDDEN' | 'NOT_FOUND'>;

/** The expected outcome of one (user kind, room kind) cell. */
export type Rule = (user: UserKind, room: RoomKind) => Outcome;

/** Owner and member belong to the room; outsider and guest do not. */
export const belongs = (u: UserKind) => u === 'owner' || u === 'member';

/** Audience `anyone`: the answer does not depend on who calls (a bearer token is ignored). */
export const anyone: Rule = () => 'ok';

/** Audience `user`: any signed-in user, guests too. */
export const signedIn: Rule = (u) => (u === 'loggedOut' ? 'UNAUTHORIZED' : 'ok');

/** Audience `registered`: guests are refused with 403. */
export const registeredOnly: Rule = (u) =>
  u === 'loggedOut' ? 'UNAUTHORIZED' : u === 'guest' ? 'FORBIDDEN' : 'ok';

/**
 * Wraps a rule for a room-scoped route: logged-out callers get 401 first, and "a private room, DM or message that
 * the caller may not see answers 404, not 403, so existence does not leak".
 */
const roomScoped =
  (inner: Rule): Rule =>
  (u, r) => {
    if (u === 'loggedOut') return 'UNAUTHORIZED';
    if (r !== 'public' && !belongs(u)) return 'NOT_FOUND';
    return inner(u, r);
  };

/** "member, or anyone for public": reading a room, its members, its history. */
export const read: Rule = roomScoped(() => 'ok');

/** Posting, typing, read markers: members only; a visible public room refuses non-members with 403. */
export const write: Rule = roomScoped((u) => (belongs(u) ? 'ok' : 'FORBIDDEN'));

/** "owner; others 403": rename, delete, add others, kick. A DM is nobody's to manage. */
export const manage: Rule = roomScoped((u, r) => (r !== 'direct' && u === 'owner' ? 'ok' : 'FORBIDDEN'));

/** Joining oneself: anyone for public rooms, a no-op for members; a DM has exactly two members (403). */
export const selfJoin: Rule = roomScoped((u, r) => (r === 'direct' ? 'FORBIDDEN' : 'ok'));

/** Leaving: members of public and private rooms; a DM cannot be left (403); a non-member has nothing to leave. */
export const leave: Rule = roomScoped((u, r) =>
  !belongs(u) ? 'NOT_FOUND' : r === 'direct' ? 'FORBIDDEN' : 'ok',
);

/** Editing the member's message: its author only, the room owner included in the refusal (403). */
export const editMembersMessage: Rule = roomScoped((u) => (u === 'member' ? 'ok' : 'FORBIDDEN'));

/** Deleting the member's message: its author, or the owner of a (non-direct) room. */
export const deleteMembersMessage: Rule = roomScoped((u, r) =>
  u === 'member' || (u === 'owner' && r !== 'direct') ? 'ok' : 'FORBIDDEN',
);

/**
 * An attachment's bytes by bearer token (GET /api/uploads/:id, outside the route table, since `<img>` sends no
 * header the URL may carry a signature instead): whoever may read its room; with no token, as if missing.
 */
export const viewAttachment: Rule = (u, r) => (u === 'loggedOut' ? 'NOT_FOUND' : read(u, r));
