import type { TargetKind } from '../loadgen/protocol.js';
import { quiesce } from '../lib/ladder.js';
import { LoadGen } from '../lib/loadgen.js';
import { cpuShare, sampleProcess } from '../lib/proc.js';
import type { Percentiles } from '../lib/stats.js';
import { bestOf, cores, KINDS, ParleyFixture, startBaseline, type RunningTarget } from '../lib/targets.js';
import type { BenchOptions, ResultRow, Scenario } from '../lib/types.js';

/*
 * Scenario 5, connect storm: M sockets open as fast as the server accepts them, CONCURRENCY handshakes in flight at
 * any time, all kept open. On Parley every socket is a different user with a valid access token, as after a
 * restart when everyone reconnects; the baselines accept anyone.
 */

const SIZES: Record<BenchOptions['mode'], { sockets: number; reps: number }> = {
  full: { sockets: 2000, reps: 2 },
  quick: { sockets: 300, reps: 1 },
  smoke: { sockets: 30, reps: 1 },
};
const CONCURRENCY = 50;

interface Storm {
  ok: number;
  perSec: number;
  latency: Percentiles;
  serverCpu: number;
  /** Server CPU time per connect (ms): what the server spends, whatever the load generator's own delays. */
  cpuMsPerConnect: number | null;
}

async function storm(opts: BenchOptions, lg: LoadGen, t: RunningTarget, sockets: number): Promise<Storm> {
  try {
    await quiesce(t.pid);
    const before = await sampleProcess(t.pid);
    const c = await lg.connect(t.kind, t.url, sockets, {
      tokens: t.tokens,
      concurrency: CONCURRENCY,
      timeoutMs: 60_000,
    });
    const after = await sampleProcess(t.pid);
    const s: Storm = {
      ok: c.ok,
      perSec: c.ok / (c.ms / 1000),
      latency: c.latency,
      serverCpu: cpuShare(before, after),
      cpuMsPerConnect: c.ok ? ((after.cpuSeconds - before.cpuSeconds) * 1000) / c.ok : null,
    };
    opts.log(
      `  ${t.kind}: ${c.ok}/${sockets} in ${(c.ms / 1000).toFixed(1)} s = ${s.perSec.toFixed(0)} connects/s, ` +
        `handshake p50 ${c.latency.p50.toFixed(0)} p99 ${c.latency.p99.toFixed(0)} ms, server CPU ${(s.serverCpu * 100).toFixed(0)}%` +
        (c.errors.length ? `; errors: ${c.errors.slice(0, 2).join('; ')}` : ''),
    );
    return s;
  } finally {
    await t.stop();
    await lg.reset();
  }
}

async function run(opts: BenchOptions): Promise<ResultRow[]> {
  const { sockets, reps } = SIZES[opts.mode];
  const fixture = new ParleyFixture(opts, sockets);
  const results: Record<TargetKind, Storm[]> = { parley: [], 'socket.io': [], ws: [] };
  // Spawned (and their modules loaded) before any clock starts.
  const lg = await LoadGen.start(2, cores(opts).loadgen);
  try {
    for (let rep = 1; rep <= reps; rep++) {
      for (const kind of KINDS) {
        const t = kind === 'parley' ? await fixture.start() : await startBaseline(kind, opts);
        results[kind].push(await storm(opts, lg, t, sockets));
      }
    }
  } finally {
    await lg.close();
    await fixture.dispose();
  }
  const complete = (kind: TargetKind) => results[kind].filter((s) => s.ok === sockets);
  const best = (kind: TargetKind) => bestOf(complete(kind).map((s) => s.perSec));
  // The cheapest repetition: CPU time only grows with interference.
  const cpu = (kind: TargetKind) => {
    const v = complete(kind)
      .map((s) => s.cpuMsPerConnect)
      .filter((x): x is number => x !== null);
    return v.length ? Math.min(...v) : null;
  };
  const top = complete('parley').sort((a, b) => b.perSec - a.perSec)[0];
  if (!results.parley.some((s) => s.ok > 0)) throw new Error('connect storm: no Parley socket connected');
  return [
    {
      scenario: '5 connect storm',
      case: `${sockets} sockets, ${CONCURRENCY} in flight`,
      metric: 'authenticated connects/s',
      unit: 'connects/s',
      higherIsBetter: true,
      parley: best('parley'),
      baselines: { 'socket.io': best('socket.io'), ws: best('ws') },
      note:
        `${reps} rep(s), best of each; a run counts only if every socket connected; distinct users on Parley` +
        (top
          ? `; handshake p50 ${top.latency.p50.toFixed(0)} / p99 ${top.latency.p99.toFixed(0)} ms, server CPU ${(top.serverCpu * 100).toFixed(0)}%`
          : ''),
    },
    {
      scenario: '5 connect storm',
      case: `${sockets} sockets, ${CONCURRENCY} in flight`,
      metric: 'server CPU per connect',
      unit: 'ms',
      higherIsBetter: false,
      parley: cpu('parley'),
      baselines: { 'socket.io': cpu('socket.io'), ws: cpu('ws') },
      note:
        'CPU seconds of the server process over the storm / connects (lowest repetition); includes Parley telling ' +
        'every open socket that a user came online',
    },
  ];
}

export const connect: Scenario = { id: 'connect', title: '5. Connect storm', run };
