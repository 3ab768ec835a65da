import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../../server/src/test-support/env.js';
import { freshPostgresDatabase } from '../../server/src/test-support/postgres.js';
import { spawnNode, stopChild, until } from './proc.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A running Parley server started by {@link startParley}. */
export interface ParleyServer {
  url: string;
  port: number;
  pid: number;
  /** The environment the server was started with (DATA_DIR, DATABASE_URL, JWT_SECRET...). */
  env: Record<string, string>;
  nodeArgs: string[];
  /** Everything it printed so far. */
  output(): string;
  /** Stops the server and removes its data directory / database. */
  stop(): Promise<void>;
  /** Stops the server but keeps its data, so that {@link restartParley} can start it again on the same data. */
  pause(): Promise<void>;
}

/** Options for {@link startParley}. */
export interface StartParleyOptions {
  db: 'sqlite' | 'postgres';
  pgUrl?: string;
  env?: Record<string, string>;
  /** Pin the server to this core (with taskset) when given. */
  cpu?: 0 | 1;
  /** Extra node flags, e.g. `--cpu-prof` (defaults to BENCH_NODE_ARGS, split on spaces, so any run can profile). */
  nodeArgs?: string[];
}

const defaultNodeArgs = () => (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

export { cleanEnv };

/** A free TCP port on 127.0.0.1 (released before it is returned; the server binds it a moment later). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/**
 * Settings that would otherwise throttle a load generator that opens thousands of sessions from one address and
 * sends far more than a person: the benchmark measures the server, not its rate limits.
 */
const BENCH_ENV: Record<string, string> = {
  NODE_ENV: 'production',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'warn',
  ACCESS_TOKEN_TTL: '24h',
  RATE_LIMIT_AUTH_PER_MIN: '100000000',
  LOGIN_MAX_FAILURES: '100000000',
  MESSAGE_RATE_PER_SEC: '100000',
  MESSAGE_BURST: '100000',
  // Per-user write limits (issue 13): the load generator edits, joins, marks read and types far more than a person.
  LIMIT_ROOM_CREATE: '100000000/1s',
  LIMIT_ROOM_UPDATE: '100000000/1s',
  LIMIT_MEMBERSHIP: '100000000/1s',
  LIMIT_MESSAGE_EDIT: '100000000/1s',
  LIMIT_PROFILE: '100000000/1s',
  LIMIT_EMAIL_CHANGE: '100000000/1s',
  LIMIT_UPLOAD: '100000000/1s',
  LIMIT_DM_OPEN: '100000000/1s',
  LIMIT_READ_MARKER: '100000000/1s',
  LIMIT_TYPING: '100000000/1s',
  LIMIT_SEARCH: '100000000/1s',
  // One address opens every socket of the run, many of them per user.
  MAX_SOCKETS_PER_USER: '1000000',
  MAX_SOCKETS_PER_ADDRESS: '1000000',
  SOCKET_HANDSHAKES_PER_ADDRESS_PER_SEC: '1000000',
  // The minimum argon2 memory cost: seeding thousands of users must not dominate a run (scenario 6 sets its own).
  PASSWORD_HASH_MEMORY_KIB: '8192',
};

/**
 * Spawns the built server (server/dist/index.js) with a fresh DATA_DIR (or a fresh PostgreSQL database), benchmark
 * rate limits lifted, NODE_ENV=production, and resolves once /api/health answers 200.
 */
export async function startParley(opts: StartParleyOptions): Promise<ParleyServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
  let db: { url: string; drop: () => Promise<void> } | null = null;
  if (opts.db === 'postgres') {
    if (!opts.pgUrl) throw new Error('startParley: db "postgres" needs pgUrl');
    db = await freshPostgresDatabase(opts.pgUrl);
  }
  const env: Record<string, string> = {
    ...BENCH_ENV,
    DATA_DIR: dataDir,
    JWT_SECRET: randomBytes(32).toString('hex'),
    ...(db ? { DATABASE_URL: db.url } : {}),
    ...opts.env,
  };
  const cleanup = async () => {
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    return await launch(env, opts.cpu, opts.nodeArgs ?? defaultNodeArgs(), cleanup);
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * Starts Parley again on the data a paused server left (same DATA_DIR, database and JWT secret); on the same port
 * with `samePort`, as a restarted server comes back at the address its clients reconnect to.
 */
export async function restartParley(
  server: ParleyServer,
  cpu?: 0 | 1,
  opts: { samePort?: boolean } = {},
): Promise<ParleyServer> {
  const { PORT: _port, ...env } = server.env;
  const cleanup = async () => {
    await server.stop();
  };
  return launch(env, cpu, server.nodeArgs, cleanup, opts.samePort ? server.port : undefined);
}

async function launch(
  baseEnv: Record<string, string>,
  cpu: 0 | 1 | undefined,
  nodeArgs: string[],
  cleanup: () => Promise<void>,
  fixedPort?: number,
): Promise<ParleyServer> {
  const port = fixedPort ?? (await freePort());
  const env = { ...baseEnv, PORT: String(port) };
  const child = spawnNode([...nodeArgs, path.join(ROOT, 'server/dist/index.js')], {
    cwd: ROOT,
    cpu,
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const healthy = await until(
    async () => {
      if (child.exitCode !== null) throw new Error(`Parley exited (code ${child.exitCode}):\n${out}`);
      try {
        return (await fetch(`${url}/api/health`)).status === 200;
      } catch {
        return false;
      }
    },
    60_000,
    fixedPort ? 20 : 100,
  );
  if (!healthy) {
    await stopChild(child);
    throw new Error(`Parley did not answer /api/health within 60 s:\n${out}`);
  }
  let stopped = false;
  return {
    url,
    port,
    pid: child.pid!,
    env,
    nodeArgs,
    output: () => out,
    pause: async () => {
      await stopChild(child);
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopChild(child);
      await cleanup();
    },
  };
}
