import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, devices } from '@playwright/test';

/*
 * Browser tests against a real Parley server (from source, with the built web client) on a free port with a
 * throwaway DATA_DIR. `npm run test:e2e` builds the web client first. The port and directory are chosen once,
 * in the runner process, and reach the workers through the environment.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function freePort(): string {
  return execFileSync(process.execPath, [
    '-e',
    "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})",
  ]).toString();
}

process.env.PARLEY_E2E_PORT ??= freePort();
process.env.PARLEY_E2E_DATA ??= mkdtempSync(path.join(tmpdir(), 'parley-e2e-'));
const port = process.env.PARLEY_E2E_PORT;
const baseURL = `http://127.0.0.1:${port}`;

export const chromium = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
};

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: path.join(root, 'test-results'),
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: process.env.CI ? 2 : 2,
  // One retry in CI: two workers and the server share 2 cores, and a flow of several live steps between two browsers
  // can miss a 10 s expectation on a loaded machine; a broken flow fails both attempts, and the report lists every
  // retried test as flaky. (The settings spec's phone flake was a race in support/axe.ts showSidebar, now fixed.)
  retries: process.env.CI ? 1 : 0,
  forbidOnly: Boolean(process.env.CI),
  reporter: process.env.CI
    ? [['list'], ['html', { open: 'never', outputFolder: path.join(root, 'playwright-report') }]]
    : 'list',
  globalTeardown: './support/teardown.ts',
  use: {
    ...devices['Desktop Chrome'],
    baseURL,
    launchOptions: chromium,
    viewport: { width: 1280, height: 800 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    colorScheme: 'light',
    reducedMotion: 'reduce',
  },
  webServer: {
    command: 'node --import tsx --conditions=parley-source server/src/index.ts',
    cwd: root,
    url: `${baseURL}/api/health`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      PORT: port,
      HOST: '127.0.0.1',
      DATA_DIR: process.env.PARLEY_E2E_DATA,
      LOG_LEVEL: 'warn',
      // Every test signs in from 127.0.0.1: the per-address auth limit is for the open internet.
      RATE_LIMIT_AUTH_PER_MIN: '100000',
      // Tests seed history quickly; the message rate limit has its own test (composer.spec.ts, own server).
      MESSAGE_BURST: '1000',
      MESSAGE_RATE_PER_SEC: '1000',
      NODE_ENV: 'test',
    },
  },
});
