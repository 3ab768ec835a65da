import { createSecretKey, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { usernameKey } from '../../server/src/modules/auth/usernames.js';
import { usernameSkeleton } from '../../server/src/modules/names/skeleton.js';
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from '../../server/src/modules/auth/tokens.js';
import { openBenchDb, type BenchDb } from './db.js';

/*
 * Guests written straight into the database, for the scenarios that need tens of thousands of people: through the
 * API each sign-up is a durable transaction of its own (about 40 per second on this machine), so 20,000 would take
 * minutes. The rows are the ones POST /api/auth/guest writes (user, `general` membership, session), without the
 * "joined" system messages; the access tokens are signed with the server's own secret, as it would sign them.
 */

export interface DirectUser {
  id: string;
  name: string;
  accessToken: string;
}

/** Rows per multi-row INSERT: SQLite allows 32,766 bound values per statement. */
const ROWS_PER_INSERT = 500;
/** Access tokens minted here last this long, whatever ACCESS_TOKEN_TTL says: a full run is longer than 15 minutes. */
const TOKEN_TTL_SEC = 3 * 3600;

/** The secret the server signs with: JWT_SECRET, else the one it generated into DATA_DIR/jwt-secret. */
export function serverJwtSecret(env: Record<string, string>): string {
  if (env.JWT_SECRET) return env.JWT_SECRET;
  return readFileSync(path.join(path.resolve(env.DATA_DIR ?? './data'), 'jwt-secret'), 'utf8').trim();
}

/** Dates as each driver stores them: Sequelize's SQLite text form, or a Date for pg. */
const dbDate = (db: BenchDb, d: Date): string | Date =>
  db.dialect === 'sqlite' ? d.toISOString().replace('T', ' ').replace('Z', ' +00:00') : d;

async function insertRows(db: BenchDb, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  const cols = columns.map((c) => `"${c}"`).join(', ');
  const one = `(${columns.map(() => '?').join(', ')})`;
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const chunk = rows.slice(i, i + ROWS_PER_INSERT);
    await db.run(`INSERT INTO ${table} (${cols}) VALUES ${chunk.map(() => one).join(', ')}`, chunk.flat());
  }
}

/**
 * `names.length` guests, members of `general`, each with a live session and an access token for it. `names` must
 * be valid, unused usernames whose skeletons differ (the caller's prefix + counter does that).
 */
export async function insertGuests(env: Record<string, string>, names: string[]): Promise<DirectUser[]> {
  const db = await openBenchDb(env);
  try {
    const now = new Date();
    const at = dbDate(db, now);
    const isGuest = db.dialect === 'sqlite' ? 1 : true;
    // IMMEDIATE: take the write lock now rather than fail half-way when the server writes meanwhile.
    await db.run(db.dialect === 'sqlite' ? 'BEGIN IMMEDIATE' : 'BEGIN');
    await insertRows(
      db,
      'users',
      [
        'username',
        'usernameKey',
        'usernameSkeleton',
        'displayName',
        'isGuest',
        'lastSeenAt',
        'createdAt',
        'updatedAt',
      ],
      names.map((n) => [n, usernameKey(n), usernameSkeleton(n), n, isGuest, at, at, at]),
    );
    const ids = new Map<string, number>();
    for (let i = 0; i < names.length; i += ROWS_PER_INSERT) {
      const keys = names.slice(i, i + ROWS_PER_INSERT).map(usernameKey);
      const rows = await db.all<{ id: number; usernameKey: string }>(
        `SELECT id, "usernameKey" FROM users WHERE "usernameKey" IN (${keys.map(() => '?').join(', ')})`,
        keys,
      );
      for (const r of rows) ids.set(r.usernameKey, Number(r.id));
    }
    const [general] = await db.all<{ id: number }>(`SELECT id FROM rooms WHERE "nameKey" = 'general'`);
    if (!general) throw new Error('no general room: start the server once before seeding');
    const userIds = names.map((n) => ids.get(usernameKey(n))!);
    await insertRows(
      db,
      'memberships',
      ['roomId', 'userId', 'role', 'joinedAt', 'lastReadMessageId'],
      userIds.map((id) => [general.id, id, 'member', at, 0]),
    );
    const sessions = userIds.map((id) => [
      randomUUID(),
      id,
      0,
      dbDate(db, new Date(now.getTime() + 30 * 86400_000)),
      at,
      at,
    ]);
    await insertRows(
      db,
      'sessions',
      ['id', 'userId', 'generation', 'expiresAt', 'createdAt', 'updatedAt'],
      sessions,
    );
    await db.run(
      `UPDATE rooms SET "memberCount" = (SELECT count(*) FROM memberships WHERE "roomId" = ?) WHERE id = ?`,
      [general.id, general.id],
    );
    await db.run('COMMIT');
    // One key object for all: jsonwebtoken would otherwise build one per call (most of the time for 20,000).
    const secret = createSecretKey(Buffer.from(serverJwtSecret(env)));
    return names.map((name, i) => ({
      id: String(userIds[i]),
      name,
      accessToken: jwt.sign({ sid: sessions[i]![0] }, secret, {
        algorithm: 'HS256',
        subject: String(userIds[i]),
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        expiresIn: TOKEN_TTL_SEC,
      }),
    }));
  } catch (err) {
    await db.run('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await db.close();
  }
}

/**
 * One public room per owner, named `<prefix>-<i>`, with the owner as its only member: what POST /api/chatrooms
 * writes, minus the API round trip and durable commit per room. Resolves with the room ids, in owner order.
 */
export async function insertRooms(
  env: Record<string, string>,
  ownerIds: (string | number)[],
  prefix: string,
): Promise<string[]> {
  const db = await openBenchDb(env);
  try {
    const at = dbDate(db, new Date());
    const names = ownerIds.map((_, i) => `${prefix}-${i}`);
    await db.run(db.dialect === 'sqlite' ? 'BEGIN IMMEDIATE' : 'BEGIN');
    await insertRows(
      db,
      'rooms',
      ['name', 'nameKey', 'description', 'kind', 'ownerId', 'memberCount', 'createdAt', 'updatedAt'],
      names.map((n, i) => [n, n.toLowerCase(), '', 'public', Number(ownerIds[i]), 1, at, at]),
    );
    const ids = new Map<string, number>();
    for (let i = 0; i < names.length; i += ROWS_PER_INSERT) {
      const keys = names.slice(i, i + ROWS_PER_INSERT).map((n) => n.toLowerCase());
      const rows = await db.all<{ id: number; nameKey: string }>(
        `SELECT id, "nameKey" FROM rooms WHERE "nameKey" IN (${keys.map(() => '?').join(', ')})`,
        keys,
      );
      for (const r of rows) ids.set(r.nameKey, Number(r.id));
    }
    const roomIds = names.map((n) => ids.get(n.toLowerCase())!);
    await insertRows(
      db,
      'memberships',
      ['roomId', 'userId', 'role', 'joinedAt', 'lastReadMessageId'],
      roomIds.map((id, i) => [id, Number(ownerIds[i]), 'owner', at, 0]),
    );
    await db.run('COMMIT');
    return roomIds.map(String);
  } catch (err) {
    await db.run('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await db.close();
  }
}
