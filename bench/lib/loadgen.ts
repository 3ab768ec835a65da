import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import type {
  ConnectedReply,
  SentReply,
  StatusReply,
  TallyReply,
  TargetKind,
  WorkerCmd,
  WorkerReply,
} from '../loadgen/protocol.js';
import { nowMs } from '../loadgen/protocol.js';
import { cpuShare, sampleProcess, spawnNode, stopChild } from './proc.js';
import { cleanEnv, ROOT } from './server.js';
import { percentiles, type Percentiles } from './stats.js';

/** One step of a fan-out ladder, as measured. */
export interface StepResult {
  /** Messages/s offered by all senders together, and deliveries/s that would make at full fan-out. */
  msgRate: number;
  offeredDeliveries: number;
  /** Messages/s the senders actually managed in the measured window, and how many that was. */
  sentRate: number;
  sentInWindow: number;
  /** Messages/s the schedule asked for in the measured window, counted the same way. */
  scheduledInWindow: number;
  deliveriesPerSec: number;
  latency: Percentiles;
  lost: number;
  duplicated: number;
  ackErrors: number;
  ackErrorSample: string[];
  /** Server CPU (fraction of one core) and RSS (MiB) over the measured window. */
  serverCpu: number;
  serverRssMiB: number;
}

export interface StepPlan {
  senders: number;
  msgRate: number;
  durationMs: number;
  warmupMs: number;
  payloadBytes: number;
  roomId?: string;
  drainMs: number;
  /** The server's pid, for CPU and RSS. */
  serverPid: number;
}

/**
 * The load generator: `workers` child processes (bench/loadgen/worker.ts), pinned to `cpu` when given. Each worker
 * holds a contiguous share of the sockets; sender k is socket floor(k / workers) of worker k % workers, so the
 * senders are spread evenly over the workers.
 */
export class LoadGen {
  private counts: number[] = [];
  private stepNo = 0;

  private constructor(private readonly procs: ChildProcess[]) {}

