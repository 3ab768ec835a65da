import { DataTypes, type QueryInterface } from 'sequelize';

/*
 * The first schema. Frozen: later changes get a migration of their own, never an edit here.
 * History reads `(roomId, id)` ranges, so that index is what keeps paging fast on a room with millions of rows.
 */

const ref = (table: string, onDelete: 'CASCADE' | 'SET NULL', allowNull = false) => ({
  type: DataTypes.INTEGER,
  allowNull,
  references: { model: table, key: 'id' },
  onDelete,
});
const date = (allowNull = true) => ({ type: DataTypes.DATE, allowNull });
const str = (len: number, allowNull = false) => ({ type: DataTypes.STRING(len), allowNull });

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('users', {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    username: str(32),
    usernameKey: { ...str(64), unique: true },
    usernameSkeleton: { ...str(64), unique: true },
    displayName: str(64),
    email: { ...str(254, true), unique: true },
    passwordHash: str(255, true),
    isGuest: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
    avatarAttachmentId: str(64, true),
    lastSeenAt: date(),
    releasedAt: date(),
    createdAt: date(false),
    updatedAt: date(false),
  });
  await qi.createTable('sessions', {
    id: { type: DataTypes.STRING(36), primaryKey: true },
    userId: ref('users', 'CASCADE'),
    generation: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    expiresAt: date(false),
    revokedAt: date(),
    revokedReason: str(32, true),
    userAgent: str(256, true),
    createdAt: date(false),
    updatedAt: date(false),
  });
  await qi.addIndex('sessions', ['userId']);
  await qi.createTable('rooms', {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    name: str(64),
    nameKey: { ...str(128, true), unique: true },
    description: { type: DataTypes.STRING(500), allowNull: false, defaultValue: '' },
    kind: str(16),
    ownerId: ref('users', 'SET NULL', true),
    directKey: { ...str(64, true), unique: true },
    memberCount: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
    lastMessageId: { type: DataTypes.BIGINT, allowNull: true },
    lastMessageAt: date(),
    createdAt: date(false),
    updatedAt: date(false),
  });
  await qi.createTable('memberships', {
    roomId: { ...ref('rooms', 'CASCADE'), primaryKey: true },
    userId: { ...ref('users', 'CASCADE'), primaryKey: true },
    role: str(8),
    joinedAt: date(false),
    lastReadMessageId: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
  });
  await qi.addIndex('memberships', ['userId']);
  await qi.createTable('attachments', {
    id: { type: DataTypes.STRING(64), primaryKey: true },
    ownerId: ref('users', 'CASCADE'),
    messageId: { type: DataTypes.BIGINT, allowNull: true },
    roomId: ref('rooms', 'CASCADE', true),
    mime: str(32),
    size: { type: DataTypes.INTEGER, allowNull: false },
    width: { type: DataTypes.INTEGER, allowNull: false },
    height: { type: DataTypes.INTEGER, allowNull: false },
    storageKey: str(128),
    thumbnailKey: str(128),
    expiresAt: date(false),
    expiredAt: date(),
    createdAt: date(false),
  });
  await qi.addIndex('attachments', ['expiresAt']);
  await qi.createTable('messages', {
    id: { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true },
    roomId: ref('rooms', 'CASCADE'),
    authorId: ref('users', 'SET NULL', true),
    kind: str(8),
    text: { type: DataTypes.TEXT, allowNull: false, defaultValue: '' },
    event: str(16, true),
    clientId: str(64, true),
    attachmentId: {
      type: DataTypes.STRING(64),
      allowNull: true,
      references: { model: 'attachments', key: 'id' },
    },
    editedAt: date(),
    deletedAt: date(),
    createdAt: date(false),
  });
  await qi.addIndex('messages', ['roomId', 'id'], { name: 'messages_room_id' });
  await qi.addIndex('messages', ['authorId', 'clientId'], { name: 'messages_author_client', unique: true });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  for (const table of ['messages', 'attachments', 'memberships', 'rooms', 'sessions', 'users']) {
    await qi.dropTable(table);
  }
}
