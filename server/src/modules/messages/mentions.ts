import { LIMITS } from '@parley/protocol';
import { QueryTypes, type Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';

/*
 * Mentions (contract v2): `@username` names a member of the message's room, case-insensitively; `@room` names
 * every member when the room's owner writes it (anyone else's `@room` is plain text, and so is `@room` in a DM,
 * which has no owner). Resolved by the server when a message is stored or edited, against the memberships the
 * write's transaction sees, for a whole group-commit batch in at most two queries.
 */

/** `@` not preceded by a name character or another `@`: `a@b.c` is an address, not a mention. */
const MENTION = /(?<![A-Za-z0-9_.@-])@([A-Za-z0-9_.-]+)/g;
/** Distinct names per message that are looked up; a text of thousands of `@x` costs no more than this. */
export const MAX_NAMES_PER_MESSAGE = 50;
/**
 * Names looked up per message, all told. A token may stand for several (`@bob.` is `bob.` or `bob`), and one of 64
 * characters ending in dots and hyphens for dozens: without this bound a 4,000-character message of such tokens
 * looked up 3,130 names (116 KB of SQL), and 20 at once 60,000 (SECURITY.md M1).
 */
export const MAX_LOOKUPS_PER_MESSAGE = 2 * MAX_NAMES_PER_MESSAGE;
/** A token longer than this is not read at all (trimming its punctuation would cost more than it could find). */
const MAX_NAME = 64;

/** What is parsed out of one text: the lower-cased names it may mean, and whether it says `@room`. */
export interface ParsedMentions {
  /** Per `@token`, the names it may stand for, longest first (`@bob.` may be `bob.` or `bob` then a full stop). */
  tokens: string[][];
  room: boolean;
}

/**
 * The `@names` of a text. A name's trailing dots and hyphens may be punctuation (`@bob.` at the end of a
 * sentence) or part of it (`@bob.`, a valid username): both are candidates, and the longest that is a member wins.
 * Only candidates a username can be (at most LIMITS.usernameMax characters) count, and reading stops before the
 * token that would take the message past MAX_LOOKUPS_PER_MESSAGE names.
 */
export function parseMentions(text: string): ParsedMentions {
  const tokens: string[][] = [];
  const seen = new Set<string>();
  let room = false;
  let budget = MAX_LOOKUPS_PER_MESSAGE;
  for (const match of text.matchAll(MENTION)) {
    const token = match[1]!.toLowerCase();
    if (token.length > MAX_NAME || seen.has(token)) continue;
    seen.add(token);
    const candidates = [token];
    for (let t = token; /[.-]$/.test(t);) candidates.push((t = t.slice(0, -1)));
    if (candidates.includes('room')) {
      // `@room` (or `@room.`) is the room mention, never a user called "room".
      room = true;
      continue;
    }
    // A name has a letter, digit or underscore (`@.` or `@--` is punctuation) and a username's length at most.
    const names = candidates.filter((c) => c.length <= LIMITS.usernameMax && /[a-z0-9_]/.test(c));
    if (!names.length) continue;
    if (names.length > budget) break;
    budget -= names.length;
    tokens.push(names);
    if (tokens.length >= MAX_NAMES_PER_MESSAGE) break;
  }
  return { tokens, room };
}

/** One text to resolve: its room, author, and the room's owner. */
export interface MentionSource {
  roomId: number;
  authorId: number | null;
  ownerId: number | null;
  text: string;
}

const key = (roomId: number, name: string) => `${roomId}\u0000${name}`;

/**
 * The members each text mentions, ids ascending. One query for every name of every text (members of those rooms
 * with those name keys), one more for the rooms whose owner wrote `@room`; none when no text has an `@`.
 */
export async function resolveMentions(
  ctx: AppContext,
  t: Transaction | undefined,
  sources: MentionSource[],
): Promise<number[][]> {
  const parsed = sources.map((s) =>
    s.text.includes('@') ? parseMentions(s.text) : { tokens: [], room: false },
  );
  const names = new Set<string>();
  const nameRooms = new Set<number>();
  const everyoneRooms = new Set<number>();
  parsed.forEach((p, i) => {
    const s = sources[i]!;
    for (const token of p.tokens) for (const n of token) names.add(n);
    if (p.tokens.length) nameRooms.add(s.roomId);
    if (p.room && s.authorId !== null && s.ownerId !== null && Number(s.ownerId) === Number(s.authorId))
      everyoneRooms.add(s.roomId);
  });
  const select = <R extends object>(sql: string, replacements: Record<string, unknown>) =>
    ctx.db.sequelize.query<R>(sql, { replacements, transaction: t, type: QueryTypes.SELECT });
  const [named, everyone] = await Promise.all([
    names.size
      ? select<{ roomId: number | string; userId: number | string; name: string }>(
          `SELECT m."roomId" AS "roomId", m."userId" AS "userId", u."usernameKey" AS "name"
             FROM users u JOIN memberships m ON m."userId" = u.id
            WHERE u."usernameKey" IN (:names) AND m."roomId" IN (:roomIds)`,
          { names: [...names], roomIds: [...nameRooms] },
        )
      : [],
    everyoneRooms.size
      ? select<{ roomId: number | string; userId: number | string }>(
          'SELECT "roomId", "userId" FROM memberships WHERE "roomId" IN (:roomIds)',
          { roomIds: [...everyoneRooms] },
        )
      : [],
  ]);
  const memberByName = new Map(named.map((r) => [key(Number(r.roomId), r.name), Number(r.userId)]));
  const membersOf = new Map<number, number[]>();
  for (const r of everyone) {
    const list = membersOf.get(Number(r.roomId)) ?? [];
    list.push(Number(r.userId));
    membersOf.set(Number(r.roomId), list);
  }
  return parsed.map((p, i) => {
    const s = sources[i]!;
    const ids = new Set<number>(everyoneRooms.has(s.roomId) && p.room ? (membersOf.get(s.roomId) ?? []) : []);
    for (const token of p.tokens) {
      const hit = token.map((n) => memberByName.get(key(s.roomId, n))).find((id) => id !== undefined);
      if (hit !== undefined) ids.add(hit);
    }
    return [...ids].sort((a, b) => a - b);
  });
}

/** The stored form of a message's mentions: `,12,34,`, so that one id matches exactly with LIKE '%,12,%'. */
export const encodeMentions = (ids: number[]): string => (ids.length ? `,${ids.join(',')},` : '');

/** The wire form: the ids as strings, ascending. */
export const decodeMentions = (stored: string | null | undefined): string[] =>
  stored ? stored.split(',').filter(Boolean) : [];
