import type { LoadGen, StepPlan, StepResult } from './loadgen.js';
import { cpuShare, sampleProcess } from './proc.js';

/** The latency bound of the fan-out ladder. */
export const P99_BOUND_MS = 100;

export interface LadderConfig {
  /** Members in the room (each message is delivered to all of them). */
  members: number;
  /** Deliveries/s of the first step. */
  startDeliveries: number;
  stepMs: number;
  warmupMs: number;
  drainMs: number;
  /** Geometric bisections between the last passing and the first failing rate. */
  bisections: number;
  /** Hard bound on the number of steps, whatever happens. */
  maxSteps: number;
}

/** Why a step does not count (empty: it passed). */
export function failures(r: StepResult): string[] {
  const why: string[] = [];
  if (r.latency.p99 > P99_BOUND_MS) why.push(`p99 ${r.latency.p99.toFixed(0)} ms`);
  if (r.lost) why.push(`${r.lost} lost`);
  if (r.duplicated) why.push(`${r.duplicated} duplicated`);
  if (r.ackErrors) why.push(`${r.ackErrors} refused (${r.ackErrorSample.join(',')})`);
  // A generator that could not keep its schedule measured itself, not the server. (One message of slack: at a few
  // messages per second a window holds a handful, and where its edges fall decides one more or less.)
  if (r.sentInWindow < 0.95 * r.scheduledInWindow - 1)
    why.push(`generator sent only ${r.sentRate.toFixed(0)}/s`);
  if (r.deliveriesPerSec === 0) why.push('nothing delivered');
  return why;
}

/** Waits (at most `maxMs`) until the server is idle again: a failed step leaves a backlog the next would inherit. */
export async function quiesce(pid: number, maxMs = 15_000): Promise<void> {
  const end = performance.now() + maxMs;
  let prev = await sampleProcess(pid);
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await sampleProcess(pid);
    if (cpuShare(prev, now) < 0.15) return;
    prev = now;
  }
}

export const describe = (r: StepResult): string =>
  `${r.msgRate.toFixed(1)} msg/s -> ${Math.round(r.deliveriesPerSec)} deliveries/s, p50 ${r.latency.p50.toFixed(1)} ` +
  `p99 ${r.latency.p99.toFixed(1)} max ${r.latency.max.toFixed(0)} ms, cpu ${(r.serverCpu * 100).toFixed(0)}%, ` +
  `rss ${r.serverRssMiB.toFixed(0)} MiB`;

/**
 * Finds the highest deliveries/s a server sustains with p99 <= 100 ms, no loss and no duplicate: doubles (or halves)
 * the rate until the outcome flips, then bisects geometrically. Resolves with the best passing step (or null).
 */
export async function ladder(
  lg: LoadGen,
  plan: Omit<StepPlan, 'msgRate' | 'durationMs' | 'warmupMs' | 'drainMs'>,
  cfg: LadderConfig,
  log: (line: string) => void,
): Promise<{ best: StepResult | null; steps: StepResult[] }> {
  const steps: StepResult[] = [];
  let best: StepResult | null = null;
  const run = async (deliveries: number): Promise<boolean> => {
    const r = await lg.step({
      ...plan,
      msgRate: deliveries / cfg.members,
      durationMs: cfg.stepMs,
      warmupMs: cfg.warmupMs,
      drainMs: cfg.drainMs,
    });
    steps.push(r);
    const why = failures(r);
    log(`    ${describe(r)}${why.length ? `  FAIL: ${why.join(', ')}` : '  ok'}`);
    if (why.length) {
      await quiesce(plan.serverPid);
      return false;
    }
    if (!best || r.deliveriesPerSec > best.deliveriesPerSec) best = r;
    return true;
  };
  let lo = 0;
  let hi = Infinity;
  let rate = cfg.startDeliveries;
  // Bracket: one rate that passes and one that fails (or the step budget runs out).
  while (steps.length < cfg.maxSteps && (lo === 0 || hi === Infinity)) {
    if (await run(rate)) {
      lo = rate;
      rate *= 2;
    } else {
      hi = rate;
      rate /= 2;
    }
    // Below one message per second per room there is nothing left to measure.
    if (rate < cfg.members) break;
  }
  for (let i = 0; i < cfg.bisections && lo > 0 && hi < Infinity && steps.length < cfg.maxSteps; i++) {
    const mid = Math.sqrt(lo * hi);
    if (await run(mid)) lo = mid;
    else hi = mid;
  }
  return { best, steps };
}
