import { Op, QueryTypes, type Transaction } from 'sequelize';
import { dbTimezone } from '../../db/rows.js';
import type { Db } from '../../db/sequelize.js';
import type { Attachment, Membership, Message, Models, Room } from '../../db/models.js';
import { NEVER_EXPIRES } from '../uploads/presenter.js';
import { isVisibleRow, VISIBLE_ROOM_COLUMNS, VISIBLE_ROOM_FROM } from '../rooms/queries.js';
import {
  MESSAGE_ROW_COLUMNS,
  MESSAGE_ROW_JOINS,
  PARENT_COLUMNS,
  toMessageRecords,
  toParent,
  type MessageRecord,
  type MessageRow,
  type ParentFields,
  type ParentRow,
} from './message-rows.js';

export {
  MESSAGE_ROW_COLUMNS,
  MESSAGE_ROW_JOINS,
  toMessageRecords,
  type MessageFields,
  type MessageRecord,
  type MessageRow,
  type ParentFields,
} from './message-rows.js';

/*
 * The messages' data access: every SQL statement on messages, returning typed plain rows (never model
 * instances: a page is 51 of them). Sequelize keeps the models, migrations and ordinary CRUD.
 *
 * Sections: the read path (history pages), then the write path's statements (group commit, the message log, the
 * re-reads and reply checks of a send). Reactions' statements: reactions-repo.ts.
 */

// ---------------------------------------------------------------------------------------------------------------
// Read path: history pages (the joined message row they share with search and gap recovery: message-rows.ts).
// ---------------------------------------------------------------------------------------------------------------
/** Where a history page starts and which way it walks. */
export interface PageQuery {
  roomId: number;
  /** Whose visibility the page is read for. */
  userId: number;
  before?: number;
  after?: number;
  /** Rows to read: the page size plus one (to tell whether there is more). */
  take: number;
}

/** The statement {@link readHistoryPage} runs (`$name` parameters): exported for the read-path benchmark tool. */
export function historyPageStatement(q: PageQuery): { sql: string; params: Record<string, unknown> } {
  const forward = q.after !== undefined;
  const order = forward ? 'ASC' : 'DESC';
  const range = [q.before !== undefined ? 'AND id < $before' : '', forward ? 'AND id > $after' : ''].join(
    ' ',
  );
  // The room row comes back even when the page is empty (one row with a null message id); none at all: no room.
  const sql = `SELECT ${VISIBLE_ROOM_COLUMNS}, ${MESSAGE_ROW_COLUMNS}
       FROM ${VISIBLE_ROOM_FROM}
       LEFT JOIN (SELECT * FROM messages WHERE "roomId" = $roomId ${range} ORDER BY id ${order} LIMIT $take) msg
         ON 1 = 1
       ${MESSAGE_ROW_JOINS}
      WHERE r.id = $roomId
      ORDER BY msg.id ${order}`;
  const params = {
    roomId: q.roomId,
    userId: q.userId,
    // Only the parameters the SQL names: SQLite's driver refuses one it does not.
    ...(q.before !== undefined && { before: q.before }),
    ...(q.after !== undefined && { after: q.after }),
    take: q.take,
  };
  return { sql, params };
}

/**
 * One query for a whole history page: the room's visibility for the user, the page (keyset on `(roomId, id)`,
 * forward from `after`, else backward from `before` or from the newest), its authors and attachments. Rows come
 * in walking order (newest first on a backward page). `visible` is false for a missing room and for one the user
 * may not see: the two answer alike.
 */
export async function readHistoryPage(
  db: Db,
  q: PageQuery,
): Promise<{ visible: boolean; rows: MessageRecord[] }> {
  const { sql, params } = historyPageStatement(q);
  const rows = await db.read<MessageRow & { roomKind: string; memberRole: Membership['role'] | null }>(
    sql,
    params,
  );
  if (!rows[0] || !isVisibleRow(rows[0])) return { visible: false, rows: [] };
  return { visible: true, rows: rows[0].id === null ? [] : toMessageRecords(rows, dbTimezone(db)) };
}
// ---------------------------------------------------------------------------------------------------------------
// Write path: the statements of the MessageWriter's group commit and of the MessageLog (writer.ts, log.ts).
// Sequelize's public `query` with bound values (or a model call where it costs nothing extra); no model instance
// per message: on the hot path that cost more than the statements themselves (docs/DECISIONS.md D15).
// ---------------------------------------------------------------------------------------------------------------

/** A message as the writer stores it; `mentions` already encoded (messages/mentions.ts). */
export interface MessageInsert {
  roomId: number;
  authorId: number | null;
  kind: Message['kind'];
  text: string;
  event: Message['event'];
  clientId: string | null;
  attachmentId: string | null;
  mentions: string;
  replyToId: number | null;
}

