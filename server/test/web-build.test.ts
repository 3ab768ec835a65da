import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/*
 * `npm start` builds the web client with web's `build` script: it must make a production bundle whatever NODE_ENV
 * the shell has (with NODE_ENV=development, a plain `vite build` inlined React's development build: 557 KB instead
 * of 329 KB, with its warnings), and ship web/public (robots.txt, favicon.ico) beside it.
 */

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const out = mkdtempSync(path.join(os.tmpdir(), 'parley-web-build-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("web's build script", () => {
  it(
    'makes a production bundle even under NODE_ENV=development, with the public files',
    { timeout: 120_000 },
    async () => {
      await run('npm', ['run', 'build', '-w', '@parley/web', '--', '--outDir', out, '--emptyOutDir'], {
        cwd: repo,
        env: { ...process.env, NODE_ENV: 'development' },
      });
      const assets = readdirSync(path.join(out, 'assets'));
      const js = assets.filter((f) => f.endsWith('.js'));
      expect(js.length).toBeGreaterThan(0);
      for (const f of js) {
        expect(f, 'hashed name').toMatch(/-[\w-]{8}\.js$/);
        // A warning only React's development build carries.
        expect(readFileSync(path.join(out, 'assets', f), 'utf8')).not.toContain('was not wrapped in act');
      }
      expect(readdirSync(out).sort()).toEqual(
        expect.arrayContaining(['favicon.ico', 'index.html', 'robots.txt']),
      );
      expect(readFileSync(path.join(out, 'index.html'), 'utf8')).toMatch(/<meta\s+name="description"/);
    },
  );
});
