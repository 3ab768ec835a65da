import { hash, verify, type Algorithm } from '@node-rs/argon2';

/** `Algorithm.Argon2id`; the enum is a const enum, which isolated modules cannot read. */
const ARGON2ID = 2 as Algorithm;

/** Hashes on libuv's thread pool (the native module is async), so logins never stall the event loop. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Spends the time of one verification, so an unknown user answers as slowly as a wrong password. */
  burn(password: string): Promise<void>;
}

/** argon2id with OWASP's second recommended profile (19 MiB, t=2, p=1) unless configured otherwise. */
export function createArgon2Hasher(memoryKib = 19456): PasswordHasher {
  const options = { algorithm: ARGON2ID, memoryCost: memoryKib, timeCost: 2, parallelism: 1 };
  let dummy: Promise<string> | null = null;
  return {
    hash: (password) => hash(password, options),
    verify: async (stored, password) => {
      try {
        return await verify(stored, password);
      } catch {
        return false;
      }
    },
    burn: async (password) => {
      dummy ??= hash('parley-timing-equaliser', options);
      await verify(await dummy, password).catch(() => false);
    },
  };
}
