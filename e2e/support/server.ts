import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface OwnServer {
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** Kills the process by its pid (SIGKILL: a crash, not a clean shutdown) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts the server again on the same port with the same data. */
  restart(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

/**
 * A Parley server of the test's own, for tests that must stop and restart it (or configure it unusually).
 * Resolves once it logged the port it listens on.
 */
export async function startOwnServer(env: Record<string, string> = {}): Promise<OwnServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-e2e-own-'));
  let child: ChildProcess | null = null;
  let port = 0;

  const start = (wantPort: number) =>
    new Promise<number>((resolve, reject) => {
      const proc = spawn(
        process.execPath,
        ['--import', 'tsx', '--conditions=parley-source', 'server/src/index.ts'],
        {
          cwd: root,
          env: {
            ...process.env,
            PORT: String(wantPort),
            HOST: '127.0.0.1',
            DATA_DIR: dataDir,
            LOG_LEVEL: 'info',
            RATE_LIMIT_AUTH_PER_MIN: '100000',
            NODE_ENV: 'test',
            ...env,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      child = proc;
      let buf = '';
      let stderr = '';
      const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 30_000);
      proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      proc.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        for (const line of buf.split('\n')) {
          try {
            const entry = JSON.parse(line) as { port?: number; msg?: string };
            if (entry.port && /listening/i.test(entry.msg ?? '')) {
              clearTimeout(timer);
              resolve(entry.port);
            }
          } catch {
            // not a complete JSON line yet
          }
        }
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}: ${stderr}`));
      });
    });

  const kill = async () => {
    const proc = child as ChildProcess | null;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null || !proc.pid) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    process.kill(proc.pid, 'SIGKILL');
    await exited;
  };

  port = await start(0);
  const server: OwnServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    get pid() {
      return (child as ChildProcess | null)?.pid ?? 0;
    },
    dataDir,
    kill,
    async restart() {
      await kill();
      await start(port);
    },
    async dispose() {
      await kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}
