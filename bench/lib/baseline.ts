import path from 'node:path';
import { spawnNode, stopChild, until } from './proc.js';
import { cleanEnv, freePort, ROOT } from './server.js';

export type BaselineKind = 'socket.io' | 'ws';

/** A running baseline broadcast server. */
export interface BaselineServer {
  kind: BaselineKind;
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const SCRIPTS: Record<BaselineKind, string> = {
  'socket.io': 'bench/baselines/socketio.mjs',
  ws: 'bench/baselines/ws.mjs',
};

/**
 * Starts a small server (`node <args>` with PORT set) as a child process, pinned to `cpu` when given, and resolves
 * once it prints "listening". Used for the baselines and the ingest scenario's ack-only server.
 */
export async function spawnListening(
  name: string,
  args: string[],
  cpu?: 0 | 1,
  fixedPort?: number,
): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const port = fixedPort ?? (await freePort());
  const child = spawnNode(args, {
    cwd: ROOT,
    cpu,
    env: { ...cleanEnv(), NODE_ENV: 'production', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const up = await until(
    () => {
      if (child.exitCode !== null) throw new Error(`${name} exited:\n${out}`);
      return out.includes('listening');
    },
    20_000,
    20,
  );
  if (!up) {
    await stopChild(child);
    throw new Error(`${name} did not start within 20 s:\n${out}`);
  }
  return { port, pid: child.pid!, stop: () => stopChild(child) };
}

/**
 * Starts bench/baselines/<kind> as a child process (pinned to `cpu` when given) and resolves once it listens; on
 * `port` when given (a restart), else on a free one.
 */
export async function runBaseline(
  kind: BaselineKind,
  opts: { cpu?: 0 | 1; port?: number } = {},
): Promise<BaselineServer> {
  const { port, pid, stop } = await spawnListening(
    `${kind} baseline`,
    [path.join(ROOT, SCRIPTS[kind])],
    opts.cpu,
    opts.port,
  );
  return {
    kind,
    url: kind === 'ws' ? `ws://127.0.0.1:${port}` : `http://127.0.0.1:${port}`,
    port,
    pid,
    stop,
  };
}
