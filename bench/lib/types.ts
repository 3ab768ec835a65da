/** Options every scenario receives from bench/run.ts. */
export interface BenchOptions {
  /** smoke: tiny sizes, < 60 s for the whole run, used by CI. */
  mode: 'full' | 'quick' | 'smoke';
  /** Pin servers to core 0 and load generators to core 1. */
  taskset: boolean;
  /** PostgreSQL for the scenarios that run on both (from BENCH_DATABASE_URL or TEST_DATABASE_URL). */
  pgUrl?: string;
  log: (line: string) => void;
}

/** One line of the results table. */
export interface ResultRow {
  /** e.g. '1 fan-out' */
  scenario: string;
  /** e.g. 'N=1000' */
  case: string;
  /** e.g. 'deliveries/s at p99<=100ms' */
  metric: string;
  unit: string;
  higherIsBetter: boolean;
  parley: number | null;
  /** e.g. { 'socket.io': 55000, ws: 110000 }; {} if none applies. */
  baselines: Record<string, number | null>;
  /** e.g. '>= 1.0x socket.io' */
  target?: { text: string; met: boolean | null };
  note?: string;
}

/** A benchmark scenario, listed in bench/scenarios/index.ts. */
export interface Scenario {
  id: string;
  title: string;
  run(opts: BenchOptions): Promise<ResultRow[]>;
}
