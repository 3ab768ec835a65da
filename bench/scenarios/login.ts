import { LoadGen, type StepResult } from '../lib/loadgen.js';
import { BENCH_PASSWORD, registerUsers, seedUsers, type SeededUser } from '../lib/seed.js';
import { startParley } from '../lib/server.js';
import { percentiles } from '../lib/stats.js';
import { cores } from '../lib/targets.js';
import type { BenchOptions, ResultRow, Scenario } from '../lib/types.js';

/*
 * (6) Login: POST /api/auth/login of registered users at a steady 20/s, with the default argon2id cost, (a) alone,
 * (b) while a moderate fan-out runs in `general` (200 members, load generator workers in their own processes).
 * The fan-out is also measured alone, so the table shows both sides: what a fan-out costs the logins, and what the
 * password hashing costs the fan-out (hashing runs off the event loop; if it stalled the loop, both would show it).
 */

const SECONDS = { full: 15, quick: 4, smoke: 2 } as const;
const LOGINS_PER_SEC = 20;
/** Logins cycle over this many accounts (registering is one hash each, done before anything is measured). */
const ACCOUNTS = 20;
const MEMBERS = { full: 200, quick: 200, smoke: 50 } as const;
/**
 * Messages/s of the background fan-out. Modest on purpose: every message is a durable write, and on this
 * machine Parley's send path saturates near 100 msg/s on SQLite (scenario 3), less when the machine is busy, so more would measure the ingest
 * ceiling instead of the interference between logins and fan-out.
 */
const FANOUT_MSG_PER_SEC = 25;
const FANOUT_SENDERS = 8;
const TARGET_MS = 150;
/** How long after a fan-out step its deliveries may still arrive; later ones count as lost. */
const DRAIN_MS = 10_000;
/** The contract's default argon2id memory cost: logins are measured as deployed, not at the benchmark's cheap cost. */
const DEFAULT_HASH_KIB = '19456';

interface LoginRun {
  latencies: number[];
  errors: number;
  errorSample: string[];
}

