import { LIMITS } from '@parley/protocol';
import { dbDate } from '../../db/rows.js';
import type { Message } from '../../db/models.js';
import type { AttachmentFields } from '../uploads/presenter.js';
import type { UserFields } from '../users/presenter.js';

/*
 * The joined message row every read of messages shares (history pages, search, gap recovery, the write path's
 * re-reads): its select list, its joins (author, attachment, and the message it answers with that one's author),
 * and its typing into the records the presenter takes. The statements that use it live in repo.ts.
 */

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
  | 'reactions'
>;

/** The message a reply answers, as its quote needs it (messages.ts presenter cuts the text). */
export interface ParentFields {
  id: number | string;
  text: string;
  deletedAt: Date | null;
  author: UserFields | null;
}

/** A message with its author, attachment and the message it answers, typed: what the one presenter takes. */
export interface MessageRecord {
  message: MessageFields;
  author: UserFields | null;
  attachment: AttachmentFields | null;
  parent: ParentFields | null;
}

/** A user's columns as a joined row carries them, under a prefix (`author…`, `parentAuthor…`). */
type UserRow<P extends string> = { [K in keyof UserColumns as `${P}${K}`]: UserColumns[K] };
interface UserColumns {
  Id: number | null;
  Username: string;
  DisplayName: string;
  AvatarAttachmentId: string | null;
  IsGuest: boolean | number;
  CreatedAt: Date | string;
  ReleasedAt: Date | string | null;
}

/** Select list of a joined user `alias` as UserRow<prefix>. */
const userColumns = (alias: string, prefix: string) =>
  `${alias}.id AS "${prefix}Id", ${alias}.username AS "${prefix}Username",
  ${alias}."displayName" AS "${prefix}DisplayName", ${alias}."avatarAttachmentId" AS "${prefix}AvatarAttachmentId",
  ${alias}."isGuest" AS "${prefix}IsGuest", ${alias}."createdAt" AS "${prefix}CreatedAt",
  ${alias}."releasedAt" AS "${prefix}ReleasedAt"`;

/** Types a joined user of a row (null when the join found none). */
function toUser(r: Record<string, unknown>, prefix: string, timezone: string): UserFields | null {
  if (r[`${prefix}Id`] === null || r[`${prefix}Id`] === undefined) return null;
  return {
    id: r[`${prefix}Id`] as number,
    username: r[`${prefix}Username`] as string,
    displayName: r[`${prefix}DisplayName`] as string,
    avatarAttachmentId: r[`${prefix}AvatarAttachmentId`] as string | null,
    isGuest: Boolean(r[`${prefix}IsGuest`]),
    createdAt: dbDate(r[`${prefix}CreatedAt`] as Date | string, timezone),
    releasedAt: dbDate(r[`${prefix}ReleasedAt`] as Date | string | null, timezone),
  };
}

/**
 * The parent's columns a reply's quote reads (`p`, its author `pu`): only the first characters of its text, cut by
 * the database (both count characters, as the presenter does).
 */
export const PARENT_COLUMNS = `p.id AS "parentId", SUBSTR(p.text, 1, ${LIMITS.replyQuoteMax}) AS "parentText",
  p."deletedAt" AS "parentDeletedAt", ${userColumns('pu', 'parentAuthor')}`;

export interface ParentRow extends UserRow<'parentAuthor'> {
  parentId: number | string | null;
  parentText: string | null;
  parentDeletedAt: Date | string | null;
}

/** Types the parent columns of a row (null when it answers nothing). */
export function toParent(r: ParentRow, timezone: string): ParentFields | null {
  if (r.parentId === null) return null;
  return {
    id: r.parentId,
    text: r.parentText ?? '',
    deletedAt: dbDate(r.parentDeletedAt, timezone),
    author: toUser(r as unknown as Record<string, unknown>, 'parentAuthor', timezone),
  };
}

/**
 * The columns MESSAGE_ROW_COLUMNS selects: a message with its author (`users u`) and attachment (`attachments a`)
 * joined, as the driver hands them back. {@link toMessageRecords} types them.
 */
export interface MessageRow extends ParentRow {
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
  reactions: string | null;
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

/**
 * Select list for MessageRow, over `msg` (messages) left-joined with `u` (its author), `a` (its attachment), `p`
 * (the message it answers) and `pu` (that one's author). Reactions come from the summary column: no extra query.
 */
export const MESSAGE_ROW_COLUMNS = `msg.id AS "id", msg."roomId" AS "roomId", msg.kind AS "kind", msg.text AS "text",
  msg.event AS "event", msg."clientId" AS "clientId", msg."deletedAt" AS "deletedAt", msg."editedAt" AS "editedAt",
  msg."createdAt" AS "createdAt", msg.mentions AS "mentions", msg.reactions AS "reactions",
  ${userColumns('u', 'author')}, ${PARENT_COLUMNS},
  a.id AS "attachmentId", a.mime AS "attachmentMime", a.size AS "attachmentSize", a.width AS "attachmentWidth",
  a.height AS "attachmentHeight", a."expiresAt" AS "attachmentExpiresAt", a."expiredAt" AS "attachmentExpiredAt"`;

/** The joins MESSAGE_ROW_COLUMNS reads, after a `msg` (messages) source. */
export const MESSAGE_ROW_JOINS = `LEFT JOIN users u ON u.id = msg."authorId"
       LEFT JOIN attachments a ON a.id = msg."attachmentId"
       LEFT JOIN messages p ON p.id = msg."replyToId"
       LEFT JOIN users pu ON pu.id = p."authorId"`;

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
      reactions: r.reactions ?? '',
    },
    author: toUser(r as unknown as Record<string, unknown>, 'author', timezone),
    parent: toParent(r, timezone),
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
