/** A running Parley server started by {@link startParley}. */
export interface ParleyServer {
  url: string;
  port: number;
  pid: number;
  /** The environment the server was started with (DATA_DIR, DATABASE_URL, JWT_SECRET...). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Options for {@link startParley}. */
export interface StartParleyOptions {
  db: 'sqlite' | 'postgres';
  pgUrl?: string;
  env?: Record<string, string>;
  /** Pin the server to this core (with taskset) when given. */
  cpu?: 0 | 1;
}

/**
 * Spawns the built server (server/dist/index.js) with a fresh DATA_DIR (or a fresh PostgreSQL database), benchmark
 * rate limits lifted, NODE_ENV=production, and resolves once /api/health answers 200.
 */
export async function startParley(opts: StartParleyOptions): Promise<ParleyServer> {
  throw new Error(`startParley not implemented yet (${opts.db})`);
}