export type RoomRow = Pick<Room, 'id' | 'kind' | 'ownerId' | 'name' | 'nameKey'>;
export type MembershipRow = Pick<Membership, 'roomId' | 'userId' | 'role'>;

/** Placeholders of one row's nine columns; the edit and delete times are none yet, the time is the statement's. */
const ROW_VALUES = '?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL';

/**
 * One multi-row INSERT; the new ids in VALUES order. PostgreSQL hands them back with RETURNING. On SQLite,
 * Sequelize runs an INSERT with the driver's `run`, which gives the last rowid only: one statement's rows take
 * consecutive rowids (the writer holds the database's write lock), so they end at it — which is how Sequelize's
 * own `bulkCreate` finds them there.
 *
 * The values go in as replacements (escaped into the statement), not as bound parameters: Sequelize hands SQLite's
 * driver bound parameters by name (`$1` … `$3600`), and binding by name looks each one up among all of the
 * statement's, quadratic in the batch: 47 ms for 400 rows against 5 ms with replacements (D33).
 */
export async function insertMessages(
  db: Db,
  t: Transaction,
  rows: MessageInsert[],
  now: Date,
): Promise<number[]> {
  const at = db.sequelize.escape(now);
  const replacements: unknown[] = [];
  for (const m of rows) {
    replacements.push(
      m.roomId,
      m.authorId,
      m.kind,
      m.text,
      m.event,
      m.clientId,
      m.attachmentId,
      m.mentions,
      m.replyToId,
    );
  }
  const insert = `INSERT INTO messages ("roomId", "authorId", "kind", "text", "event", "clientId", "attachmentId",
    "mentions", "replyToId", "editedAt", "deletedAt", "createdAt") VALUES ${rows.map(() => `(${ROW_VALUES}, ${at})`).join(', ')}`;
  if (db.dialect === 'postgres') {
    const ids = await db.sequelize.query<{ id: string | number }>(`${insert} RETURNING id`, {
      replacements,
      transaction: t,
      type: QueryTypes.SELECT,
    });
    // One statement's rows get ascending ids in VALUES order, whatever order RETURNING hands them back in.
    return ids.map((r) => Number(r.id)).sort((a, b) => a - b);
  }
  const [lastId] = (await db.sequelize.query(insert, {
    replacements,
    transaction: t,
    type: QueryTypes.INSERT,
  })) as [number, number];
  return Array.from({ length: rows.length }, (_, i) => Number(lastId) - rows.length + 1 + i);
}

/** Moves each room's "last message" to the given id, in one statement. */
export async function moveLastMessages(
  db: Db,
  t: Transaction,
  last: Map<number, number>,
  now: Date,
): Promise<void> {
  // Ids are integers we just read back, so inlining them is safe.
  const pairs = [...last].map(([roomId, id]) => `(${Number(roomId)}, ${Number(id)})`);
  await db.sequelize.query(
    `UPDATE rooms SET "lastMessageId" = v.column2, "lastMessageAt" = :now
      FROM (VALUES ${pairs.join(', ')}) AS v WHERE rooms.id = v.column1`,
    { replacements: { now }, transaction: t, type: QueryTypes.UPDATE },
  );
}

/**
 * Moves read markers: each (room, user) to the message id given, in one statement. A join on the pairs, not a
 * CASE over them: that was evaluated per row, quadratic in the batch.
 */
export async function moveReadMarkers(
  db: Db,
  t: Transaction,
  marks: { roomId: number; userId: number; id: number }[],
): Promise<void> {
  if (!marks.length) return;
  // All integers we produced (user, room and inserted ids), so inlining them is safe.
  const pairs = marks.map((k) => `(${Number(k.roomId)}, ${Number(k.userId)}, ${Number(k.id)})`);
  await db.sequelize.query(
    `UPDATE memberships SET "lastReadMessageId" = v.column3 FROM (VALUES ${pairs.join(', ')}) AS v
      WHERE memberships."roomId" = v.column1 AND memberships."userId" = v.column2`,
    { transaction: t, type: QueryTypes.UPDATE },
  );
}

/** The rooms and the memberships of the given users in them, as the send checks need them. */
export async function sendChecks(
  db: Db,
  t: Transaction,
  roomIds: number[],
  userIds: number[],
): Promise<{ rooms: RoomRow[]; memberships: MembershipRow[] }> {
  const select = <R extends object>(sql: string, replacements: Record<string, unknown>) =>
    db.sequelize.query<R>(sql, { replacements, transaction: t, type: QueryTypes.SELECT });
  const [rooms, memberships] = await Promise.all([
    select<RoomRow>('SELECT id, kind, "ownerId", name, "nameKey" FROM rooms WHERE id IN (:roomIds)', {
      roomIds,
    }),
    select<MembershipRow>(
      'SELECT "roomId", "userId", role FROM memberships WHERE "roomId" IN (:roomIds) AND "userId" IN (:userIds)',
      { roomIds, userIds },
    ),
  ]);
  return { rooms, memberships };
}

