import type { TargetKind } from '../loadgen/protocol.js';
import { runBaseline } from './baseline.js';
import { seedUsers } from './seed.js';
import { restartParley, startParley, type ParleyServer } from './server.js';
import type { BenchOptions } from './types.js';

export const KINDS: TargetKind[] = ['parley', 'socket.io', 'ws'];

/** A server under test, with what a load generator needs to talk to it. */
export interface RunningTarget {
  kind: TargetKind;
  url: string;
  pid: number;
  /** Parley: one access token per member (guests, all members of `general`) and the id of `general`. */
  tokens?: string[];
  roomId?: string;
  /** Stops it for good (Parley: and deletes its data). */
  stop(): Promise<void>;
}

/** Where servers and load generators run: cores 0 and 1 with --taskset, anywhere otherwise. */
export const cores = (opts: BenchOptions): { server?: 0 | 1; loadgen?: 0 | 1 } =>
  opts.taskset ? { server: 0, loadgen: 1 } : {};

/**
 * A Parley with `users` seeded guests that can be paused and resumed on the same data: the A/B/A/B repetitions of a
 * scenario seed once, and every repetition starts from a freshly started process.
 */
export class ParleyFixture {
  private server: ParleyServer | null = null;
  private tokens: string[] = [];
  private roomId = '';

  constructor(
    private readonly opts: BenchOptions,
    private readonly users: number,
    private readonly db: 'sqlite' | 'postgres' = 'sqlite',
  ) {}

  /** Starts (or restarts) the server; seeds the users the first time. */
  async start(): Promise<RunningTarget> {
    const cpu = cores(this.opts).server;
    if (!this.server) {
      this.server = await startParley({ db: this.db, pgUrl: this.opts.pgUrl, cpu });
      const started = performance.now();
      const seeded = await seedUsers(this.server, this.users, { concurrency: 32 });
      this.tokens = seeded.users.map((u) => u.accessToken);
      this.roomId = seeded.roomId;
      this.opts.log(
        `    seeded ${this.users} guests in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    } else {
      this.server = await restartParley(this.server, cpu);
    }
    const server = this.server;
    return {
      kind: 'parley',
      url: server.url,
      pid: server.pid,
      tokens: this.tokens,
      roomId: this.roomId,
      stop: () => server.pause(),
    };
  }

  /** Stops the server and deletes its data. */
  async dispose(): Promise<void> {
    await this.server?.stop();
    this.server = null;
  }
}

/** Starts a baseline as a {@link RunningTarget}. */
export async function startBaseline(kind: 'socket.io' | 'ws', opts: BenchOptions): Promise<RunningTarget> {
  const b = await runBaseline(kind, { cpu: cores(opts).server });
  return { kind, url: b.url, pid: b.pid, stop: () => b.stop() };
}

/**
 * Access tokens for `count` Parley sockets: socket i uses user i mod users, so the first sockets are every user's
 * first (and the only ones whose arrival is a presence change), the rest are further "tabs". Undefined for baselines.
 */
export const tokensFor = (t: RunningTarget, count: number): string[] | undefined =>
  t.tokens ? Array.from({ length: count }, (_, i) => t.tokens![i % t.tokens!.length]!) : undefined;

/** A ratio-friendly best-of: the maximum of the values that exist, or null. */
export const bestOf = (values: (number | null | undefined)[]): number | null => {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length ? Math.max(...v) : null;
};
