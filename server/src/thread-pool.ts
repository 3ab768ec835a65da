/*
 * libuv's thread pool, on purpose. sharp (libvips), argon2 and the SQLite driver all run their work on it, beside
 * the file system and zlib: with libuv's default of 4 threads, 4 image uploads or a burst of logins held every
 * thread and each database read waited seconds behind them (docs/SECURITY.md T1, T2).
 *
 * The pool's size is read by libuv once, when the pool first starts: for an ES module entry point that is before
 * any of our code runs (the loader reads the entry file through it), so UV_THREADPOOL_SIZE can only come from the
 * environment the process starts with (`npm start`, the Dockerfile and the cluster's workers set it; see
 * docs/CONFIGURATION.md). Whatever it is, image work and password hashing get at most the threads that leave
 * DB_RESERVED_THREADS free, so the database always has threads of its own.
 */

/**
 * What the process must start with (`npm start`, the Dockerfile, cluster workers, the hardening suite's child):
 * read by libuv and by glibc's allocator before any of our code runs.
 * - UV_THREADPOOL_SIZE: 1 image + 2 hashes + 5 for everything else (see planThreads).
 * - glibc's mmap threshold, fixed at 1 MiB: glibc otherwise raises it to the largest block freed so far (up to
 *   32 MiB), after which libvips' strip buffers of a large image come from the heap and stay with the process once
 *   freed: one 40 MP strip left RSS ~350 MB higher for good; with the fixed threshold it goes back to within a few
 *   MB (docs/SECURITY.md T1). Costs an mmap/munmap per block of 1 MiB or more.
 */
export const START_ENV = {
  UV_THREADPOOL_SIZE: '8',
  GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=1048576',
} as const;

/** libuv's default pool size, when UV_THREADPOOL_SIZE is unset. */
export const LIBUV_DEFAULT_THREADS = 4;
/** The size we start with (START_ENV). */
export const RECOMMENDED_THREADS = Number(START_ENV.UV_THREADPOOL_SIZE);
/** Threads neither image work nor hashing may take: the database, file system and zlib always have these. */
export const DB_RESERVED_THREADS = 2;

/** The pool size libuv uses for this process: UV_THREADPOOL_SIZE as libuv reads it (1–1024), else 4. */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number.parseInt(env.UV_THREADPOOL_SIZE ?? '', 10);
  if (!Number.isFinite(n) || n <= 0) return LIBUV_DEFAULT_THREADS;
  return Math.min(1024, n);
}

export interface ThreadPlan {
  /** libuv's pool size. */
  size: number;
  /** Image decodes/encodes at once (sharp). */
  images: number;
  /** Password hashes at once (argon2). */
  hashes: number;
  /** Threads left for the database, the file system and zlib. */
  reserved: number;
}

/**
 * Shares the pool: each of images and hashes gets what was asked, but never so much that fewer than
 * DB_RESERVED_THREADS are left (each keeps at least one thread, so a pool under 4 reserves less). Hashes give way
 * first: a login waits ~30 ms per hash ahead of it, an image a second or more.
 */
export function planThreads(size: number, wanted: { images: number; hashes: number }): ThreadPlan {
  const room = Math.max(2, size - DB_RESERVED_THREADS);
  const images = Math.max(1, Math.min(wanted.images, room - 1));
  const hashes = Math.max(1, Math.min(wanted.hashes, room - images));
  return { size, images, hashes, reserved: Math.max(0, size - images - hashes) };
}

/** Is glibc's mmap threshold fixed (START_ENV), so that large images' memory goes back? Logged at start. */
export const allocatorTuned = (env: NodeJS.ProcessEnv = process.env) =>
  /mmap_threshold=/.test(env.GLIBC_TUNABLES ?? '') || env.MALLOC_MMAP_THRESHOLD_ !== undefined;
