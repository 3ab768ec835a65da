import type { Attachment as AttachmentDto, Message as MessageDto } from '@parley/protocol';
import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import type { Message, User } from '../../db/models.js';
import { iso, sid } from '../../http/present.js';
import { presentAttachment } from '../uploads/presenter.js';
import { presentUser } from '../users/presenter.js';

/** Allowlist of what clients see of a message. A deleted message keeps its place but loses its content. */
export function presentMessage(
  m: Pick<
    Message,
    'id' | 'roomId' | 'kind' | 'text' | 'event' | 'clientId' | 'createdAt' | 'editedAt' | 'deletedAt'
  >,
  author: User | null,
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
