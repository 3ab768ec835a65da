import { DataTypes, type QueryInterface } from 'sequelize';

/*
 * Mentions and notification levels (contract v2, issue 14).
 * - messages.mentions: the ids of the members a message names, as `,12,34,` (empty: none). A column rather than a
 *   table: every read of a message (history is one query) gets it without a join or a second query, and a room's
 *   mention count is a filter on the same unread scan that counts its unread messages (rooms/queries.ts), where
 *   the delimited form lets `LIKE '%,<id>,%'` match one id exactly.
 * - memberships.notifications: the member's level for the room, `all` unless they chose `mentions` or `none`.
 */

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.addColumn('messages', 'mentions', { type: DataTypes.TEXT, allowNull: false, defaultValue: '' });
  await qi.addColumn('memberships', 'notifications', {
    type: DataTypes.STRING(8),
    allowNull: false,
    defaultValue: 'all',
  });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeColumn('memberships', 'notifications');
  await qi.removeColumn('messages', 'mentions');
}
