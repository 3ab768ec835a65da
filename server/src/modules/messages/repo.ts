import { dbDate, dbTimezone } from '../../db/rows.js';
import type { Db } from '../../db/sequelize.js';
import type { Membership, Message } from '../../db/models.js';
import type { AttachmentFields } from '../uploads/presenter.js';
import type { UserFields } from '../users/presenter.js';
import { isVisibleRow, VISIBLE_ROOM_COLUMNS, VISIBLE_ROOM_FROM } from '../rooms/queries.js';

/*
 * The messages' data access: every SQL statement on messages, returning typed plain rows (never model
 * instances: a page is 51 of them). Sequelize keeps the models, migrations and ordinary CRUD.
 *
 * Sections: the read path (history pages and the message rows other reads share) is below; the write path's
 * statements (group commit) live in their own section.
 */

// ---------------------------------------------------------------------------------------------------------------
// Read path: history pages, and the joined message rows search and gap recovery read too.
// ---------------------------------------------------------------------------------------------------------------

/** The message columns the presenter reads (a model instance or a {@link MessageRecord} both fit). */
export type MessageFields = Pick<
  Message,
  | 'id'
  | 'roomId'
  | 'kind'
  | 'text'
  | 'event'
  | 'clientId'
  | 'createdAt'
  | 'editedAt'
  | 'deletedAt'
  | 'mentions'
>;

/** A message with its author and attachment, typed: what the one presenter takes. */
export interface MessageRecord {
  message: MessageFields;
  author: UserFields | null;
  attachment: AttachmentFields | null;
}

/**
 * The columns MESSAGE_ROW_COLUMNS selects: a message with its author (`users u`) and attachment (`attachments a`)
 * joined, as the driver hands them back. {@link toMessageRecords} types them.
 */
export interface MessageRow {
  id: number | string;
  roomId: number | string;
  kind: Message['kind'];
  text: string;
  event: Message['event'];
  clientId: string | null;
  deletedAt: Date | string | null;
  editedAt: Date | string | null;
  createdAt: Date | string;
  mentions: string | null;
  authorId: number | null;
  authorUsername: string;
  authorDisplayName: string;
  authorAvatarAttachmentId: string | null;
  authorIsGuest: boolean | number;
  authorCreatedAt: Date | string;
  authorReleasedAt: Date | string | null;
  attachmentId: string | null;
  attachmentMime: string;
  attachmentSize: number;
  attachmentWidth: number;
  attachmentHeight: number;
  attachmentExpiresAt: Date | string;
  attachmentExpiredAt: Date | string | null;
}

/** Select list for MessageRow, over `msg` (messages) left-joined with `u` (its author) and `a` (its attachment). */
export const MESSAGE_ROW_COLUMNS = `msg.id AS "id", msg."roomId" AS "roomId", msg.kind AS "kind", msg.text AS "text",
  msg.event AS "event", msg."clientId" AS "clientId", msg."deletedAt" AS "deletedAt", msg."editedAt" AS "editedAt",
  msg."createdAt" AS "createdAt", msg.mentions AS "mentions",
  u.id AS "authorId", u.username AS "authorUsername", u."displayName" AS "authorDisplayName",
  u."avatarAttachmentId" AS "authorAvatarAttachmentId", u."isGuest" AS "authorIsGuest",
  u."createdAt" AS "authorCreatedAt", u."releasedAt" AS "authorReleasedAt",
  a.id AS "attachmentId", a.mime AS "attachmentMime", a.size AS "attachmentSize", a.width AS "attachmentWidth",
  a.height AS "attachmentHeight", a."expiresAt" AS "attachmentExpiresAt", a."expiredAt" AS "attachmentExpiredAt"`;

/** The joins MESSAGE_ROW_COLUMNS reads, after a `msg` (messages) source. */
export const MESSAGE_ROW_JOINS = `LEFT JOIN users u ON u.id = msg."authorId"
       LEFT JOIN attachments a ON a.id = msg."attachmentId"`;

/** Types rows read with MESSAGE_ROW_COLUMNS: dates as Dates, booleans as booleans, missing joins as null. */
export function toMessageRecords(rows: MessageRow[], timezone: string): MessageRecord[] {
  return rows.map((r) => ({
    message: {
      // Ids pass through as the driver gave them (PostgreSQL's BIGINT is a string): the presenter prints either.
      id: r.id as number,
      roomId: r.roomId as number,
      kind: r.kind,
      text: r.text,
      event: r.event,
      clientId: r.clientId,
      createdAt: dbDate(r.createdAt, timezone),
      editedAt: dbDate(r.editedAt, timezone),
      deletedAt: dbDate(r.deletedAt, timezone),
      mentions: r.mentions ?? '',
    },
    author:
      r.authorId === null
        ? null
        : {
            id: r.authorId,
            username: r.authorUsername,
            displayName: r.authorDisplayName,
            avatarAttachmentId: r.authorAvatarAttachmentId,
            isGuest: Boolean(r.authorIsGuest),
            createdAt: dbDate(r.authorCreatedAt, timezone),
            releasedAt: dbDate(r.authorReleasedAt, timezone),
          },
    attachment:
      r.attachmentId === null
        ? null
        : {
            id: r.attachmentId,
            mime: r.attachmentMime,
            size: r.attachmentSize,
            width: r.attachmentWidth,
            height: r.attachmentHeight,
            expiresAt: dbDate(r.attachmentExpiresAt, timezone),
            expiredAt: dbDate(r.attachmentExpiredAt, timezone),
          },
  }));
}

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
