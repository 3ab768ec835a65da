import { defineConfig } from 'vitest/config';

/*
 * The hardening suite (`npm run test:hardening`, issue 8): abuse, bad input and faults, one case per test, each named
 * by the id docs/SECURITY.md cites. Kept out of the default run (files end in `.hardening.ts`, which the root config
 * does not include) because some cases kill servers, stop databases or wait minutes.
 * Files run in parallel so the long cases (a client offline for 3 minutes) overlap the rest; a file whose case has
 * to measure latency keeps its own timing budget (see the comparisons against an unloaded baseline in each file).
 */
export default defineConfig({
  resolve: { conditions: ['parley-source'] },
  ssr: { resolve: { conditions: ['parley-source'] } },
  test: {
    root: new URL('../../..', import.meta.url).pathname,
    include: ['server/test/hardening/**/*.hardening.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 90_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
