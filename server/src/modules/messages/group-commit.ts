/**
 * Group commit: work items pushed under one key while that key's transaction is running wait, and the next
 * transaction takes all of them (up to `maxBatch`). One BEGIN/COMMIT (one fsync) then serves many callers. The
 * `commit` function settles every item of its batch itself; a key's batches run one after another, in push order:
 * the next starts when `commit`'s promise resolves, which may be before its items are settled.
 */
export class GroupCommit<T> {
  private queues = new Map<string | number, T[]>();

  constructor(
    private commit: (items: T[]) => Promise<void>,
    private maxBatch: number,
  ) {}

  push(key: string | number, item: T): void {
    const queue = this.queues.get(key);
    if (queue) {
      queue.push(item);
      return;
    }
    const fresh = [item];
    this.queues.set(key, fresh);
    // Starting on the next turn of the loop lets the sends that arrived in the same read join the first batch.
    setImmediate(() => void this.drain(key, fresh));
  }

  private async drain(key: string | number, queue: T[]): Promise<void> {
    try {
      while (queue.length) {
        const batch = queue.splice(0, this.maxBatch);
        await this.commit(batch).catch(() => undefined);
      }
    } finally {
      this.queues.delete(key);
    }
  }
}
