import { describe, expect, it } from 'vitest';
import { createArgon2Hasher } from '../src/modules/auth/passwords.js';
import { planThreads, threadPoolSize } from '../src/thread-pool.js';

/* How libuv's pool is shared out (server/src/thread-pool.ts, docs/DECISIONS.md D19). */

describe('threadPoolSize', () => {
  it('reads UV_THREADPOOL_SIZE as libuv does: 4 when unset or invalid, at most 1024', () => {
    expect(threadPoolSize({})).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '' })).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: 'lots' })).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '0' })).toBe(4);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '8' })).toBe(8);
    expect(threadPoolSize({ UV_THREADPOOL_SIZE: '5000' })).toBe(1024);
  });
});

describe('planThreads', () => {
  it('gives images and hashes what they ask when the pool leaves 2 threads free', () => {
    expect(planThreads(8, { images: 1, hashes: 2 })).toEqual({ size: 8, images: 1, hashes: 2, reserved: 5 });
    expect(planThreads(16, { images: 4, hashes: 4 })).toEqual({
      size: 16,
      images: 4,
      hashes: 4,
      reserved: 8,
    });
  });

  it('shrinks hashes first, then images, to keep 2 threads for the database; each keeps at least 1', () => {
    expect(planThreads(4, { images: 1, hashes: 2 })).toEqual({ size: 4, images: 1, hashes: 1, reserved: 2 });
    expect(planThreads(5, { images: 4, hashes: 4 })).toEqual({ size: 5, images: 2, hashes: 1, reserved: 2 });
    expect(planThreads(2, { images: 1, hashes: 2 })).toEqual({ size: 2, images: 1, hashes: 1, reserved: 0 });
  });
});

describe('PasswordHasher concurrency', () => {
  it('runs at most `concurrency` hashes at once; the rest wait, and all complete', async () => {
    const hasher = createArgon2Hasher(8192, 2);
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, hasher.load.running)), 1);
    const hashes = await Promise.all(Array.from({ length: 6 }, (_, i) => hasher.hash(`password-${i}`)));
    clearInterval(watch);
    expect(most).toBeLessThanOrEqual(2);
    expect(hasher.load).toEqual({ running: 0, waiting: 0 });
    expect(await hasher.verify(hashes[3]!, 'password-3')).toBe(true);
    expect(await hasher.verify(hashes[3]!, 'password-4')).toBe(false);
  });

  it('counts the waiting ones', async () => {
    const hasher = createArgon2Hasher(8192, 1);
    const all = Promise.all(Array.from({ length: 3 }, (_, i) => hasher.hash(`p-${i}`)));
    // p-limit starts queued work on a later microtask; a hash takes milliseconds.
    await new Promise((resolve) => setImmediate(resolve));
    expect(hasher.load).toEqual({ running: 1, waiting: 2 });
    await all;
  });
});
