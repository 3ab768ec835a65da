import { LIMITS, type SearchResults } from '@parley/protocol';
import type { AppContext } from '../../context.js';
import type { User } from '../../db/models.js';
import { presentMessageRows } from '../messages/presenter.js';
import { MESSAGE_ROW_COLUMNS, MESSAGE_ROW_JOINS, type MessageRow } from '../messages/repo.js';
import { loadVisibleRoom } from '../rooms/queries.js';
import { fts5Query, searchTerms, snippet, tsQuery } from './terms.js';

export interface SearchQuery {
  q: string;
  roomId?: string;
  before?: string;
  limit?: number;
}

/**
 * GET /api/search: messages matching every word of `q` (the last one as a prefix), newest first, keyset-paged by
 * message id (`before`). Scope: the rooms and DMs the caller is a member of, or the one room `roomId` they may read
 * (a public room they have not joined included; any other room answers 404 like a missing one). Public rooms one
 * has not joined are not searched without `roomId`: "find" means one's own conversations, and a search over every
 * public room would cost as much as the whole table. Deleted and system messages never match (migration 005 keeps
 * them out of the index, or out of the query).
 */
export async function searchMessages(ctx: AppContext, user: User, q: SearchQuery): Promise<SearchResults> {
  const limit = q.limit ?? LIMITS.searchDefault;
  const roomId = q.roomId === undefined ? undefined : Number(q.roomId);
  if (roomId !== undefined) await loadVisibleRoom(ctx, user, roomId);
  const terms = searchTerms(q.q);
  // Punctuation only: a valid question with no word in it, so no answer.
  if (!terms.length) return { results: [], hasMore: false };

  const scope =
    roomId !== undefined
      ? 'msg."roomId" = $roomId'
      : 'msg."roomId" IN (SELECT "roomId" FROM memberships WHERE "userId" = $userId)';
  // Only the parameters the SQL names: SQLite's driver refuses one it does not.
  const params: Record<string, unknown> = {
    take: limit + 1,
    ...(roomId !== undefined ? { roomId } : { userId: user.id }),
    ...(q.before !== undefined && { before: Number(q.before) }),
  };
  let rows: MessageRow[];
  if (ctx.db.dialect === 'sqlite') {
    // FTS5 walks its index in rowid order, newest first, and stops at the page: ORDER BY and the rowid range are
    // handed to it rather than sorted afterwards. CROSS JOIN keeps it the outer loop (SQLite does not reorder
    // one): with messages outside, a member of big rooms would have each of their messages looked up in the index.
    rows = await ctx.db.read<MessageRow>(
      `SELECT ${MESSAGE_ROW_COLUMNS}
         FROM messages_fts
         CROSS JOIN messages msg ON msg.id = messages_fts.rowid
         ${MESSAGE_ROW_JOINS}
        WHERE messages_fts MATCH $match ${q.before !== undefined ? 'AND messages_fts.rowid < $before' : ''}
          AND ${scope} AND msg.kind <> 'system' AND msg."deletedAt" IS NULL
        ORDER BY messages_fts.rowid DESC
        LIMIT $take`,
      { ...params, match: fts5Query(terms) },
    );
  } else {
    rows = await ctx.db.read<MessageRow>(
      `SELECT ${MESSAGE_ROW_COLUMNS}
         FROM messages msg
         ${MESSAGE_ROW_JOINS}
        WHERE msg."searchVector" @@ to_tsquery('simple', $match) ${q.before !== undefined ? 'AND msg.id < $before' : ''}
          AND ${scope} AND msg.kind <> 'system' AND msg."deletedAt" IS NULL
        ORDER BY msg.id DESC
        LIMIT $take`,
      { ...params, match: tsQuery(terms) },
    );
  }
  const hasMore = rows.length > limit;
  const page = rows.slice(0, limit);
  const messages = presentMessageRows(ctx, page);
  return {
    results: messages.map((message, i) => ({ message, snippet: snippet(page[i]!.text, terms) })),
    hasMore,
  };
}