/** Fires LOGINS_PER_SEC logins a second for `seconds` (open loop: each on schedule, whether or not others are done). */
async function loginLoad(url: string, accounts: SeededUser[], seconds: number): Promise<LoginRun> {
  const run: LoginRun = { latencies: [], errors: 0, errorSample: [] };
  const total = Math.round(seconds * LOGINS_PER_SEC);
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let k = 0; k < total; k++) {
    const due = start + (k * 1000) / LOGINS_PER_SEC;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    pending.push(
      fetch(`${url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: accounts[k % accounts.length]!.name, password: BENCH_PASSWORD }),
        signal: AbortSignal.timeout(10_000),
      }).then(
        async (res) => {
          await res.arrayBuffer();
          if (res.status === 200) run.latencies.push(performance.now() - t0);
          else fail(run, `HTTP ${res.status}`);
        },
        (err: Error) => fail(run, err.message),
      ),
    );
  }
  await Promise.all(pending);
  return run;
}

function fail(run: LoginRun, why: string): void {
  run.errors++;
  if (run.errorSample.length < 3) run.errorSample.push(why);
}

/**
 * The server's event-loop delay p99 and max (ms) since the previous call: prom-client resets its histogram on every
 * scrape of /metrics, so a call before and one after a window give that window's figures.
 */
async function loopDelay(url: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return { p99: read('nodejs_eventloop_lag_p99_seconds'), max: read('nodejs_eventloop_lag_max_seconds') };
}

const ms = (v: number) => Math.round(v * 10) / 10;

function loginNote(r: LoginRun): string {
  const p = percentiles(r.latencies);
  const errs = r.errors ? ` (${r.errorSample.join(', ')})` : '';
  return `p50 ${ms(p.p50)} ms, ${r.latencies.length} ok, ${r.errors} errors${errs}`;
}

function fanoutNote(s: StepResult): string {
  return (
    `p50 ${ms(s.latency.p50)} ms, ${Math.round(s.deliveriesPerSec)} deliveries/s, ` +
    `lost (not delivered ${DRAIN_MS / 1000} s after the end) ${s.lost}, ` +
    `ack errors ${s.ackErrors}, server CPU ${s.serverCpu.toFixed(2)}`
  );
}

export const login: Scenario = {
  id: 'login',
  title: 'Login latency at 20/s during a fan-out',
  async run(opts: BenchOptions): Promise<ResultRow[]> {
    const seconds = SECONDS[opts.mode];
    const members = MEMBERS[opts.mode];
    const server = await startParley({
      db: 'sqlite',
      cpu: cores(opts).server,
      env: { PASSWORD_HASH_MEMORY_KIB: DEFAULT_HASH_KIB },
    });
    let lg: LoadGen | undefined;
    try {
      const accounts = await registerUsers(server, ACCOUNTS);
      const { users, roomId } = await seedUsers(server, members, { via: 'db' });
      lg = await LoadGen.start(2, cores(opts).loadgen);
      const c = await lg.connect('parley', server.url, members, {
        tokens: users.map((u) => u.accessToken),
        concurrency: 50,
      });
      if (c.ok < members)
        throw new Error(`login: only ${c.ok}/${members} members connected: ${c.errors.join('; ')}`);
      const plan = {
        senders: FANOUT_SENDERS,
        msgRate: FANOUT_MSG_PER_SEC,
        durationMs: seconds * 1000,
        warmupMs: 500,
        payloadBytes: 100,
        roomId,
        drainMs: DRAIN_MS,
        serverPid: server.pid,
      };
      // Warm the login path (first argon2 calls, connection pools) before anything is measured.
      await loginLoad(server.url, accounts, 0.5);
      await loopDelay(server.url);
      const alone = await loginLoad(server.url, accounts, seconds);
      const loopAlone = await loopDelay(server.url);
      opts.log(`login alone: p99 ${ms(percentiles(alone.latencies).p99)} ms`);
      const fanoutAlone = await lg.step(plan);
      opts.log(`login: fan-out alone p99 ${ms(fanoutAlone.latency.p99)} ms`);
      await loopDelay(server.url);
      const [fanoutDuring, during] = await Promise.all([
        lg.step(plan),
        // The logins start once the fan-out's warm-up is over.
        new Promise((r) => setTimeout(r, 700)).then(() => loginLoad(server.url, accounts, seconds - 1)),
      ]);
      const loopDuring = await loopDelay(server.url);
      const loop = `server event-loop delay p99/max ${ms(loopDuring.p99)}/${ms(loopDuring.max)} ms during, ${ms(loopAlone.p99)}/${ms(loopAlone.max)} ms with logins alone`;
      const loginP99 = percentiles(during.latencies).p99;
      const aloneP99 = percentiles(alone.latencies).p99;
      const load = `${members} members, ${FANOUT_MSG_PER_SEC} msg/s from ${FANOUT_SENDERS} senders`;
      return [
        {
          scenario: '6 login',
          case: `20 logins/s during fan-out (${load})`,
          metric: 'login p99',
          unit: 'ms',
          higherIsBetter: false,
          parley: ms(loginP99),
          baselines: { 'no fan-out': ms(aloneP99) },
          target: { text: `< ${TARGET_MS} ms`, met: during.errors === 0 && loginP99 < TARGET_MS },
          note: `during: ${loginNote(during)}; alone: ${loginNote(alone)}; argon2id ${DEFAULT_HASH_KIB} KiB; ${loop}`,
        },
        {
          scenario: '6 login',
          case: `fan-out during 20 logins/s (${load})`,
          metric: 'delivery p99',
          unit: 'ms',
          higherIsBetter: false,
          parley: ms(fanoutDuring.latency.p99),
          baselines: { 'no logins': ms(fanoutAlone.latency.p99) },
          note: `during: ${fanoutNote(fanoutDuring)}; alone: ${fanoutNote(fanoutAlone)}`,
        },
      ];
    } finally {
      await lg?.close();
      await server.stop();
    }
  },
};
