import pLimit, { type LimitFunction } from 'p-limit';
import { AppError } from '../../errors.js';

/** Uploads of one user being decoded or waiting for it, at most; more at once answer 429. */
export const IMAGES_PER_USER = 2;
/** Uploads waiting for a decode slot on this process, at most; more answer 503 with Retry-After. */
export const MAX_WAITING_IMAGES = 32;

/**
 * Image work (sniffing, decoding, re-encoding, thumbnails) runs `concurrency` at a time; the rest waits here in
 * arrival order. Each sharp call takes one of libuv's threads and, for a large image, a second or more of CPU and
 * up to a few hundred MB: unbounded, six 50 MP uploads held every thread (the database's reads waited behind them
 * for seconds) and took 1.5 GB (docs/SECURITY.md T1). One user may have IMAGES_PER_USER in here at once, and the
 * wait is bounded, so a flood of uploads is refused quickly instead of piling up temp files and open requests.
 * One per app (createApp): the pool it protects is the process's.
 */
export class ImageQueue {
  private limit: LimitFunction;
  private perUser = new Map<number, number>();

  constructor(concurrency: number) {
    this.limit = pLimit(Math.max(1, concurrency));
  }

  /** Runs `job` for `userId` when a slot is free; refuses at once when the user or the queue is over its bound. */
  async run<T>(userId: number, job: () => Promise<T>): Promise<T> {
    const mine = this.perUser.get(userId) ?? 0;
    if (mine >= IMAGES_PER_USER) {
      throw new AppError(
        'RATE_LIMITED',
        'Your other uploads are still being processed; wait a little',
        undefined,
        2,
      );
    }
    if (this.limit.pendingCount >= MAX_WAITING_IMAGES) {
      throw new AppError(
        'UNAVAILABLE',
        'Too many images are being processed; try again shortly',
        undefined,
        5,
      );
    }
    this.perUser.set(userId, mine + 1);
    try {
      return await this.limit(job);
    } finally {
      const left = (this.perUser.get(userId) ?? 1) - 1;
      if (left > 0) this.perUser.set(userId, left);
      else this.perUser.delete(userId);
    }
  }

  /** Jobs running and waiting now. */
  get load(): { running: number; waiting: number } {
    return { running: this.limit.activeCount, waiting: this.limit.pendingCount };
  }
}
