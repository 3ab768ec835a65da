import { DataTypes, type QueryInterface } from 'sequelize';

/*
 * Reactions and replies (contract v2, issue 16).
 * - message_reactions: one row per (message, user, emoji), the truth. Its own id orders the reactions: the order
 *   each emoji was first added, and each emoji's users in the order they reacted. It goes with its message (room
 *   deletion) and with its user.
 * - messages.reactions: the denormalised summary the presenter shows (JSON of the Reaction[]; '' for none),
 *   rewritten from the table in the transaction that changes it, under the message's row lock, so that reading
 *   history needs no extra query (issue 15's read path).
 * - messages.replyToId: the message this one answers (same room). No foreign key: a parent is only ever removed
 *   with its room, replies included, and a self-reference would make SQLite look every deleted row's replies up.
 *   A partial index finds a message's replies (their quotes follow the parent) and costs nothing to other inserts.
 */

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('message_reactions', {
    id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
    messageId: {
      type: DataTypes.BIGINT,
      allowNull: false,
      references: { model: 'messages', key: 'id' },
      onDelete: 'CASCADE',
    },
    userId: {
      type: DataTypes.INTEGER,
      allowNull: false,
      references: { model: 'users', key: 'id' },
      onDelete: 'CASCADE',
    },
    emoji: { type: DataTypes.STRING(64), allowNull: false },
    createdAt: { type: DataTypes.DATE, allowNull: false },
  });
  await qi.addIndex('message_reactions', ['messageId', 'userId', 'emoji'], {
    name: 'message_reactions_unique',
    unique: true,
  });
  await qi.addIndex('message_reactions', ['userId'], { name: 'message_reactions_user' });
  await qi.addColumn('messages', 'reactions', { type: DataTypes.TEXT, allowNull: false, defaultValue: '' });
  await qi.addColumn('messages', 'replyToId', { type: DataTypes.BIGINT, allowNull: true });
  await qi.sequelize.query(
    'CREATE INDEX messages_reply_to ON messages ("replyToId") WHERE "replyToId" IS NOT NULL',
  );
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.sequelize.query('DROP INDEX IF EXISTS messages_reply_to');
  await qi.removeColumn('messages', 'replyToId');
  await qi.removeColumn('messages', 'reactions');
  await qi.dropTable('message_reactions');
}
