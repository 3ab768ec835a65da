import { defineConfig } from 'vitest/config';

/*
 * The hardening suite (`npm run test:hardening`, issue 8): abuse, bad input and faults, one case per test, each named
 * by the id docs/SECURITY.md cites. Kept out of the default run (files end in `.hardening.ts`, which the root config
 * does not include) because some cases kill servers, stop databases or wait minutes.
 * Files run in parallel so the long cases (a client offline for 3 minutes) overlap the rest. The files that compare
 * other users' latency during a flood with the same users' latency without it (S3, S6, S7) run afterwards, one at a
 * time: run alongside the other files' floods and crashes, they measured the neighbours, not their own flood.
 * They get one retry: a p99 of ~100 samples on a shared 2-core machine can be set by one stall of whatever else the
 * machine runs (seen: 95.647 against a bound of 95.640 ms while other builds ran); a flood the server does not
 * contain fails both attempts.
 */
const LATENCY = [
  'server/test/hardening/socket-abuse-flood.hardening.ts',
  'server/test/hardening/connect-flood.hardening.ts',
];

export default defineConfig({
  resolve: { conditions: ['parley-source'] },
  ssr: { resolve: { conditions: ['parley-source'] } },
  test: {
    root: new URL('../../..', import.meta.url).pathname,
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 90_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'hardening',
          include: ['server/test/hardening/**/*.hardening.ts'],
          exclude: LATENCY,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'hardening-latency',
          include: LATENCY,
          fileParallelism: false,
          retry: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
