import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openBenchDb } from '../lib/db.js';
import { spawnNode, stopChild } from '../lib/proc.js';
import { cleanEnv, freePort, ROOT, startParley } from '../lib/server.js';
import { percentiles } from '../lib/stats.js';
import type { BenchOptions, ResultRow, Scenario } from '../lib/types.js';

/*
 * (7) Cold start: from spawning `node server/dist/index.js` to the first 200 from /api/health, on an empty data
 * directory (the first start creates the database and runs the migrations) and on an existing one. Baseline: the
 * bare Socket.IO server (bench/baselines/socketio.mjs) from spawn to its first HTTP answer. Runs are interleaved
 * (empty, existing, baseline, empty, ...) so a noisy neighbour hits all three alike.
 */

const RUNS = { full: 5, quick: 3, smoke: 1 } as const;
/** PostgreSQL runs: full mode only, to keep quick and smoke within their time budgets. */
const PG_RUNS = { full: 5, quick: 0, smoke: 0 } as const;
const TARGET_MS = 1500;
/** How often the health check is tried while the server starts. */
const POLL_MS = 5;
const GIVE_UP_MS = 30_000;

/** Spawns `args` and times it until `probe` (an HTTP GET on the new port) answers 200; then stops it. */
async function timeToFirstAnswer(
  args: string[],
  env: Record<string, string>,
  probePath: string,
  cpu: 0 | undefined,
): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawnNode(args, {
    cwd: ROOT,
    cpu,
    env: { ...cleanEnv(), ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  try {
    while (performance.now() - started < GIVE_UP_MS) {
      if (child.exitCode !== null)
        throw new Error(`exited (code ${child.exitCode}) before answering:\n${out}`);
      const ok = await fetch(`http://127.0.0.1:${port}${probePath}`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) return performance.now() - started;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    throw new Error(`no 200 from ${probePath} within ${GIVE_UP_MS} ms:\n${out}`);
  } finally {
    await stopChild(child);
  }
}

const PARLEY = [path.join(ROOT, 'server/dist/index.js')];
const BARE_SOCKET_IO = [path.join(ROOT, 'bench/baselines/socketio.mjs')];
const BARE_PROBE = '/socket.io/?EIO=4&transport=polling';

/** The environment of a production start (what a deployment sets), on `dataDir`. */
const productionEnv = (dataDir: string): Record<string, string> => ({
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  JWT_SECRET: randomBytes(32).toString('hex'),
  DATA_DIR: dataDir,
});

interface Series {
  empty: number[];
  existing: number[];
}

async function sqliteRuns(runs: number, cpu: 0 | undefined, bare: number[]): Promise<Series> {
  const out: Series = { empty: [], existing: [] };
  for (let i = 0; i < runs; i++) {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-cold-'));
    try {
      const env = productionEnv(dataDir);
      out.empty.push(await timeToFirstAnswer(PARLEY, env, '/api/health', cpu));
      out.existing.push(await timeToFirstAnswer(PARLEY, env, '/api/health', cpu));
      bare.push(await timeToFirstAnswer(BARE_SOCKET_IO, {}, BARE_PROBE, cpu));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  return out;
}

/**
 * The same on PostgreSQL: a database made by startParley (then paused) is "existing"; emptied again (schema
 * dropped) it is "empty".
 */
async function postgresRuns(pgUrl: string, runs: number, cpu: 0 | undefined): Promise<Series> {
  const out: Series = { empty: [], existing: [] };
  const server = await startParley({ db: 'postgres', pgUrl, cpu });
  try {
    await server.pause();
    const { PORT: _port, ...env } = server.env;
    for (let i = 0; i < runs; i++) {
      out.existing.push(await timeToFirstAnswer(PARLEY, env, '/api/health', cpu));
      const db = await openBenchDb(env);
      await db.run('DROP SCHEMA public CASCADE; CREATE SCHEMA public').finally(() => db.close());
      out.empty.push(await timeToFirstAnswer(PARLEY, env, '/api/health', cpu));
    }
  } finally {
    await server.stop();
  }
  return out;
}

const fmt = (v: number[]) => v.map((x) => x.toFixed(0)).join(', ');

function rows(db: string, s: Series, bareMedian: number, bare: number[]): ResultRow[] {
  return (['empty', 'existing'] as const).map((kind) => {
    const median = percentiles(s[kind]).p50;
    return {
      scenario: '7 cold start',
      case: `${db}, ${kind === 'empty' ? 'empty data (migrates)' : 'existing data'}`,
      metric: 'spawn to /api/health 200 (median)',
      unit: 'ms',
      higherIsBetter: false,
      parley: Math.round(median),
      baselines: { 'socket.io': Math.round(bareMedian) },
      target: { text: `< ${TARGET_MS} ms`, met: median < TARGET_MS },
      note: `runs: ${fmt(s[kind])} ms; bare Socket.IO runs: ${fmt(bare)} ms`,
    };
  });
}

export const coldstart: Scenario = {
  id: 'coldstart',
  title: 'Cold start to healthy',
  async run(opts: BenchOptions): Promise<ResultRow[]> {
    const runs = RUNS[opts.mode];
    const cpu = opts.taskset ? 0 : undefined;
    const bare: number[] = [];
    opts.log(
      `coldstart: ${runs} run(s) each on SQLite, ${opts.pgUrl ? PG_RUNS[opts.mode] : 0} on PostgreSQL`,
    );
    const sqlite = await sqliteRuns(runs, cpu, bare);
    const bareMedian = percentiles(bare).p50;
    const out = rows('SQLite', sqlite, bareMedian, bare);
    const pgRuns = PG_RUNS[opts.mode];
    if (opts.pgUrl && pgRuns > 0) {
      out.push(...rows('PostgreSQL', await postgresRuns(opts.pgUrl, pgRuns, cpu), bareMedian, bare));
    } else {
      out.push({
        scenario: '7 cold start',
        case: 'PostgreSQL',
        metric: 'spawn to /api/health 200 (median)',
        unit: 'ms',
        higherIsBetter: false,
        parley: null,
        baselines: {},
        note: opts.pgUrl
          ? `skipped in ${opts.mode} mode`
          : 'skipped: no PostgreSQL (set BENCH_DATABASE_URL or TEST_DATABASE_URL)',
      });
    }
    return out;
  },
};
