import { DataTypes, type QueryInterface } from 'sequelize';

/*
 * Room bans (contract v2): an owner's kick records one, and a ban keeps the user from rejoining or from editing
 * their messages there. One row per (room, user), the primary key, so a ban recorded twice stays one row; it goes
 * with its room and with its user.
 */

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('room_bans', {
    roomId: {
      type: DataTypes.INTEGER,
      allowNull: false,
      primaryKey: true,
      references: { model: 'rooms', key: 'id' },
      onDelete: 'CASCADE',
    },
    userId: {
      type: DataTypes.INTEGER,
      allowNull: false,
      primaryKey: true,
      references: { model: 'users', key: 'id' },
      onDelete: 'CASCADE',
    },
    bannedById: {
      type: DataTypes.INTEGER,
      allowNull: true,
      references: { model: 'users', key: 'id' },
      onDelete: 'SET NULL',
    },
    createdAt: { type: DataTypes.DATE, allowNull: false },
  });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.dropTable('room_bans');
}
