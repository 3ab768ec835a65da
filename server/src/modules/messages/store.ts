import { QueryTypes, type Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Message, Room } from '../../db/models.js';
import { afterCommit, lockRooms, onSettled } from '../../db/unit-of-work.js';
import { encodeMentions } from './mentions.js';

export interface NewMessage {
  authorId: number | null;
  kind: Message['kind'];
  text: string;
  event?: Message['event'];
  clientId?: string | null;
  attachmentId?: string | null;
  /** Members it mentions (messages/mentions.ts): resolved by the caller, in the same transaction. */
  mentions?: number[];
}

/**
 * Broadcast order per room. Ids follow commit order (SQLite serialises writes; PostgreSQL takes the room's row
 * lock first), but this process may learn of two commits in the other order: on PostgreSQL the lock is released
 * before the first transaction's COMMIT answer reaches us, and the next one can commit in between. So each
 * transaction that appends to a room takes a turn while it holds the room (in lock order, hence id order), and
 * its after-commit effects wait until every earlier turn of that room is over (broadcast, or rolled back).
 * One process only: several nodes order their broadcasts through the adapter, not here.
 */
const turnsByApp = new WeakMap<object, Map<number, Promise<void>>>();
const heldTurns = new WeakMap<Transaction, Set<number>>();

function takeTurn(ctx: AppContext, t: Transaction, roomId: number): void {
  const held = heldTurns.get(t) ?? new Set<number>();
  heldTurns.set(t, held);
  if (held.has(roomId)) return;
  let tails = turnsByApp.get(ctx);
  if (!tails) turnsByApp.set(ctx, (tails = new Map()));
  const before = tails.get(roomId) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((resolve) => (release = resolve));
  const tail = before.then(() => mine);
  tails.set(roomId, tail);
  void tail.then(() => {
    if (tails.get(roomId) === tail) tails.delete(roomId);
  });
  if (!onSettled(t, release)) return release();
  held.add(roomId);
  afterCommit(t, () => before);
}

/** What the write path knows of a message it stored: a plain row, presented without a model instance. */
export type StoredMessage = Pick<
  Message,
  | 'id'
  | 'roomId'
  | 'authorId'
  | 'kind'
  | 'text'
  | 'event'
  | 'clientId'
  | 'attachmentId'
  | 'editedAt'
  | 'deletedAt'
  | 'mentions'
  | 'createdAt'
>;

/** Rooms whose "last message" the caller holds in memory: moved along with the database. */
type RoomState = Pick<Room, 'lastMessageId' | 'lastMessageAt'>;

/** Appends a message to a room's history and moves the room's "last message" along with it. */
export async function appendMessage(
  ctx: AppContext,
  t: Transaction,
  room: Room,
  m: NewMessage,
): Promise<StoredMessage> {
  const [message] = await appendMessages(ctx, t, new Map([[room.id, room]]), [{ ...m, roomId: room.id }]);
  return message!;
}

/** Columns given per row; the others are the same for the whole statement (see appendMessages). */
const ROW_PARAMS = 8;

/**
 * Appends messages to one or more rooms with one multi-row INSERT (group commit): ids ascend in the order given,
 * and each room's "last message" moves once, to its last one. Rooms are locked in id order (no deadlock between
 * two batches). Plain SQL with bound values: building a model instance per row cost more than the insert.
 */
export async function appendMessages(
  ctx: AppContext,
  t: Transaction,
  rooms: Map<number, RoomState>,
  ms: (NewMessage & { roomId: number })[],
): Promise<StoredMessage[]> {
  const roomIds = [...new Set(ms.map((m) => m.roomId))].sort((a, b) => a - b);
  await lockRooms(ctx, t, roomIds);
  for (const id of roomIds) takeTurn(ctx, t, id);
  const now = new Date();
  const { sequelize } = ctx.db;
  const bind: unknown[] = [];
  const values: string[] = [];
  for (const m of ms) {
    const n = bind.push(
      m.roomId,
      m.authorId,
      m.kind,
      m.text,
      m.event ?? null,
      m.clientId ?? null,
      m.attachmentId ?? null,
      encodeMentions(m.mentions ?? []),
    );
    const b = n - ROW_PARAMS + 1;
    values.push(
      `($${b}, $${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, NULL, NULL, ${sequelize.escape(now)})`,
    );
  }
  const insert = `INSERT INTO messages ("roomId", "authorId", "kind", "text", "event", "clientId", "attachmentId", "mentions", "editedAt", "deletedAt", "createdAt") VALUES ${values.join(', ')}`;
  const ids = await insertedIds(ctx, t, insert, bind, ms.length);
  const messages: StoredMessage[] = ms.map((m, i) => ({
    id: ids[i]!,
    roomId: m.roomId,
    authorId: m.authorId,
    kind: m.kind,
    text: m.text,
    event: m.event ?? null,
    clientId: m.clientId ?? null,
    attachmentId: m.attachmentId ?? null,
    mentions: encodeMentions(m.mentions ?? []),
    editedAt: null,
    deletedAt: null,
    createdAt: now,
  }));
  // A raw insert fires no model hooks: those that watch single creations (metrics) hear of each one here.
  const model = ctx.models.Message as unknown as {
    hasHook(name: string): boolean;
    runHooks(name: string, ...args: unknown[]): Promise<void>;
  };
  if (model.hasHook('afterCreate')) {
    for (const m of messages) await model.runHooks('afterCreate', m, { transaction: t });
  }
  const last = new Map<number, number>();
  for (const m of messages) last.set(m.roomId, m.id);
  // Ids are integers we just read back, so inlining them is safe.
  const pairs = [...last].map(([roomId, id]) => `(${Number(roomId)}, ${id})`);
  await sequelize.query(
    `UPDATE rooms SET "lastMessageId" = v.column2, "lastMessageAt" = :now
      FROM (VALUES ${pairs.join(', ')}) AS v WHERE rooms.id = v.column1`,
    { replacements: { now }, transaction: t, type: QueryTypes.UPDATE },
  );
  for (const [roomId, id] of last) {
    const room = rooms.get(roomId);
    if (room) {
      room.lastMessageId = id;
      room.lastMessageAt = now;
    }
  }
  return messages;
}

/**
 * Runs a multi-row INSERT into messages and returns the new ids in VALUES order. PostgreSQL hands them back with
 * RETURNING; on SQLite (one writer, so nothing interleaves) one statement's rows take consecutive rowids ending at
 * the last insert id.
 */
async function insertedIds(
  ctx: AppContext,
  t: Transaction,
  insert: string,
  bind: unknown[],
  count: number,
): Promise<number[]> {
  let ids: number[];
  if (ctx.db.dialect === 'postgres') {
    const rows = await ctx.db.sequelize.query<{ id: string | number }>(`${insert} RETURNING id`, {
      bind,
      transaction: t,
      type: QueryTypes.SELECT,
    });
    ids = rows.map((r) => Number(r.id));
  } else {
    const [lastId] = (await ctx.db.sequelize.query(insert, {
      bind,
      transaction: t,
      type: QueryTypes.INSERT,
    })) as unknown as [number, number];
    ids = Array.from({ length: count }, (_, i) => Number(lastId) - count + 1 + i);
  }
  // One statement's rows get their ids in VALUES order; sorting keeps that true whatever order RETURNING uses.
  return ids.sort((a, b) => a - b);
}
