import { runBaseline } from '../lib/baseline.js';
import { quiesce } from '../lib/ladder.js';
import { LoadGen } from '../lib/loadgen.js';
import { until } from '../lib/proc.js';
import { seedUsers } from '../lib/seed.js';
import { restartParley, startParley, type ParleyServer } from '../lib/server.js';
import { cores } from '../lib/targets.js';
import type { BenchOptions, ResultRow, Scenario } from '../lib/types.js';

/*
 * Scenario 8, restart: M signed-in users are connected with socket.io-client's own reconnection (the web client's
 * back-off: 1 s doubling to 5 s, ±50 % jitter); the server is stopped (SIGTERM: a graceful shutdown closes every
 * transport, so clients reconnect by themselves) and started again on the same port and data. Measured: how long
 * after the stop began 99 % (and 100 %) of the users are connected again. Bare Socket.IO is restarted the same way
 * in the same run, for comparison.
 */

const USERS: Record<BenchOptions['mode'], number> = { full: 10_000, quick: 1000, smoke: 50 };
const CONNECT_CONCURRENCY = 100;
/** How long the clients get to come back before the run gives up. */
const WAIT_MS = 90_000;
const TARGET_S = 30;

interface Recovery {
  /** Seconds from the stop's start until 99 % / 100 % were connected again (null: not within WAIT_MS). */
  p99: number | null;
  all: number | null;
  /** Seconds the server took to stop and to start (until /api/health or "listening"). */
  downS: number;
  connectedAtEnd: number;
}

/** Polls the load generator until every client is back or WAIT_MS passed; times relative to `t0`. */
async function watch(lg: LoadGen, users: number, t0: number): Promise<Omit<Recovery, 'downS'>> {
  let p99: number | null = null;
  let all: number | null = null;
  let connected = 0;
  await until(
    async () => {
      connected = (await lg.status()).connected;
      const s = (performance.now() - t0) / 1000;
      if (p99 === null && connected >= Math.ceil(users * 0.99)) p99 = s;
      if (all === null && connected >= users) all = s;
      return all !== null;
    },
    WAIT_MS,
    50,
  );
  return { p99, all, connectedAtEnd: connected };
}

async function parleyRestart(opts: BenchOptions, lg: LoadGen, users: number): Promise<Recovery> {
  const cpu = cores(opts).server;
  let server: ParleyServer = await startParley({ db: 'sqlite', cpu });
  try {
    const seeded = await seedUsers(server, users);
    const c = await lg.connect('parley', server.url, users, {
      tokens: seeded.users.map((u) => u.accessToken),
      concurrency: CONNECT_CONCURRENCY,
      timeoutMs: 60_000,
      reconnect: true,
    });
    if (c.ok !== users) throw new Error(`restart: only ${c.ok}/${users} connected (${c.errors[0] ?? ''})`);
    await quiesce(server.pid, 60_000);
    const t0 = performance.now();
    await server.pause();
    server = await restartParley(server, cpu, { samePort: true });
    const downS = (performance.now() - t0) / 1000;
    return { ...(await watch(lg, users, t0)), downS };
  } finally {
    await lg.reset();
    await server.stop();
  }
}

async function baselineRestart(opts: BenchOptions, lg: LoadGen, users: number): Promise<Recovery> {
  const cpu = cores(opts).server;
  let b = await runBaseline('socket.io', { cpu });
  try {
    const c = await lg.connect('socket.io', b.url, users, {
      concurrency: CONNECT_CONCURRENCY,
      timeoutMs: 60_000,
      reconnect: true,
    });
    if (c.ok !== users) throw new Error(`restart: only ${c.ok}/${users} connected to the baseline`);
    await quiesce(b.pid, 30_000);
    const t0 = performance.now();
    await b.stop();
    b = await runBaseline('socket.io', { cpu, port: b.port });
    const downS = (performance.now() - t0) / 1000;
    return { ...(await watch(lg, users, t0)), downS };
  } finally {
    await lg.reset();
    await b.stop();
  }
}

const fmt = (s: number | null) => (s === null ? `> ${WAIT_MS / 1000}` : s.toFixed(1));

async function run(opts: BenchOptions): Promise<ResultRow[]> {
  const users = USERS[opts.mode];
  const lg = await LoadGen.start(2, cores(opts).loadgen);
  let p: Recovery;
  let s: Recovery;
  try {
    p = await parleyRestart(opts, lg, users);
    opts.log(
      `  parley: down ${p.downS.toFixed(1)} s; 99 % back after ${fmt(p.p99)} s, all after ${fmt(p.all)} s (${p.connectedAtEnd}/${users})`,
    );
    s = await baselineRestart(opts, lg, users);
    opts.log(
      `  socket.io: down ${s.downS.toFixed(1)} s; 99 % back after ${fmt(s.p99)} s, all after ${fmt(s.all)} s (${s.connectedAtEnd}/${users})`,
    );
  } finally {
    await lg.close();
  }
  const caseText = `${users} users, restart on the same port`;
  return [
    {
      scenario: '8 restart',
      case: caseText,
      metric: 'seconds from stop until 99 % reconnected',
      unit: 's',
      higherIsBetter: false,
      parley: p.p99,
      baselines: { 'socket.io': s.p99 },
      target: { text: `<= ${TARGET_S} s`, met: p.p99 === null ? false : p.p99 <= TARGET_S },
      note: `Parley was down ${p.downS.toFixed(1)} s (graceful stop + cold start), bare Socket.IO ${s.downS.toFixed(1)} s; clients back off as the web client does`,
    },
    {
      scenario: '8 restart',
      case: caseText,
      metric: 'seconds from stop until all reconnected',
      unit: 's',
      higherIsBetter: false,
      parley: p.all,
      baselines: { 'socket.io': s.all },
    },
  ];
}

export const restart: Scenario = { id: 'restart', title: '8. Restart', run };
