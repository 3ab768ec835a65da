import type { QueryInterface } from 'sequelize';

/*
 * Issue 14: message search. Each database gets its own full-text index, kept true by the database itself, so that
 * every path that writes messages (the group commit's multi-row INSERT, edits, deletes, room deletion's cascade,
 * a migration) keeps it true without the application's help:
 * - SQLite: an FTS5 table over messages.text (external content: the text is not stored twice) with the unicode61
 *   tokenizer folding case and diacritics (`remove_diacritics 2`) and prefix indexes, kept by triggers. Only live text and image
 *   messages are in it: system messages and deleted ones never match.
 * - PostgreSQL: a stored generated tsvector of the folded text ('simple' configuration: no stemming, no stop words)
 *   with a GIN index. The fold is an immutable SQL function (NFD, combining marks stripped, ASCII punctuation to
 *   spaces, lower case) rather than the `unaccent` extension, which the application's role may not be allowed to
 *   install. Deleted messages have empty text, so an empty vector; the search query excludes system messages.
 * Both are built for the existing rows here (an INSERT … SELECT of the live rows; the generated column's rewrite).
 */

/** The indexed rows: what the search may find. Deleted messages keep their row with text '' (service.ts). */
const INDEXED = (row: string) => `${row}.kind <> 'system' AND ${row}."deletedAt" IS NULL`;

const SQLITE_UP = [
  // Prefix indexes for prefixes of 1 to 6 characters: the last word of a query is a prefix, and without an index of
  // its length FTS5 merges the doclists of every term it starts with before the first row comes out (74 ms for
  // `quick b*` on 1,000,000 messages; seconds for a common letter on real text); with one it walks that doclist
  // newest first and stops at the page (0.2–0.4 ms). The index is ~4× larger (213 vs 51 MB per million messages).
  `CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id',
     tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3 4 5 6')`,
  // External content: FTS5 must be told the exact text it indexed to remove a row, hence the old.* values and the
  // same condition on both sides.
  `CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN ${INDEXED('new')} BEGIN
     INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
   END`,
  `CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN ${INDEXED('old')} BEGIN
     INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
   END`,
  // One trigger, two statements, so that the old entry always goes before the new one comes.
  `CREATE TRIGGER messages_fts_update AFTER UPDATE OF text, kind, "deletedAt" ON messages BEGIN
     INSERT INTO messages_fts (messages_fts, rowid, text) SELECT 'delete', old.id, old.text WHERE ${INDEXED('old')};
     INSERT INTO messages_fts (rowid, text) SELECT new.id, new.text WHERE ${INDEXED('new')};
   END`,
];

/*
 * Combining marks of the blocks Latin, Greek and Cyrillic text uses (U+0300–036F, 1AB0–1AFF, 1DC0–1DFF, 20D0–20FF,
 * FE20–FE2F): what unicode61's remove_diacritics removes from those scripts.
 */
const PG_FOLD = `CREATE OR REPLACE FUNCTION parley_search_fold(t text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lower(regexp_replace(regexp_replace(normalize(t, NFD),
      '[\\u0300-\\u036f\\u1ab0-\\u1aff\\u1dc0-\\u1dff\\u20d0-\\u20ff\\ufe20-\\ufe2f]', '', 'g'),
      '[!-/:-@[-\`{-~]+', ' ', 'g'))
  $$`;

const PG_UP = [
  PG_FOLD,
  `ALTER TABLE messages ADD COLUMN "searchVector" tsvector
     GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, parley_search_fold(text))) STORED`,
  `CREATE INDEX messages_search ON messages USING gin ("searchVector")`,
];

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  const sqlite = qi.sequelize.getDialect() === 'sqlite';
  for (const sql of sqlite ? SQLITE_UP : PG_UP) await qi.sequelize.query(sql);
  if (sqlite) {
    // The existing rows, by the same rule as the triggers (a 'rebuild' would index every row of messages).
    await qi.sequelize.query(
      `INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages WHERE ${INDEXED('messages')}`,
    );
  }
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  if (qi.sequelize.getDialect() === 'sqlite') {
    for (const name of ['insert', 'delete', 'update'])
      await qi.sequelize.query(`DROP TRIGGER IF EXISTS messages_fts_${name}`);
    await qi.sequelize.query('DROP TABLE IF EXISTS messages_fts');
  } else {
    await qi.sequelize.query('DROP INDEX IF EXISTS messages_search');
    await qi.sequelize.query('ALTER TABLE messages DROP COLUMN IF EXISTS "searchVector"');
    await qi.sequelize.query('DROP FUNCTION IF EXISTS parley_search_fold(text)');
  }
}
