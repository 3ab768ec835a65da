import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

/** CPU time (user + system, seconds) and resident set size (bytes) of one process. */
export interface ProcessSample {
  cpuSeconds: number;
  rssBytes: number;
  /** When the sample was taken, ms (performance.now()). */
  at: number;
}

/** Clock ticks per second for /proc/<pid>/stat; 100 on every Linux this runs on (getconf CLK_TCK). */
const CLK_TCK = 100;

/** Reads /proc/<pid>/stat (utime + stime) and /proc/<pid>/status (VmRSS). */
export async function sampleProcess(pid: number): Promise<ProcessSample> {
  const [stat, status] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8'),
    readFile(`/proc/${pid}/status`, 'utf8'),
  ]);
  // The command name (field 2) may contain spaces: count fields from the closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / CLK_TCK, rssBytes: rssKb * 1024, at: performance.now() };
}

/** Server CPU use (fraction of one core) between two samples. */
export const cpuShare = (a: ProcessSample, b: ProcessSample): number =>
  b.at > a.at ? (b.cpuSeconds - a.cpuSeconds) / ((b.at - a.at) / 1000) : 0;

const HAS_TASKSET = existsSync('/usr/bin/taskset');

/** Every child spawned here that has not exited yet: whatever happens to the run, none is left behind. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Spawns `node <args>`, pinned to `cpu` with taskset when asked and available (taskset execs node, so the pid is
 * node's), with the open-file limit raised to the hard limit (the idle-socket scenario holds ~20,000 sockets).
 */
export function spawnNode(args: string[], opts: SpawnOptions & { cpu?: 0 | 1 }): ChildProcess {
  const pin = opts.cpu !== undefined && HAS_TASKSET ? ['taskset', '-c', String(opts.cpu)] : [];
  const cmd = [...pin, process.execPath, ...args];
  // `exec` keeps the pid: bash becomes taskset, which becomes node.
  const child = spawn('bash', ['-c', 'ulimit -n "$(ulimit -Hn)"; exec "$@"', 'bench', ...cmd], opts);
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** The open-file hard limit of this process tree (what a child can raise its limit to). */
export async function hardFdLimit(): Promise<number> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const m = /Max open files\s+\d+\s+(\d+|unlimited)/.exec(limits);
  return m?.[1] === 'unlimited' || !m ? 1_000_000 : Number(m[1]);
}

/** Resolves once `child` exited; sends SIGTERM, then SIGKILL after `graceMs`. Only ever signals this child. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

/** Polls `check` every `everyMs` until it returns true, for at most `timeoutMs`. */
export async function until(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}
