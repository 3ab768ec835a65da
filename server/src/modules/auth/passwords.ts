import { hash, verify, type Algorithm } from '@node-rs/argon2';
import pLimit from 'p-limit';

/** `Algorithm.Argon2id`; the enum is a const enum, which isolated modules cannot read. */
const ARGON2ID = 2 as Algorithm;

/** Hashes on libuv's thread pool (the native module is async), so logins never stall the event loop. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Spends the time of one verification, so an unknown user answers as slowly as a wrong password. */
  burn(password: string): Promise<void>;
  /** Hashes running now and waiting for a thread (for metrics and tests). */
  readonly load: { running: number; waiting: number };
}

/**
 * argon2id with OWASP's second recommended profile (19 MiB, t=2, p=1) unless configured otherwise.
 *
 * At most `concurrency` hashes run at once; the others wait here, in arrival order. argon2 runs on libuv's thread
 * pool, which the SQLite driver, sharp and the file system share: 55 failed logins at once used to hold every
 * thread for seconds and stall every database read with them (docs/SECURITY.md T2). The cap keeps threads free for
 * the database whatever arrives (see thread-pool.ts for how it is chosen).
 */
export function createArgon2Hasher(memoryKib = 19456, concurrency = 2): PasswordHasher {
  const options = { algorithm: ARGON2ID, memoryCost: memoryKib, timeCost: 2, parallelism: 1 };
  const limit = pLimit(Math.max(1, concurrency));
  let dummy: Promise<string> | null = null;
  const verifyLimited = (stored: string, password: string) =>
    limit(async () => {
      try {
        return await verify(stored, password);
      } catch {
        return false;
      }
    });
  return {
    hash: (password) => limit(() => hash(password, options)),
    verify: verifyLimited,
    burn: async (password) => {
      dummy ??= limit(() => hash('parley-timing-equaliser', options));
      await verifyLimited(await dummy.catch(() => ''), password);
    },
    get load() {
      return { running: limit.activeCount, waiting: limit.pendingCount };
    },
  };
}
