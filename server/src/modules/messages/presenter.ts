import type { Attachment as AttachmentDto, Message as MessageDto } from '@parley/protocol';
import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Message } from '../../db/models.js';
import { iso, sid } from '../../http/present.js';
import { presentAttachment } from '../uploads/presenter.js';
import { decodeMentions } from './mentions.js';
import { presentUser, type UserFields } from '../users/presenter.js';

/** The columns presentMessage reads (a model instance or a raw row both fit). */
type MessageFields = Pick<
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

/** Allowlist of what clients see of a message. A deleted message keeps its place but loses its content. */
export function presentMessage(
  m: MessageFields,
  author: UserFields | null,
  attachment: AttachmentDto | null,
): MessageDto {
  const deleted = m.deletedAt !== null;
  return {
    id: sid(m.id),
    roomId: sid(m.roomId),
    kind: m.kind,
    author: author ? presentUser(author) : null,
    text: deleted ? '' : m.text,
    attachment: deleted ? null : attachment,
    event: m.event,
    clientId: m.clientId,
    createdAt: iso(m.createdAt),
    editedAt: iso(m.editedAt),
    deleted,
    // A deleted message names nobody any more, as it says nothing.
    mentions: deleted ? [] : decodeMentions(m.mentions),
  };
}

/** Presents a page of messages with two extra queries (authors, attachments) whatever the page size. */
export async function presentMessages(
  ctx: AppContext,
  rows: Message[],
  t?: Transaction,
): Promise<MessageDto[]> {
  const authorIds = [...new Set(rows.map((m) => m.authorId).filter((id): id is number => id !== null))];
  const attachmentIds = [
    ...new Set(rows.map((m) => m.attachmentId).filter((id): id is string => id !== null)),
  ];
  const [authors, attachments] = await Promise.all([
    authorIds.length ? ctx.models.User.findAll({ where: { id: authorIds }, transaction: t }) : [],
    attachmentIds.length
      ? ctx.models.Attachment.findAll({ where: { id: attachmentIds }, transaction: t })
      : [],
  ]);
  const userById = new Map(authors.map((u) => [u.id, u]));
  const attById = new Map(attachments.map((a) => [a.id, a]));
  return rows.map((m) =>
    presentMessage(
      m,
      m.authorId === null ? null : (userById.get(m.authorId) ?? null),
      m.attachmentId !== null && attById.has(m.attachmentId)
        ? presentAttachment(attById.get(m.attachmentId)!, ctx.uploads.urls)
        : null,
    ),
  );
}

/**
 * The columns MESSAGE_ROW_COLUMNS selects: a message with its author (`users u`) and attachment (`attachments a`)
 * joined, as the driver hands them back (no model instances: a page is 51 of them).
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

/**
 * A date column as a model would read it. PostgreSQL's driver already gives a Date; SQLite gives the text Sequelize
 * wrote, and a text without an offset is read in the connection's time zone, as Sequelize's DATE parser does.
 */
function dbDate(value: Date | string, timezone: string): Date;
function dbDate(value: Date | string | null, timezone: string): Date | null;
function dbDate(value: Date | string | null, timezone: string): Date | null {
  if (value === null || value instanceof Date) return value;
  return new Date(value.includes('+') ? value : value + timezone);
}

/** Presents rows read with MESSAGE_ROW_COLUMNS: the same answer presentMessages gives for the same messages. */
export function presentMessageRows(ctx: AppContext, rows: MessageRow[]): MessageDto[] {
  const { timezone } = (ctx.db.sequelize as unknown as { options: { timezone?: string } }).options;
  const tz = timezone ?? '+00:00';
  return rows.map((r) =>
    presentMessage(
      {
        // Ids pass through as the driver gave them (PostgreSQL's BIGINT is a string): sid() prints either.
        id: r.id as number,
        roomId: r.roomId as number,
        kind: r.kind,
        text: r.text,
        event: r.event,
        clientId: r.clientId,
        createdAt: dbDate(r.createdAt, tz),
        editedAt: dbDate(r.editedAt, tz),
        deletedAt: dbDate(r.deletedAt, tz),
        mentions: r.mentions ?? '',
      },
      r.authorId === null
        ? null
        : {
            id: r.authorId,
            username: r.authorUsername,
            displayName: r.authorDisplayName,
            avatarAttachmentId: r.authorAvatarAttachmentId,
            isGuest: Boolean(r.authorIsGuest),
            createdAt: dbDate(r.authorCreatedAt, tz),
            releasedAt: dbDate(r.authorReleasedAt, tz),
          },
      r.attachmentId === null
        ? null
        : presentAttachment(
            {
              id: r.attachmentId,
              mime: r.attachmentMime,
              size: r.attachmentSize,
              width: r.attachmentWidth,
              height: r.attachmentHeight,
              expiresAt: dbDate(r.attachmentExpiresAt, tz),
              expiredAt: dbDate(r.attachmentExpiredAt, tz),
            },
            ctx.uploads.urls,
          ),
    ),
  );
}
