import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

/*
 * A PostgreSQL server of a test's own, which the test may stop and start again: for database outages. The shared
 * throwaway server of scripts/services.sh serves every other suite and must never be stopped. Trust auth on
 * 127.0.0.1 only, fsync off (a test cluster), removed with its directory at the end.
 */

const run = promisify(execFile);

/** The PostgreSQL server binaries ($PGBIN, else version 15, else the newest under /usr/lib/postgresql), or null. */
export function postgresBinDir(): string | null {
  const complete = (d: string) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(path.join(d, b)));
  if (process.env.PGBIN && complete(process.env.PGBIN)) return process.env.PGBIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of ['15', ...versions]) {
    const d = path.join(root, v, 'bin');
    if (complete(d)) return d;
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A private PostgreSQL cluster: `create()`, then `stop()` / `start()` at will, `destroy()` at the end. */
export class PrivatePostgres {
  private running = false;

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly port: number,
  ) {}

  /** The superuser's URL (database `postgres`), e.g. for freshPostgresDatabase. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  /** initdb in a temp directory and start it on a free port; ready when it resolves. */
  static async create(): Promise<PrivatePostgres> {
    const bin = postgresBinDir();
    if (!bin) throw new Error('PostgreSQL server binaries not found (apt-get install -y postgresql)');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parley-pg-'));
    const pg = new PrivatePostgres(bin, dir, await freePort());
    try {
      // initdb refuses to run as root: the cluster then belongs to the `postgres` user.
      if (process.getuid?.() === 0) {
        const { stdout } = await run('id', ['-u', 'postgres']);
        const { stdout: gid } = await run('id', ['-g', 'postgres']);
        chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
      }
      await pg.pg('initdb', [
        '-D',
        pg.dataDir,
        '-U',
        'postgres',
        '--auth=trust',
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
      ]);
      await pg.start();
      return pg;
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  private pg(tool: string, args: string[]) {
    const file = path.join(this.bin, tool);
    return process.getuid?.() === 0
      ? run('runuser', ['-u', 'postgres', '--', file, ...args])
      : run(file, args);
  }

  /** Starts the server (again) and waits until it accepts connections. */
  async start(): Promise<void> {
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
    await this.pg('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      path.join(this.dir, 'pg.log'),
      '-w',
      '-t',
      '30',
      '-o',
      opts,
      'start',
    ]);
    this.running = true;
  }

  /** Stops the server (`fast`: open connections are terminated, as in an operator's restart). */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '30', 'stop']);
    this.running = false;
  }

  /** Stops it if running and removes its files. */
  async destroy(): Promise<void> {
    if (this.running) await this.stop('immediate').catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A new, empty database on the server `adminUrl` names; `drop` removes it (also with connections open). */
export async function freshPostgresDatabase(
  adminUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `parley_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
