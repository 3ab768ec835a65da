import { describe, expect, it } from 'vitest';
import { describeFigures, offlineCatchUp } from './offline.catchup.js';

/* F4a: a client offline for 10 s catches up with no gap and no duplicate (scenario in offline.catchup.ts). */

describe('F4a offline for 10 seconds', () => {
  it(
    'F4a a client offline for 10 s catches up with no gap and no duplicate',
    { timeout: 90_000 },
    async () => {
      const f = await offlineCatchUp(10_000, 40);
      console.warn(describeFigures(f));
      expect(f.sentWhileOffline).toBeGreaterThan(100);
    },
  );
});
