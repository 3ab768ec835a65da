import type { InferAttributes } from 'sequelize';
import { dbDate, dbTimezone } from '../../db/rows.js';
import type { Models, User } from '../../db/models.js';
import type { Db } from '../../db/sequelize.js';

/*
 * The users' data access on the hot paths: the caller of every request and socket event is read here, as a plain
 * typed row on the read connection (db.read), then handed to services as a User instance built from it
 * (Model.build, public API) so that they keep calling `user.update` as before.
 */

/** Every column of `users`, typed as the model types them. */
export type UserRow = InferAttributes<User>;

/** The select list of a UserRow over `users u`, each column under its own name. */
export const USER_ROW_COLUMNS = `u.id AS "id", u.username AS "username", u."usernameKey" AS "usernameKey",
  u."usernameSkeleton" AS "usernameSkeleton", u."displayName" AS "displayName", u.email AS "email",
  u."passwordHash" AS "passwordHash", u."isGuest" AS "isGuest", u."avatarAttachmentId" AS "avatarAttachmentId",
  u."lastSeenAt" AS "lastSeenAt", u."releasedAt" AS "releasedAt", u."createdAt" AS "createdAt",
  u."updatedAt" AS "updatedAt"`;

/** What the driver gives back for USER_ROW_COLUMNS (SQLite: dates as text, booleans as 0/1; ids maybe strings). */
type RawUserRow = Omit<
  UserRow,
  'id' | 'isGuest' | 'lastSeenAt' | 'releasedAt' | 'createdAt' | 'updatedAt'
> & {
  id: number | string;
  isGuest: boolean | number;
  lastSeenAt: Date | string | null;
  releasedAt: Date | string | null;
  createdAt: Date | string;
  updatedAt: Date | string;
};

/** Types a row read with USER_ROW_COLUMNS. */
export function toUserRow(r: RawUserRow, timezone: string): UserRow {
  return {
    ...r,
    id: Number(r.id),
    isGuest: Boolean(r.isGuest),
    lastSeenAt: dbDate(r.lastSeenAt, timezone),
    releasedAt: dbDate(r.releasedAt, timezone),
    createdAt: dbDate(r.createdAt, timezone),
    updatedAt: dbDate(r.updatedAt, timezone),
  };
}

/** The users with these ids (missing ones are left out), one query whatever their number. */
export async function readUsers(db: Db, ids: readonly number[]): Promise<UserRow[]> {
  if (!ids.length) return [];
  const params: Record<string, unknown> = {};
  const list = ids.map((id, i) => ((params[`u${i}`] = id), `$u${i}`)).join(', ');
  const rows = await db.read<RawUserRow>(
    `SELECT ${USER_ROW_COLUMNS} FROM users u WHERE u.id IN (${list})`,
    params,
  );
  const tz = dbTimezone(db);
  return rows.map((r) => toUserRow(r, tz));
}

/** A session with its user, as authentication reads them. */
export interface SessionWithUser {
  userId: number;
  expiresAt: Date;
  revokedAt: Date | null;
  /** Null when the session's user is gone. */
  user: UserRow | null;
}

/** The session `sessionId` and its user, in one query; null for no such session. */
export async function readSessionWithUser(db: Db, sessionId: string): Promise<SessionWithUser | null> {
  const [row] = await db.read<
    {
      sessionUserId: number | string;
      sessionExpiresAt: Date | string;
      sessionRevokedAt: Date | string | null;
    } & {
      [K in keyof RawUserRow]: RawUserRow[K] | null;
    }
  >(
    `SELECT s."userId" AS "sessionUserId", s."expiresAt" AS "sessionExpiresAt", s."revokedAt" AS "sessionRevokedAt",
            ${USER_ROW_COLUMNS}
       FROM sessions s LEFT JOIN users u ON u.id = s."userId"
      WHERE s.id = $id`,
    { id: sessionId },
  );
  if (!row) return null;
  const tz = dbTimezone(db);
  const { sessionUserId, sessionExpiresAt, sessionRevokedAt, ...user } = row;
  return {
    userId: Number(sessionUserId),
    expiresAt: dbDate(sessionExpiresAt, tz),
    revokedAt: dbDate(sessionRevokedAt, tz),
    user: user.id === null ? null : toUserRow(user as RawUserRow, tz),
  };
}

/** A User instance for a row read here, as `findByPk` would have given it (no query). */
export function userInstance(models: Pick<Models, 'User'>, row: UserRow): User {
  return models.User.build(row, { isNewRecord: false, raw: true });
}
