import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from './env.js';
import { freshPostgresDatabase, PG_URL } from './server.js';

export { cleanEnv };

/*
 * Parley in a process of its own, for tests that must kill it, restart it or watch it exit: the real entry point
 * (`server/src/index.ts` through tsx), its own environment, its port read from the "listening" log line.
 */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Spawns the real entry point; stdout/stderr are piped. */
export const spawnParley = (env: Record<string, string>): ChildProcess =>
  spawn(process.execPath, ['--import', 'tsx', '--conditions=parley-source', 'server/src/index.ts'], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

export interface ParleyProcess {
  proc: ChildProcess;
  url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts and tracks child servers and what they need (fresh PostgreSQL databases), and ends them: only the
 * processes it started, by their pid. Call `cleanup()` in afterEach.
 */
export class ChildServers {
  private children: ChildProcess[] = [];
  private cleanups: (() => Promise<void> | void)[] = [];

  onCleanup(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  async cleanup(): Promise<void> {
    for (const c of this.children.splice(0))
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const fn of this.cleanups.splice(0).reverse()) await fn();
  }

  /** `{DATABASE_URL}` of a fresh PostgreSQL database when the suite runs on PostgreSQL; `{}` (SQLite) otherwise. */
  async database(): Promise<Record<string, string>> {
    if (!PG_URL) return {};
    const db = await freshPostgresDatabase(PG_URL);
    this.onCleanup(db.drop);
    return { DATABASE_URL: db.url };
  }

  /** Starts a server and resolves once it logs the port it listens on. */
  async start(env: Record<string, string>, timeoutMs = 45_000): Promise<ParleyProcess> {
    const proc = spawnParley({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env });
    this.children.push(proc);
    let out = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      proc.on('exit', (code, signal) => resolve({ code, signal })),
    );
    const port = await new Promise<number>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(
        () => reject(new Error(`no "listening" line within ${timeoutMs} ms:\n${out}`)),
        timeoutMs,
      );
      proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        buffered += d.toString();
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          try {
            const entry = JSON.parse(line) as { msg?: string; port?: unknown };
            if (typeof entry.port === 'number' && /listening/i.test(entry.msg ?? '')) {
              clearTimeout(timer);
              resolve(entry.port);
            }
          } catch {
            // not a JSON log line
          }
        }
      });
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`the server exited (code ${code}, signal ${signal}) before listening:\n${out}`));
      });
    });
    return { proc, url: `http://127.0.0.1:${port}`, output: () => out, exited };
  }
}

/** Resolves with the exit of `p`, or fails after `ms` (with what it printed). */
export async function exitWithin(p: ParleyProcess, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running ${ms} ms after SIGTERM:\n${p.output()}`)), ms);
  });
  try {
    return await Promise.race([p.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `p`'s stdout has ended (everything it printed has been read). */
export function outputEnded(p: ParleyProcess): Promise<void> {
  const out = p.proc.stdout!;
  return out.readableEnded ? Promise.resolve() : new Promise((resolve) => out.once('end', () => resolve()));
}
