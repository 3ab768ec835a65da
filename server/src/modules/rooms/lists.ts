import type { MemberPage, RoomPage } from '@parley/protocol';
import { LIMITS } from '@parley/protocol';
import { Op, QueryTypes, type WhereOptions } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Room, User } from '../../db/models.js';
import { invalidField } from '../../errors.js';
import { iso } from '../../http/present.js';
import { orderKey, userIdOfKey } from '../presence/store.js';
import { presentUser } from '../users/presenter.js';
import { loadVisibleRoom, presentRoomsFor } from './queries.js';

/*
 * The paged lists of contract v2 ("Lists are paged"): rooms, DMs and members. Each cursor is opaque to clients
 * (base64url) and holds the sort key of the last item of its page, so a page goes on strictly after it: keyset
 * paging, never OFFSET, so that an insertion or deletion between pages neither skips nor repeats the others.
 * See docs/DECISIONS.md "Paged lists (issue 14)" for what happens when an item's key changes between pages.
 */

const badCursor = () => invalidField('after', 'must be a cursor from a previous page');

const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** The JSON inside a cursor, checked by `valid`; VALIDATION_ERROR (400) for anything a page did not hand out. */
function decode<T>(cursor: string | undefined, valid: (v: unknown) => v is T): T | undefined {
  if (cursor === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString());
  } catch {
    throw badCursor();
  }
  if (!valid(value)) throw badCursor();
  return value;
}

const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

type RoomCursor = [nameKey: string, id: number];
const isRoomCursor = (v: unknown): v is RoomCursor =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && v[0].length <= 128 && isId(v[1]);

/**
 * GET /api/chatrooms: every public room and the private rooms the caller is in, in (nameKey, id) order. nameKey is
 * unique among rooms, so the order is total and stable; the id only makes the cursor exact.
 */
export async function listRooms(
  ctx: AppContext,
  user: User,
  q: { limit?: number; after?: string },
): Promise<RoomPage> {
  const limit = q.limit ?? LIMITS.listPageDefault;
  const after = decode(q.after, isRoomCursor);
  const mine = await ctx.models.Membership.findAll({ where: { userId: user.id }, attributes: ['roomId'] });
  const where: WhereOptions[] = [
    { [Op.or]: [{ kind: 'public' }, { kind: 'private', id: mine.map((m) => m.roomId) }] },
  ];
  if (after) {
    const [k, id] = after;
    where.push({ [Op.or]: [{ nameKey: { [Op.gt]: k } }, { nameKey: k, id: { [Op.gt]: id } }] });
  }
  const rows = await ctx.models.Room.findAll({
    where: { [Op.and]: where },
    order: [
      ['nameKey', 'ASC'],
      ['id', 'ASC'],
    ],
    limit: limit + 1,
  });
  return roomPage(ctx, user, rows, limit, (r) => [r.nameKey ?? '', r.id]);
}

type DmCursor = [lastMessageAt: string | null, id: number];
const isDmCursor = (v: unknown): v is DmCursor =>
  Array.isArray(v) &&
  v.length === 2 &&
  (v[0] === null || (typeof v[0] === 'string' && !Number.isNaN(Date.parse(v[0])))) &&
  isId(v[1]);

/**
 * GET /api/dms: the caller's direct rooms, most recently active first, then newest first; a conversation with no
 * message yet goes last on every database (PostgreSQL would put NULLs first). The cursor is (lastMessageAt, id).
 */
export async function listDms(
  ctx: AppContext,
  user: User,
  q: { limit?: number; after?: string },
): Promise<RoomPage> {
  const limit = q.limit ?? LIMITS.listPageDefault;
  const after = decode(q.after, isDmCursor);
  const mine = await ctx.models.Membership.findAll({ where: { userId: user.id }, attributes: ['roomId'] });
  const where: WhereOptions[] = [{ kind: 'direct', id: { [Op.in]: mine.map((m) => m.roomId) } }];
  if (after) {
    const [at, id] = after;
    where.push(
      at === null
        ? { lastMessageAt: null, id: { [Op.lt]: id } }
        : {
            [Op.or]: [
              { lastMessageAt: { [Op.lt]: new Date(at) } },
              { lastMessageAt: new Date(at), id: { [Op.lt]: id } },
              { lastMessageAt: null },
            ],
          },
    );
  }
  const rows = await ctx.models.Room.findAll({
    where: { [Op.and]: where },
    order: [
      ['lastMessageAt', 'DESC NULLS LAST'],
      ['id', 'DESC'],
    ],
    limit: limit + 1,
  });
  return roomPage(ctx, user, rows, limit, (r) => [
    r.lastMessageAt ? r.lastMessageAt.toISOString() : null,
    r.id,
  ]);
}

async function roomPage(
  ctx: AppContext,
  user: User,
  rows: Room[],
  limit: number,
  keyOf: (r: Room) => unknown,
): Promise<RoomPage> {
  const hasMore = rows.length > limit;
  const shown = rows.slice(0, limit);
  const last = shown[shown.length - 1];
  return {
    rooms: await presentRoomsFor(ctx, user, shown),
    hasMore,
    next: hasMore && last ? encode(keyOf(last)) : null,
  };
}

