import { describe, expect, it } from 'vitest';
import { describeFigures, offlineCatchUp } from './offline.catchup.js';

/*
 * F4b: a client offline for 3 minutes (a real wait: this file runs alongside the rest of the suite) catches up
 * with no gap and no duplicate (scenario in offline.catchup.ts).
 */

describe('F4b offline for 3 minutes', () => {
  it(
    'F4b a client offline for 3 min catches up with no gap and no duplicate',
    { timeout: 300_000 },
    async () => {
      const f = await offlineCatchUp(180_000, 250);
      console.warn(describeFigures(f));
      expect(f.sentWhileOffline).toBeGreaterThan(300);
    },
  );
});
