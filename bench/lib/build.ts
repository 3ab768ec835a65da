import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './server.js';

/** The newest modification time (ms) of any file under `dir`. */
function newest(dir: string): number {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

const SOURCES = ['packages/protocol/src', 'server/src'];
const ENTRY = 'server/dist/index.js';

/**
 * Builds the protocol package and the server when server/dist is missing or older than their sources: the
 * benchmark runs the built server, and a build takes ~30 s on this machine, too long to repeat for every smoke run.
 */
export function buildIfStale(log: (line: string) => void): void {
  const entry = path.join(ROOT, ENTRY);
  const built = existsSync(entry) ? statSync(entry).mtimeMs : 0;
  const changed = Math.max(...SOURCES.map((d) => newest(path.join(ROOT, d))));
  if (built >= changed) return;
  log(built ? 'server/dist is older than its sources: building' : 'server/dist is missing: building');
  for (const ws of ['@parley/protocol', '@parley/server'])
    execFileSync('npm', ['run', 'build', '-w', ws], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
}
