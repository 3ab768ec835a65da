import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Message, Room } from '../../db/models.js';
import { afterCommit, lockRoom, onSettled } from '../../db/unit-of-work.js';

export interface NewMessage {
  authorId: number | null;
  kind: Message['kind'];
  text: string;
  event?: Message['event'];
  clientId?: string | null;
  attachmentId?: string | null;
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

/** Appends a message to a room's history and moves the room's "last message" along with it. */
export async function appendMessage(
  ctx: AppContext,
  t: Transaction,
  room: Room,
  m: NewMessage,
): Promise<Message> {
  const [message] = await appendMessages(ctx, t, new Map([[room.id, room]]), [{ ...m, roomId: room.id }]);
  return message!;
}

/**
 * Appends messages to one or more rooms with one multi-row INSERT (group commit): ids ascend in the order given,
 * and each room's "last message" moves once, to its last one. Rooms are locked in id order (no deadlock between
 * two batches).
 */
export async function appendMessages(
  ctx: AppContext,
  t: Transaction,
  rooms: Map<number, Room>,
  ms: (NewMessage & { roomId: number })[],
): Promise<Message[]> {
  const roomOf = (m: { roomId: number }) => m.roomId;
  const roomIds = [...new Set(ms.map(roomOf))].sort((a, b) => a - b);
  for (const id of roomIds) {
    await lockRoom(ctx, t, id);
    takeTurn(ctx, t, id);
  }
  const now = new Date();
  const messages = await ctx.models.Message.bulkCreate(
    ms.map((m) => ({
      roomId: roomOf(m),
      authorId: m.authorId,
      kind: m.kind,
      text: m.text,
      event: m.event ?? null,
      clientId: m.clientId ?? null,
      attachmentId: m.attachmentId ?? null,
      editedAt: null,
      deletedAt: null,
      createdAt: now,
    })),
    // PostgreSQL hands the ids back with RETURNING; SQLite's driver derives them from the last insert id.
    { transaction: t, ...(ctx.db.dialect === 'postgres' ? { returning: ['id'] } : {}) },
  );
  // One statement's rows get their ids in VALUES order; sorting keeps that true whatever order RETURNING uses.
  const ids = messages.map((m) => Number(m.id)).sort((a, b) => a - b);
  messages.forEach((m, i) => (m.id = ids[i]!));
  // bulkCreate fires only afterBulkCreate: model hooks that watch single creations (metrics) hear of each one.
  const hooks = ctx.models.Message as unknown as {
    runHooks(name: string, ...args: unknown[]): Promise<void>;
  };
  for (const m of messages) await hooks.runHooks('afterCreate', m, { transaction: t });
  const last = new Map<number, number>();
  for (const m of messages) last.set(m.roomId, m.id);
  if (last.size === 1) {
    const [roomId, id] = [...last][0]!;
    await ctx.models.Room.update(
      { lastMessageId: id, lastMessageAt: now },
      { where: { id: roomId }, transaction: t, silent: true },
    );
  } else {
    // Ids are integers we just read back, so inlining them is safe.
    const cases = [...last].map(([roomId, id]) => `WHEN ${roomId} THEN ${id}`).join(' ');
    await ctx.db.sequelize.query(
      `UPDATE rooms SET "lastMessageId" = CASE id ${cases} END, "lastMessageAt" = :now WHERE id IN (:ids)`,
      { replacements: { now, ids: [...last.keys()] }, transaction: t },
    );
  }
  for (const [roomId, id] of last) {
    const room = rooms.get(roomId);
    if (room) {
      room.lastMessageId = id;
      room.lastMessageAt = now;
    }
  }
  return messages;
}
