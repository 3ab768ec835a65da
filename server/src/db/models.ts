import {
  DataTypes,
  Model,
  type CreationOptional,
  type ForeignKey,
  type InferAttributes,
  type InferCreationAttributes,
  type Sequelize,
} from 'sequelize';

/*
 * The Sequelize models. The schema itself is owned by the migrations in ./migrations; these classes only map it.
 * Integer ids are exposed as decimal strings on the wire (see presenters).
 */

export class User extends Model<InferAttributes<User>, InferCreationAttributes<User>> {
  declare id: CreationOptional<number>;
  declare username: string;
  /** Lower-cased NFKC username; unique. A released guest name is moved aside to `~<id>`. */
  declare usernameKey: string;
  /**
   * UTS #39 skeleton of the username without separators (names/skeleton.ts); unique. Look-alikes are refused by the
   * claims in name_claims; this column mirrors the key (`~<id>` for a released guest or a name kept from before).
   */
  declare usernameSkeleton: string;
  declare displayName: string;
  declare email: string | null;
  declare passwordHash: string | null;
  declare isGuest: boolean;
  declare avatarAttachmentId: string | null;
  declare lastSeenAt: Date | null;
  declare releasedAt: Date | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class Session extends Model<InferAttributes<Session>, InferCreationAttributes<Session>> {
  declare id: string;
  declare userId: ForeignKey<number>;
  /** Which refresh token of this family is current; each refresh moves it on by one. */
  declare generation: number;
  declare expiresAt: Date;
  declare revokedAt: Date | null;
  declare revokedReason: string | null;
  declare userAgent: string | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class Room extends Model<InferAttributes<Room>, InferCreationAttributes<Room>> {
  declare id: CreationOptional<number>;
  declare name: string;
  /** Lower-cased NFKC name, unique among non-direct rooms; null for direct rooms. */
  declare nameKey: string | null;
  /**
   * Digest of the room name's confusable skeleton (names/claims.ts), unique: `general` and `gеneral` (Cyrillic е)
   * cannot both exist. Null for direct rooms and for look-alikes created before it was enforced.
   */
  declare nameSkeleton: CreationOptional<string | null>;
  declare description: string;
  declare kind: 'public' | 'private' | 'direct';
  declare ownerId: number | null;
  /** `<low user id>:<high user id>` for direct rooms, so a pair always has exactly one. */
  declare directKey: string | null;
  declare memberCount: number;
  declare lastMessageId: number | null;
  declare lastMessageAt: Date | null;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

/** A name key (digest of a skeleton) held by a user: its username's, and its display name's when that differs. */
export class NameClaim extends Model<InferAttributes<NameClaim>, InferCreationAttributes<NameClaim>> {
  declare key: string;
  declare userId: number;
  declare kind: 'username' | 'display';
}

export class Membership extends Model<InferAttributes<Membership>, InferCreationAttributes<Membership>> {
  declare roomId: number;
  declare userId: number;
  declare role: 'owner' | 'member';
  declare joinedAt: Date;
  declare lastReadMessageId: number;
  /** Which of the room's messages notify this member (migration 005). */
  declare notifications: CreationOptional<'all' | 'mentions' | 'none'>;
}

/** An owner's kick: the user may not rejoin the room, nor edit or delete their messages there, until unbanned. */
export class RoomBan extends Model<InferAttributes<RoomBan>, InferCreationAttributes<RoomBan>> {
  declare roomId: number;
  declare userId: number;
  declare bannedById: number | null;
  declare createdAt: CreationOptional<Date>;
}

export class Message extends Model<InferAttributes<Message>, InferCreationAttributes<Message>> {
  declare id: CreationOptional<number>;
  declare roomId: number;
  declare authorId: number | null;
  declare kind: 'text' | 'image' | 'system';
  declare text: string;
  declare event: 'joined' | 'left' | 'kicked' | 'room_renamed' | null;
  declare clientId: string | null;
  declare attachmentId: string | null;
  declare editedAt: Date | null;
  declare deletedAt: Date | null;
  /** The members it mentions, as `,12,34,` (messages/mentions.ts); empty for none. */
  declare mentions: CreationOptional<string>;
  /** Its reactions as the client sees them (JSON of Reaction[]; '' for none): messages/reactions.ts keeps it. */
  declare reactions: CreationOptional<string>;
  /** The message of the same room it answers. */
  declare replyToId: CreationOptional<number | null>;
  declare createdAt: CreationOptional<Date>;
}

export class Attachment extends Model<InferAttributes<Attachment>, InferCreationAttributes<Attachment>> {
  declare id: string;
  declare ownerId: number;
  declare messageId: number | null;
  declare roomId: number | null;
  declare mime: string;
  declare size: number;
  declare width: number;
  declare height: number;
  declare storageKey: string;
  declare thumbnailKey: string;
  declare expiresAt: Date;
  declare expiredAt: Date | null;
  declare createdAt: CreationOptional<Date>;
}

export interface Models {
  User: typeof User;
  Session: typeof Session;
  Room: typeof Room;
  Membership: typeof Membership;
  RoomBan: typeof RoomBan;
  Message: typeof Message;
  Attachment: typeof Attachment;
  NameClaim: typeof NameClaim;
}

const id = { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true };
const bigId = { type: DataTypes.BIGINT, autoIncrement: true, primaryKey: true };
const date = (allowNull = true) => ({ type: DataTypes.DATE, allowNull });
const str = (len: number, allowNull = false) => ({ type: DataTypes.STRING(len), allowNull });

// Names for the base classes, so that initModels can declare per-connection subclasses with the same names.
const UserModel = User;
const SessionModel = Session;
const RoomModel = Room;
const MembershipModel = Membership;
const RoomBanModel = RoomBan;
const MessageModel = Message;
const AttachmentModel = Attachment;
const NameClaimModel = NameClaim;

/** Maps the models onto `sequelize`. Call once per connection. */
export function initModels(sequelize: Sequelize): Models {
  // Model.init binds a class to one Sequelize instance, so each connection gets subclasses of its own: two apps in
  // one process (a test with a second server) would otherwise share, and close, each other's connection.
  const User = class User extends UserModel {};
  const Session = class Session extends SessionModel {};
  const Room = class Room extends RoomModel {};
  const Membership = class Membership extends MembershipModel {};
  const RoomBan = class RoomBan extends RoomBanModel {};
  const Message = class Message extends MessageModel {};
  const Attachment = class Attachment extends AttachmentModel {};
  const NameClaim = class NameClaim extends NameClaimModel {};
  User.init(
    {
      id,
      username: str(32),
      usernameKey: str(64),
      usernameSkeleton: str(64),
      displayName: str(64),
      email: str(254, true),
      passwordHash: str(255, true),
      isGuest: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      avatarAttachmentId: str(64, true),
      lastSeenAt: date(),
      releasedAt: date(),
      createdAt: date(false),
      updatedAt: date(false),
    },
    { sequelize, tableName: 'users' },
  );
  Session.init(
    {
      id: { type: DataTypes.STRING(36), primaryKey: true },
      userId: { type: DataTypes.INTEGER, allowNull: false },
      generation: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      expiresAt: date(false),
      revokedAt: date(),
      revokedReason: str(32, true),
      userAgent: str(256, true),
      createdAt: date(false),
      updatedAt: date(false),
    },
    { sequelize, tableName: 'sessions' },
  );
  Room.init(
    {
      id,
      name: str(64),
      nameKey: str(128, true),
      nameSkeleton: str(64, true),
      description: { type: DataTypes.STRING(500), allowNull: false, defaultValue: '' },
      kind: str(16),
      ownerId: { type: DataTypes.INTEGER, allowNull: true },
      directKey: str(64, true),
      memberCount: { type: DataTypes.INTEGER, allowNull: false, defaultValue: 0 },
      lastMessageId: { type: DataTypes.BIGINT, allowNull: true },
      lastMessageAt: date(),
      createdAt: date(false),
      updatedAt: date(false),
    },
    { sequelize, tableName: 'rooms' },
  );
  Membership.init(
    {
      roomId: { type: DataTypes.INTEGER, primaryKey: true },
      userId: { type: DataTypes.INTEGER, primaryKey: true },
      role: str(8),
      joinedAt: date(false),
      lastReadMessageId: { type: DataTypes.BIGINT, allowNull: false, defaultValue: 0 },
      notifications: { type: DataTypes.STRING(8), allowNull: false, defaultValue: 'all' },
    },
    { sequelize, tableName: 'memberships', timestamps: false },
  );
  RoomBan.init(
    {
      roomId: { type: DataTypes.INTEGER, primaryKey: true },
      userId: { type: DataTypes.INTEGER, primaryKey: true },
      bannedById: { type: DataTypes.INTEGER, allowNull: true },
      createdAt: date(false),
    },
    { sequelize, tableName: 'room_bans', updatedAt: false },
  );
  Message.init(
    {
      id: bigId,
      roomId: { type: DataTypes.INTEGER, allowNull: false },
      authorId: { type: DataTypes.INTEGER, allowNull: true },
      kind: str(8),
      text: { type: DataTypes.TEXT, allowNull: false, defaultValue: '' },
      event: str(16, true),
      clientId: str(64, true),
      attachmentId: str(64, true),
      editedAt: date(),
      deletedAt: date(),
      mentions: { type: DataTypes.TEXT, allowNull: false, defaultValue: '' },
      reactions: { type: DataTypes.TEXT, allowNull: false, defaultValue: '' },
      replyToId: { type: DataTypes.BIGINT, allowNull: true },
      createdAt: date(false),
    },
    { sequelize, tableName: 'messages', updatedAt: false },
  );
  Attachment.init(
    {
      id: { type: DataTypes.STRING(64), primaryKey: true },
      ownerId: { type: DataTypes.INTEGER, allowNull: false },
      messageId: { type: DataTypes.BIGINT, allowNull: true },
      roomId: { type: DataTypes.INTEGER, allowNull: true },
      mime: str(32),
      size: { type: DataTypes.INTEGER, allowNull: false },
      width: { type: DataTypes.INTEGER, allowNull: false },
      height: { type: DataTypes.INTEGER, allowNull: false },
      storageKey: str(128),
      thumbnailKey: str(128),
      expiresAt: date(false),
      expiredAt: date(),
      createdAt: date(false),
    },
    { sequelize, tableName: 'attachments', updatedAt: false },
  );
  NameClaim.init(
    {
      key: { type: DataTypes.STRING(64), primaryKey: true },
      userId: { type: DataTypes.INTEGER, allowNull: false },
      kind: str(8),
    },
    { sequelize, tableName: 'name_claims', timestamps: false },
  );
  return { User, Session, Room, Membership, RoomBan, Message, Attachment, NameClaim };
}
