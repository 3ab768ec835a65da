import {
  LIMITS,
  type Attachment as AttachmentDto,
  type Message as MessageDto,
  type Reaction,
  type ReplyTo,
} from '@parley/protocol';
import type { Transaction } from 'sequelize';
import type { AppContext } from '../../context.js';
import { iso, sid } from '../../http/present.js';
import { presentAttachment } from '../uploads/presenter.js';
import { decodeMentions } from './mentions.js';
import { presentUser, type UserFields } from '../users/presenter.js';
import type { UploadUrls } from '../uploads/urls.js';
import { dbTimezone } from '../../db/rows.js';
import {
  messageRecordsById,
  toMessageRecords,
  type MessageFields,
  type MessageRecord,
  type MessageRow,
  type ParentFields,
} from './repo.js';

/*
 * The one place a Message DTO is built: presentMessage. The others only gather its inputs: presentRecord from the
 * repo's typed rows (history, search, gap recovery), presentMessages from ids read again in a transaction (edits,
 * reactions, replayed sends).
 */

/** The first `replyQuoteMax` characters (code points, as the read query's SUBSTR counts them). */
export const quoteOf = (text: string): string => {
  // Most texts are short: the length in UTF-16 units bounds the count of characters.
  if (text.length <= LIMITS.replyQuoteMax) return text;
  return Array.from(text).slice(0, LIMITS.replyQuoteMax).join('');
};

/** The reactions summary column (messages/reactions.ts writes it) as the client sees it. */
const parseReactions = (summary: string): Reaction[] => (summary ? (JSON.parse(summary) as Reaction[]) : []);

/** The quote of the message a reply answers: its current text, none once it is deleted. */
function presentReplyTo(p: ParentFields): ReplyTo {
  const deleted = p.deletedAt !== null;
  return {
    id: sid(p.id),
    author: p.author ? presentUser(p.author) : null,
    text: deleted ? '' : quoteOf(p.text),
    deleted,
  };
}

/**
 * Allowlist of what clients see of a message. A deleted message keeps its place but loses its content: its
 * reactions and the quote of what it answered too.
 */
export function presentMessage(
  m: MessageFields,
  author: UserFields | null,
  attachment: AttachmentDto | null,
  parent: ParentFields | null = null,
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
    reactions: deleted ? [] : parseReactions(m.reactions),
    replyTo: deleted || !parent ? null : presentReplyTo(parent),
  };
}

/**
 * Presents messages read again in `t`, with one query whatever their number (authors, attachments and quotes
 * joined): what the transaction wrote is what it shows. In the order given.
 */
export async function presentMessages(
  ctx: AppContext,
  rows: { id: number | string }[],
  t: Transaction,
): Promise<MessageDto[]> {
  const records = await messageRecordsById(ctx.db, t, [...new Set(rows.map((m) => Number(m.id)))]);
  const byId = new Map(records.map((r) => [Number(r.message.id), presentRecord(r, ctx.uploads.urls)]));
  return rows.map((m) => byId.get(Number(m.id))!);
}

/** A typed record from the repo (a history page, search, gap recovery) as the client sees it. */
export function presentRecord(r: MessageRecord, urls: UploadUrls): MessageDto {
  return presentMessage(
    r.message,
    r.author,
    r.attachment ? presentAttachment(r.attachment, urls) : null,
    r.parent,
  );
}

/** Presents rows read with MESSAGE_ROW_COLUMNS (repo.ts): the same answer presentMessages gives for them. */
export function presentMessageRows(ctx: AppContext, rows: MessageRow[]): MessageDto[] {
  return toMessageRecords(rows, dbTimezone(ctx.db)).map((r) => presentRecord(r, ctx.uploads.urls));
}
