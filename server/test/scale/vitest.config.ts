import { defineConfig } from 'vitest/config';

/*
 * The scale-out suites (`npm run test:redis`): several Parley nodes sharing one PostgreSQL database and one Redis.
 * Kept out of the default run (their files end in `.scale.ts`) because they need both services and kill processes.
 * One file at a time: they start several servers each and measure fault-recovery times on 2 cores.
 */
export default defineConfig({
  resolve: { conditions: ['parley-source'] },
  ssr: { resolve: { conditions: ['parley-source'] } },
  test: {
    root: new URL('../../..', import.meta.url).pathname,
    include: ['server/test/scale/**/*.scale.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 90_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
