import { LIMITS, type Reaction } from '@parley/protocol';
import { QueryTypes, type Transaction } from 'sequelize';
import type { Db } from '../../db/sequelize.js';
import type { Message } from '../../db/models.js';

/*
 * The reactions' data access (issue 16): the message_reactions table is the truth, messages.reactions the summary
 * the presenter shows, rewritten from the table in the same transaction, under the message's row lock.
 */

/** What a reaction change reads of its message: taken under the row's lock. */
export type LockedMessage = Pick<Message, 'id' | 'roomId' | 'kind' | 'deletedAt' | 'reactions'>;

const select = <R extends object>(
  db: Db,
  t: Transaction,
  sql: string,
  replacements: Record<string, unknown>,
) => db.sequelize.query<R>(sql, { replacements, transaction: t, type: QueryTypes.SELECT });

/**
 * The message, locked until commit (PostgreSQL's row lock; SQLite's writes are serialised already): reaction
 * changes of one message, its edits and its delete then run one after another. Null when missing.
 */
export async function lockMessage(db: Db, t: Transaction, id: number): Promise<LockedMessage | null> {
  const [row] = await select<LockedMessage>(
    db,
    t,
    `SELECT id, "roomId", kind, "deletedAt", reactions FROM messages WHERE id = :id
       ${db.dialect === 'postgres' ? 'FOR UPDATE' : ''}`,
    { id },
  );
  return row ? { ...row, id: Number(row.id), roomId: Number(row.roomId) } : null;
}

/**
 * Adds (or takes back) the user's reaction; false when there was nothing to change. Looked up first rather than
 * told by the write (SQLite's driver reports no rows for an INSERT … RETURNING through Sequelize): the caller
 * holds the message's lock, so nobody changes this message's reactions in between.
 */
export async function setReaction(
  db: Db,
  t: Transaction,
  r: { messageId: number; userId: number; emoji: string },
  on: boolean,
): Promise<boolean> {
  const [existing] = await select<{ id: number }>(
    db,
    t,
    'SELECT id FROM message_reactions WHERE "messageId" = :messageId AND "userId" = :userId AND emoji = :emoji',
    r,
  );
  if (Boolean(existing) === on) return false;
  const sql = on
    ? `INSERT INTO message_reactions ("messageId", "userId", emoji, "createdAt") VALUES (:messageId, :userId, :emoji, :now)`
    : 'DELETE FROM message_reactions WHERE id = :id';
  await db.sequelize.query(sql, {
    replacements: on ? { ...r, now: new Date() } : { id: existing!.id },
    transaction: t,
    type: on ? QueryTypes.INSERT : QueryTypes.DELETE,
  });
  return true;
}

/** Every reaction of a message goes (it was deleted: it shows none, and none come back). */
export async function deleteAllReactions(db: Db, t: Transaction, messageId: number): Promise<void> {
  await db.sequelize.query('DELETE FROM message_reactions WHERE "messageId" = :messageId', {
    replacements: { messageId },
    transaction: t,
    type: QueryTypes.DELETE,
  });
}

/**
 * The summary of a message's reactions, computed from the table: each emoji in the order it was first added, its
 * count, and its first 50 users in the order they reacted. One query: the database counts, and hands back only
 * the users the summary lists.
 */
export async function summariseReactions(db: Db, t: Transaction, messageId: number): Promise<Reaction[]> {
  const rows = await select<{ emoji: string; userId: number | string; total: number | string }>(
    db,
    t,
    `SELECT emoji, "userId", total FROM (
       SELECT emoji, "userId", id,
              ROW_NUMBER() OVER (PARTITION BY emoji ORDER BY id) AS n,
              COUNT(*) OVER (PARTITION BY emoji) AS total,
              MIN(id) OVER (PARTITION BY emoji) AS first
         FROM message_reactions WHERE "messageId" = :messageId) r
      WHERE n <= :listed
      ORDER BY first, n`,
    { messageId, listed: LIMITS.reactionUserIdsMax },
  );
  const byEmoji = new Map<string, Reaction>();
  for (const r of rows) {
    let reaction = byEmoji.get(r.emoji);
    if (!reaction) byEmoji.set(r.emoji, (reaction = { emoji: r.emoji, count: Number(r.total), userIds: [] }));
    reaction.userIds.push(String(r.userId));
  }
  return [...byEmoji.values()];
}

/** Rewrites the summary column ('' for none, as a message that never had any). */
export async function writeReactionSummary(
  db: Db,
  t: Transaction,
  messageId: number,
  summary: Reaction[],
): Promise<void> {
  await db.sequelize.query('UPDATE messages SET reactions = :reactions WHERE id = :messageId', {
    replacements: { messageId, reactions: summary.length ? JSON.stringify(summary) : '' },
    transaction: t,
    type: QueryTypes.UPDATE,
  });
}
