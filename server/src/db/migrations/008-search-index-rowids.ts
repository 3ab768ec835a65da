import type { QueryInterface } from 'sequelize';

/*
 * Issue 15 (ingest): SQLite's search index keeps rowids only. 005-search built `messages_fts` with FTS5's default
 * `detail=full` (every token's row, column and position) and a per-row size table (`columnsize=1`). The search uses
 * neither: a query is single words joined by AND, the last one a prefix, ordered by rowid; no phrase, no NEAR, no
 * bm25, and the snippet is made in the application (search/terms.ts). Positions cost the group commit a third of
 * its database time (400 messages: ~14 ms of FTS5 work a batch with positions, ~3 ms without; DECISIONS D34), so
 * the index is rebuilt with `detail=none, columnsize=0`: the same words, the same prefix indexes, rowids only.
 * The triggers are 005's, recreated on the new table. PostgreSQL's index (a tsvector column) is unchanged.
 */

/** The indexed rows: what the search may find (as in 005-search). */
const INDEXED = (row: string) => `${row}.kind <> 'system' AND ${row}."deletedAt" IS NULL`;

/** 005's triggers; external content must be told exactly what it indexed, hence the same condition both ways. */
const TRIGGERS = [
  `CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN ${INDEXED('new')} BEGIN
     INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
   END`,
  `CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN ${INDEXED('old')} BEGIN
     INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
   END`,
  `CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, kind, "deletedAt" ON messages BEGIN
     INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', old.id, old.text WHERE ${INDEXED('old')};
     INSERT INTO messages_fts (rowid, text) SELECT new.id, new.text WHERE ${INDEXED('new')};
   END`,
];

/** Replaces `messages_fts` with one of the given FTS5 options, indexing the live rows again. */
async function rebuild(qi: QueryInterface, options: string): Promise<void> {
  const q = (sql: string) => qi.sequelize.query(sql);
  for (const name of ['insert', 'delete', 'update']) await q(`DROP TRIGGER IF EXISTS messages_fts_${name}`);
  await q('DROP TABLE IF EXISTS messages_fts');
  await q(`CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id',
     tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4 5 6'${options})`);
  for (const sql of TRIGGERS) await q(sql);
  await q(
    `INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE ${INDEXED('messages')}`,
  );
}

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  if (qi.sequelize.getDialect() === 'sqlite') await rebuild(qi, ', detail = none, columnsize = 0');
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  if (qi.sequelize.getDialect() === 'sqlite') await rebuild(qi, '');
}
