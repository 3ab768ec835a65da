import type { Attachment as AttachmentDto, Message as MessageDto } from '@parley/protocol';
import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Message } from '../../db/models.js';
import { iso, sid } from '../../http/present.js';
import { presentAttachment } from '../uploads/presenter.js';
import { decodeMentions } from './mentions.js';
import { presentUser, type UserFields } from '../users/presenter.js';
import type { UploadUrls } from '../uploads/urls.js';
import { dbTimezone } from '../../db/rows.js';
import { toMessageRecords, type MessageFields, type MessageRecord, type MessageRow } from './repo.js';

/*
 * The one place a Message DTO is built: presentMessage. The others only gather its inputs: presentRecord from the
 * repo's typed rows (history, search, gap recovery), presentMessages from model instances (the write path).
 */

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
    // Issue 16: filled by the reactions and replies work (the helper that builds them replaces these two).
    reactions: [],
    replyTo: null,
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

/** A typed record from the repo (a history page, search, gap recovery) as the client sees it. */
export function presentRecord(r: MessageRecord, urls: UploadUrls): MessageDto {
  return presentMessage(r.message, r.author, r.attachment ? presentAttachment(r.attachment, urls) : null);
}

/** Presents rows read with MESSAGE_ROW_COLUMNS (repo.ts): the same answer presentMessages gives for them. */
export function presentMessageRows(ctx: AppContext, rows: MessageRow[]): MessageDto[] {
  return toMessageRecords(rows, dbTimezone(ctx.db)).map((r) => presentRecord(r, ctx.uploads.urls));
}