  /** Spawns the worker processes. */
  static async start(workers: number, cpu?: 0 | 1): Promise<LoadGen> {
    const procs = Array.from({ length: workers }, () =>
      spawnNode(['--import', 'tsx', path.join(ROOT, 'bench/loadgen/worker.ts')], {
        cwd: ROOT,
        cpu,
        env: cleanEnv(),
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    await Promise.all(
      procs.map(
        (p, w) =>
          new Promise<void>((resolve, reject) => {
            p.once('message', (m: WorkerReply) =>
              m.t === 'ready' ? resolve() : reject(new Error(`load generator ${w}: ${JSON.stringify(m)}`)),
            );
            p.once('exit', (code) =>
              reject(new Error(`load generator ${w} exited (code ${code}) before it was ready`)),
            );
          }),
      ),
    );
    return new LoadGen(procs);
  }

  private request<T extends WorkerReply>(w: number, cmd: WorkerCmd, type: T['t']): Promise<T> {
    const proc = this.procs[w]!;
    return new Promise<T>((resolve, reject) => {
      const onMessage = (m: WorkerReply) => {
        if (m.t !== type && m.t !== 'error') return;
        cleanup();
        if (m.t === 'error') reject(new Error(`load generator ${w}: ${m.message}`));
        else resolve(m as T);
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`load generator ${w} exited (code ${code})`));
      };
      const cleanup = () => {
        proc.off('message', onMessage);
        proc.off('exit', onExit);
      };
      proc.on('message', onMessage);
      proc.on('exit', onExit);
      proc.send(cmd);
    });
  }

  /**
   * Opens `count` sockets spread over the workers (Parley: `tokens[i]` for socket i); resolves with how many
   * opened and how long it took in total (all workers connect at once).
   */
  async connect(
    kind: TargetKind,
    url: string,
    count: number,
    opts: {
      tokens?: string[];
      concurrency: number;
      timeoutMs?: number;
      /** Keep the sockets already open and add these (a storm measured in phases). */
      append?: boolean;
      /** The clients reconnect by themselves when the server goes away (the restart scenario). */
      reconnect?: boolean;
    },
  ): Promise<{ ok: number; failed: number; ms: number; errors: string[]; latency: Percentiles }> {
    const W = this.procs.length;
    const shares = Array.from({ length: W }, (_, w) => Math.floor(count / W) + (w < count % W ? 1 : 0));
    this.counts = shares.map((n, w) => n + (opts.append ? (this.counts[w] ?? 0) : 0));
    let offset = 0;
    const started = performance.now();
    const replies = await Promise.all(
      shares.map((n, w) => {
        const tokens = opts.tokens?.slice(offset, offset + n);
        offset += n;
        return this.request<ConnectedReply>(
          w,
          {
            t: 'connect',
            url,
            kind,
            count: n,
            tokens,
            concurrency: Math.max(1, Math.ceil(opts.concurrency / W)),
            timeoutMs: opts.timeoutMs ?? 30_000,
            append: opts.append,
            reconnect: opts.reconnect,
          },
          'connected',
        );
      }),
    );
    return {
      ok: replies.reduce((a, r) => a + r.ok, 0),
      failed: replies.reduce((a, r) => a + r.failed, 0),
      ms: performance.now() - started,
      errors: replies.flatMap((r) => r.errors),
      latency: percentiles(replies.flatMap((r) => r.latencies)),
    };
  }

  /** Runs one step of load at `plan.msgRate` messages/s and tallies every delivery. */
  async step(plan: StepPlan): Promise<StepResult> {
    const W = this.procs.length;
    const step = ++this.stepNo;
    const startAt = nowMs() + 200;
    const ratePerSender = plan.msgRate / plan.senders;
    const before = { s: undefined as Awaited<ReturnType<typeof sampleProcess>> | undefined };
    const windowStart = setTimeout(
      () => void sampleProcess(plan.serverPid).then((s) => (before.s = s)),
      Math.max(0, startAt + plan.warmupMs - nowMs()),
    );
    const sent = await Promise.all(
      this.procs.map((_, w) => {
        const senderIds: number[] = [];
        for (let k = w; k < plan.senders; k += W) senderIds.push(k);
        const senders = senderIds.map((k) => Math.floor(k / W)).filter((i) => i < this.counts[w]!);
        return this.request<SentReply>(
          w,
          {
            t: 'step',
            step,
            startAt,
            durationMs: plan.durationMs,
            warmupMs: plan.warmupMs,
            senders,
            senderIds: senderIds.slice(0, senders.length),
            senderCount: plan.senders,
            ratePerSender,
            payloadBytes: plan.payloadBytes,
            roomId: plan.roomId,
          },
          'sent',
        );
      }),
    );
    const after = await sampleProcess(plan.serverPid);
    clearTimeout(windowStart);
    const lastSeq = Object.assign({}, ...sent.map((s) => s.lastSeq)) as Record<number, number>;
    const tallies = await Promise.all(
      this.procs.map((_, w) =>
        this.request<TallyReply>(w, { t: 'tally', step, lastSeq, drainMs: plan.drainMs }, 'tally'),
      ),
    );
    const windowSec = (plan.durationMs - plan.warmupMs) / 1000;
    const latency = percentiles(tallies.flatMap((t) => t.latencies));
    latency.max = Math.max(0, ...tallies.map((t) => t.maxLatency));
    return {
      msgRate: plan.msgRate,
      offeredDeliveries: plan.msgRate * this.counts.reduce((a, b) => a + b, 0),
      sentRate: sent.reduce((a, s) => a + s.sentInWindow, 0) / windowSec,
      sentInWindow: sent.reduce((a, s) => a + s.sentInWindow, 0),
      scheduledInWindow: plan.msgRate * windowSec,
      deliveriesPerSec: tallies.reduce((a, t) => a + t.windowDeliveries, 0) / windowSec,
      latency,
      lost: tallies.reduce((a, t) => a + t.lost, 0),
      duplicated: tallies.reduce((a, t) => a + t.duplicated, 0),
      ackErrors: sent.reduce((a, s) => a + s.ackErrors, 0),
      ackErrorSample: sent.flatMap((s) => s.ackErrorSample),
      serverCpu: before.s ? cpuShare(before.s, after) : 0,
      serverRssMiB: after.rssBytes / 2 ** 20,
    };
  }

  /** How many sockets are connected now, over every worker, and how many are held in all. */
  async status(): Promise<{ connected: number; total: number }> {
    const replies = await Promise.all(
      this.procs.map((_, w) => this.request<StatusReply>(w, { t: 'status' }, 'status')),
    );
    return {
      connected: replies.reduce((a, r) => a + r.connected, 0),
      total: replies.reduce((a, r) => a + r.total, 0),
    };
  }

  /** Closes every socket (stop the server first: a Parley would otherwise process every departure). */
  async reset(): Promise<void> {
    await Promise.all(this.procs.map((_, w) => this.request(w, { t: 'reset' }, 'reset')));
    this.counts = this.procs.map(() => 0);
  }

  /** Ends the workers (their sockets close with them). */
  async close(): Promise<void> {
    await Promise.all(this.procs.map((p) => stopChild(p, 5000)));
  }
}
