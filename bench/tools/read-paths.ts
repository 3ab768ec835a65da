/*
 * The history page read, one way after another, in one process (DECISIONS, "The history read path"): what each
 * data-access way costs for the same 50-message page of a big room, without HTTP, sockets or presenting.
 *
 *   node --import tsx bench/tools/read-paths.ts [--messages=100000] [--requests=300] [--pg]
 *
 * Starts a Parley (built server, like the bench), seeds a room straight into its database, then reads pages at
 * three depths with: Sequelize models (`findAll` as instances, and `raw: true`, plus the authors' query), one
 * joined `sequelize.query` (replacements), `db.read` (SQLite: the reader's prepared statement on its read-only
 * connection; PostgreSQL: sequelize.query), and on PostgreSQL a `pg` pool of its own with a named (prepared)
 * statement. `--pg` uses BENCH_DATABASE_URL / TEST_DATABASE_URL. Loopback only; bounded by --requests.
 */
import pg from 'pg';
import { Op, QueryTypes } from 'sequelize';
import { initModels } from '../../server/src/db/models.js';
import { openDb } from '../../server/src/db/sequelize.js';
import { createLogger } from '../../server/src/logger.js';
import { historyPageStatement } from '../../server/src/modules/messages/repo.js';
import { databaseUrlOf } from '../lib/db.js';
import { seedMessages, seedUsers } from '../lib/seed.js';
import { startParley } from '../lib/server.js';
import { percentiles } from '../lib/stats.js';

const arg = (name: string, fallback: number) => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : fallback;
};
const MESSAGES = arg('messages', 100_000);
const REQUESTS = arg('requests', 300);
const usePg = process.argv.includes('--pg');
const pgUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (usePg && !pgUrl) throw new Error('--pg needs BENCH_DATABASE_URL or TEST_DATABASE_URL');

const server = await startParley({ db: usePg ? 'postgres' : 'sqlite', pgUrl });
try {
  const { users, roomId } = await seedUsers(server, 10, { via: 'api' });
  const seeded = await seedMessages(
    server,
    roomId,
    MESSAGES,
    users.map((u) => u.id),
  );
  const url = databaseUrlOf(server.env);
  const db = await openDb(url, createLogger('warn'));
  const models = initModels(db.sequelize);
  const room = Number(roomId);
  const userId = Number(users[1]!.id);
  const depths: [string, number | undefined][] = [
    ['newest', undefined],
    ['middle', Math.floor((seeded.firstId + seeded.lastId) / 2)],
    ['oldest', seeded.firstId + 50],
  ];
  const pool = usePg ? new pg.Pool({ connectionString: url, max: 2 }) : undefined;

  type Way = (before: number | undefined) => Promise<number>;
  const authorsOf = async (rows: { authorId: number | null }[], raw: boolean) => {
    const ids = [...new Set(rows.map((r) => r.authorId).filter((id): id is number => id !== null))];
    return models.User.findAll({ where: { id: ids }, raw });
  };
  const modelWay =
    (raw: boolean): Way =>
    async (before) => {
      const rows = await models.Message.findAll({
        where: { roomId: room, ...(before !== undefined && { id: { [Op.lt]: before } }) },
        order: [['id', 'DESC']],
        limit: 51,
        raw,
      });
      await authorsOf(rows, raw);
      return rows.length;
    };
  const statement = (before: number | undefined) =>
    historyPageStatement({ roomId: room, userId, take: 51, ...(before !== undefined && { before }) });
  const ways: Record<string, Way> = {
    'findAll (instances) + authors': modelWay(false),
    'findAll({raw: true}) + authors': modelWay(true),
    'sequelize.query (one joined query)': async (before) => {
      const { sql, params } = statement(before);
      const rows = await db.sequelize.query(sql.replace(/\$(\w+)/g, ':$1'), {
        replacements: params,
        type: QueryTypes.SELECT,
      });
      return rows.length;
    },
    'db.read (the server)': async (before) => {
      const { sql, params } = statement(before);
      return (await db.read(sql, params)).length;
    },
  };
  if (pool) {
    ways['pg pool, named prepared statement'] = async (before) => {
      const { sql, params } = statement(before);
      const names = Object.keys(params);
      const text = sql.replace(/\$(\w+)/g, (_m, n: string) => `$${names.indexOf(n) + 1}`);
      const r = await pool.query({
        name: `history-${before === undefined ? 'newest' : 'before'}`,
        text,
        values: names.map((n) => params[n]),
      });
      return r.rowCount ?? 0;
    };
  }
  const samples = new Map<string, number[]>();
  for (const [, before] of depths)
    for (const way of Object.values(ways)) for (let i = 0; i < 20; i++) await way(before);
  for (let done = 0; done < REQUESTS; done += 25)
    for (const [depth, before] of depths)
      for (const [name, way] of Object.entries(ways)) {
        const key = `${depth}\t${name}`;
        const list = samples.get(key) ?? [];
        samples.set(key, list);
        for (let i = 0; i < 25; i++) {
          const t0 = performance.now();
          const n = await way(before);
          list.push(performance.now() - t0);
          if (n < 50) throw new Error(`${name}: ${n} rows`);
        }
      }
  console.log(
    `${usePg ? 'PostgreSQL' : 'SQLite'}, ${MESSAGES} messages, ${REQUESTS} pages per way and depth`,
  );
  console.log('depth\tway\tp50 ms\tp99 ms');
  for (const [key, list] of samples) {
    const p = percentiles(list);
    console.log(`${key}\t${p.p50.toFixed(3)}\t${p.p99.toFixed(3)}`);
  }
  await pool?.end();
  await db.close();
} finally {
  await server.stop();
}