/**
 * Messages already stored under these (authorId, clientId) pairs. A row-value IN makes one index probe per pair on
 * both databases; `authorId IN (…) AND clientId IN (…)` scanned the table on SQLite, and an OR of pairs costs
 * Sequelize more to build than the query costs to run. Model instances: replays are presented like any history.
 */
export function messagesByClientId(
  db: Db,
  models: Models,
  t: Transaction,
  pairs: [authorId: number, clientId: string][],
): Promise<Message[]> {
  if (!pairs.length) return Promise.resolve([]);
  return db.sequelize.query(
    `SELECT * FROM messages WHERE ("authorId", "clientId") IN (VALUES ${pairs.map(() => '(?, ?)').join(', ')})`,
    { replacements: pairs.flat(), model: models.Message, mapToModel: true, transaction: t },
  );
}

/**
 * Messages by id as the presenter takes them, read in `t` (what it wrote is what it presents); any order.
 */
export async function messageRecordsById(db: Db, t: Transaction, ids: number[]): Promise<MessageRecord[]> {
  if (!ids.length) return [];
  const rows = await db.sequelize.query<MessageRow>(
    `SELECT ${MESSAGE_ROW_COLUMNS} FROM messages msg ${MESSAGE_ROW_JOINS} WHERE msg.id IN (:ids)`,
    { replacements: { ids }, transaction: t, type: QueryTypes.SELECT },
  );
  return toMessageRecords(rows, dbTimezone(db));
}

/** A message a send wants to answer: where it is, what it is, and its quote. */
export interface ReplyParent {
  roomId: number;
  kind: Message['kind'];
  parent: ParentFields;
}

/**
 * The messages a batch's sends answer, in one query. PostgreSQL: share-locked until commit, so a delete of one
 * either committed before (the quote says deleted) or waits for this batch (whose broadcast then comes first).
 */
export async function replyParents(db: Db, t: Transaction, ids: number[]): Promise<Map<number, ReplyParent>> {
  if (!ids.length) return new Map();
  const rows = await db.sequelize.query<
    ParentRow & { parentRoomId: number | string; parentKind: Message['kind'] }
  >(
    `SELECT p."roomId" AS "parentRoomId", p.kind AS "parentKind", ${PARENT_COLUMNS}
       FROM messages p LEFT JOIN users pu ON pu.id = p."authorId"
      WHERE p.id IN (:ids) ${db.dialect === 'postgres' ? 'FOR SHARE OF p' : ''}`,
    { replacements: { ids }, transaction: t, type: QueryTypes.SELECT },
  );
  const tz = dbTimezone(db);
  return new Map(
    rows.map((r) => [
      Number(r.parentId),
      { roomId: Number(r.parentRoomId), kind: r.parentKind, parent: toParent(r, tz)! },
    ]),
  );
}

/** The newest `limit` live replies to a message (their quotes follow it), by the partial index on replyToId. */
export async function liveReplyIds(
  db: Db,
  t: Transaction,
  parentId: number,
  limit: number,
): Promise<number[]> {
  const rows = await db.sequelize.query<{ id: number | string }>(
    'SELECT id FROM messages WHERE "replyToId" = :parentId AND "deletedAt" IS NULL ORDER BY id DESC LIMIT :limit',
    { replacements: { parentId, limit }, transaction: t, type: QueryTypes.SELECT },
  );
  return rows.map((r) => Number(r.id)).reverse();
}

/** The uploads with these ids. */
export function attachmentsById(models: Models, t: Transaction, ids: string[]): Promise<Attachment[]> {
  return models.Attachment.findAll({ where: { id: ids }, transaction: t });
}

/**
 * Attaches an upload to a message, with a condition, so that two sends racing for one upload cannot both attach it
 * (PostgreSQL runs them concurrently). False when it was taken meanwhile, or adopted as an avatar.
 */
export async function claimAttachment(
  models: Models,
  t: Transaction,
  attachmentId: string,
  message: { id: number; roomId: number },
): Promise<boolean> {
  const [claimed] = await models.Attachment.update(
    { messageId: message.id, roomId: message.roomId },
    // Not an avatar (adopted meanwhile): a file both would lose when either goes.
    { where: { id: attachmentId, messageId: null, expiresAt: { [Op.lt]: NEVER_EXPIRES } }, transaction: t },
  );
  return claimed === 1;
}
