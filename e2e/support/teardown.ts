import { rmSync } from 'node:fs';

/** Removes the throwaway DATA_DIR of the shared test server. */
export default function teardown(): void {
  const dir = process.env.PARLEY_E2E_DATA;
  if (dir && dir.includes('parley-e2e-')) rmSync(dir, { recursive: true, force: true });
}
