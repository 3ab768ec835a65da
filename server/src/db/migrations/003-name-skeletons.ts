import { DataTypes, QueryTypes, type QueryInterface } from 'sequelize';
import { claimKey, displayNameClaim, usernameClaim } from '../../modules/names/claims.js';
import { roomNameSkeleton, usernameSkeleton } from '../../modules/names/skeleton.js';

/*
 * Issue 13, item 4: names unique by confusable skeleton. Adds name_claims (keys held by usernames and display names)
 * and rooms.nameSkeleton, recomputes users.usernameSkeleton with the UTS #39 skeleton, and backfills them.
 * Existing data may already hold look-alikes (`victim` and `victim.`, two rooms `general` and `gеneral`): the
 * migration must not fail on them, and renaming people's accounts behind their backs is worse than keeping them.
 * So the oldest holder (lowest id) of a key claims it; later look-alikes keep their names, claim nothing, and every
 * new name is checked against the claims. Usernames are claimed before display names: a username is the identity.
 * Released guests claim nothing. Rows are read in pages so that a large table is not loaded at once.
 */

const PAGE = 500;

async function* pages<T extends { id: number }>(qi: QueryInterface, select: string): AsyncGenerator<T[]> {
  let after = 0;
  for (;;) {
    const rows = await qi.sequelize.query<T>(`${select} AND id > :after ORDER BY id LIMIT ${PAGE}`, {
      type: QueryTypes.SELECT,
      replacements: { after },
    });
    if (!rows.length) return;
    yield rows;
    after = Number(rows[rows.length - 1]!.id);
  }
}

interface UserRow {
  id: number;
  username: string;
  displayName: string;
}

export async function up({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.createTable('name_claims', {
    key: { type: DataTypes.STRING(64), primaryKey: true },
    userId: {
      type: DataTypes.INTEGER,
      allowNull: false,
      references: { model: 'users', key: 'id' },
      onDelete: 'CASCADE',
    },
    kind: { type: DataTypes.STRING(8), allowNull: false },
  });
  await qi.addIndex('name_claims', ['userId'], { name: 'name_claims_user' });
  await qi.addColumn('rooms', 'nameSkeleton', { type: DataTypes.STRING(64), allowNull: true });

  const q = (sql: string, replacements: Record<string, unknown>) => qi.sequelize.query(sql, { replacements });
  const claimed = new Set<string>();
  const claim = async (key: string, userId: number, kind: 'username' | 'display') => {
    claimed.add(key);
    await q(`INSERT INTO name_claims ("key", "userId", kind) VALUES (:key, :userId, :kind)`, {
      key,
      userId,
      kind,
    });
  };

  // The old keys are replaced by new ones in two passes, so that no row's new key meets another row's old one.
  await q(`UPDATE users SET "usernameSkeleton" = '~' || CAST(id AS VARCHAR(16))`, {});
  const live = `SELECT id, username, "displayName" FROM users WHERE "releasedAt" IS NULL`;
  for await (const rows of pages<UserRow>(qi, live)) {
    for (const u of rows) {
      const key = usernameClaim(u.username);
      if (claimed.has(key)) continue;
      await claim(key, u.id, 'username');
      await q(`UPDATE users SET "usernameSkeleton" = :s WHERE id = :id`, {
        s: usernameSkeleton(u.username),
        id: u.id,
      });
    }
  }
  for await (const rows of pages<UserRow>(qi, live)) {
    for (const u of rows) {
      const key = displayNameClaim(u.displayName, u.username);
      if (key && !claimed.has(key)) await claim(key, u.id, 'display');
    }
  }

  const seen = new Set<string>();
  const rooms = `SELECT id, name FROM rooms WHERE kind <> 'direct'`;
  for await (const rows of pages<{ id: number; name: string }>(qi, rooms)) {
    for (const r of rows) {
      const key = claimKey(roomNameSkeleton(r.name));
      if (seen.has(key)) continue;
      seen.add(key);
      await q(`UPDATE rooms SET "nameSkeleton" = :key WHERE id = :id`, { key, id: r.id });
    }
  }
  await qi.addIndex('rooms', ['nameSkeleton'], { name: 'rooms_name_skeleton', unique: true });
}

export async function down({ context: qi }: { context: QueryInterface }): Promise<void> {
  await qi.removeIndex('rooms', 'rooms_name_skeleton');
  await qi.removeColumn('rooms', 'nameSkeleton');
  await qi.dropTable('name_claims');
}