/** A position in the member list: the phase (online members, then the others) and the last order key seen in it. */
type MemberCursor = [phase: 'on' | 'off', key: string | null];
const ORDER_KEY = /^[^ ]{1,64} \d{20}$/;
const isMemberCursor = (v: unknown): v is MemberCursor =>
  Array.isArray(v) &&
  v.length === 2 &&
  (v[0] === 'on' || v[0] === 'off') &&
  (v[1] === null || (typeof v[1] === 'string' && ORDER_KEY.test(v[1])));

interface MemberRow {
  userId: number | string;
  nameKey: string;
}

/**
 * GET /api/chatrooms/:id/members: online members first, then the others, each part in (usernameKey, id) order.
 * Presence is read once per page (the room's member ids against the presence store), so the split is as of that
 * page: someone who goes offline after the online part passed them is listed again in the offline part, and
 * someone who comes online after the offline part passed them is not listed again; clients merge pages by user
 * id and keep presence current with presence:changed (DECISIONS.md "Paged lists (issue 14)").
 */
export async function listMembers(
  ctx: AppContext,
  user: User,
  roomId: number,
  q: { limit?: number; after?: string },
): Promise<MemberPage> {
  const limit = q.limit ?? LIMITS.listPageDefault;
  const after = decode(q.after, isMemberCursor);
  const { room } = await loadVisibleRoom(ctx, user, roomId);
  const ids = await ctx.models.Membership.findAll({
    where: { roomId: room.id },
    attributes: ['userId'],
    raw: true,
  });
  const online = [...(await ctx.presence.filterOnline(ids.map((m) => String(m.userId))))].map(Number);

  const read = async (phase: 'on' | 'off', from: string | null, count: number): Promise<MemberRow[]> => {
    if (phase === 'on' && !online.length) return [];
    const inOnline = online.length ? `AND m."userId" ${phase === 'on' ? 'IN' : 'NOT IN'} (:online)` : '';
    const fromKey = from === null ? null : from.slice(0, from.lastIndexOf(' '));
    const fromId = from === null ? null : Number(userIdOfKey(from));
    return ctx.db.sequelize.query<MemberRow>(
      `SELECT m."userId" AS "userId", u."usernameKey" AS "nameKey"
         FROM memberships m JOIN users u ON u.id = m."userId"
        WHERE m."roomId" = :roomId ${inOnline}
          ${from === null ? '' : 'AND (u."usernameKey" > :fromKey OR (u."usernameKey" = :fromKey AND u.id > :fromId))'}
        ORDER BY u."usernameKey", u.id
        LIMIT :count`,
      { replacements: { roomId: room.id, online, fromKey, fromId, count }, type: QueryTypes.SELECT },
    );
  };
  const keyOf = (r: MemberRow) => orderKey(r.nameKey, String(r.userId));

  const rows: Array<MemberRow & { online: boolean }> = [];
  let next: MemberCursor | null = null;
  if (!after || after[0] === 'on') {
    const on = await read('on', after?.[1] ?? null, limit + 1);
    rows.push(...on.slice(0, limit).map((r) => ({ ...r, online: true })));
    if (on.length > limit) next = ['on', keyOf(on[limit - 1]!)];
  }
  if (!next) {
    const left = limit - rows.length;
    const from = after?.[0] === 'off' ? after[1] : null;
    const off = await read('off', from, left + 1);
    rows.push(...off.slice(0, left).map((r) => ({ ...r, online: false })));
    if (off.length > left) {
      const last = off[left - 1];
      // A page that ended on the last online member goes on at the start of the offline part.
      next = ['off', last ? keyOf(last) : null];
    }
  }
  return {
    members: await presentMembers(ctx, room.id, rows),
    hasMore: next !== null,
    next: next && encode(next),
  };
}

/** The members of one page with their users and roles, in the page's order. */
async function presentMembers(
  ctx: AppContext,
  roomId: number,
  rows: Array<MemberRow & { online: boolean }>,
): Promise<MemberPage['members']> {
  if (!rows.length) return [];
  const userIds = rows.map((r) => Number(r.userId));
  const [users, memberships] = await Promise.all([
    ctx.models.User.findAll({ where: { id: userIds } }),
    ctx.models.Membership.findAll({ where: { roomId, userId: userIds } }),
  ]);
  const userById = new Map(users.map((u) => [u.id, u]));
  const membershipOf = new Map(memberships.map((m) => [m.userId, m]));
  return rows.flatMap((r) => {
    const u = userById.get(Number(r.userId));
    const m = membershipOf.get(Number(r.userId));
    // Someone who left or was deleted between the two reads is left out.
    return u && m
      ? [{ user: presentUser(u), role: m.role, joinedAt: iso(m.joinedAt), online: r.online }]
      : [];
  });
}
