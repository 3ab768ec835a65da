/**
 * Rate-limit state behind an interface: in memory for one node; the scale-out issue backs it with Redis so that
 * every node counts against the same buckets.
 */
export interface RateLimitStore {
  /** Token bucket: takes `cost` tokens from `key`. */
  take(key: string, capacity: number, refillPerSec: number, cost?: number): Promise<TakeResult>;
  /** Sliding window of failures: records one and says whether `key` is now over `max` in `windowSec`. */
  recordFailure(key: string, windowSec: number): Promise<void>;
  /** How many seconds until `key` is below `max` failures again; 0 when it already is. */
  blockedFor(key: string, max: number, windowSec: number): Promise<number>;
  clearFailures(key: string): Promise<void>;
  close(): void;
}

export interface TakeResult {
  ok: boolean;
  /** Whole seconds until a token is available (for `Retry-After`); 0 when ok. */
  retryAfterSec: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

/** The single-node store. Idle entries are swept every minute so the maps stay bounded by active clients. */
export class MemoryRateLimitStore implements RateLimitStore {
  private buckets = new Map<string, Bucket & { capacity: number; refill: number }>();
  private failures = new Map<string, number[]>();
  private sweeper: NodeJS.Timeout;

  constructor(private now: () => number = Date.now) {
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  async take(key: string, capacity: number, refillPerSec: number, cost = 1): Promise<TakeResult> {
    return this.takeSync(key, capacity, refillPerSec, cost);
  }

  /** Synchronous form for hot paths (socket sends) in the single-node store. */
  takeSync(key: string, capacity: number, refillPerSec: number, cost = 1): TakeResult {
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: capacity, updated: now, capacity, refill: refillPerSec };
    b.tokens = Math.min(capacity, b.tokens + ((now - b.updated) / 1000) * refillPerSec);
    b.updated = now;
    this.buckets.set(key, b);
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return { ok: true, retryAfterSec: 0 };
    }
    return { ok: false, retryAfterSec: Math.max(1, Math.ceil((cost - b.tokens) / refillPerSec)) };
  }

  async recordFailure(key: string, windowSec: number): Promise<void> {
    const now = this.now();
    const list = (this.failures.get(key) ?? []).filter((t) => t > now - windowSec * 1000);
    list.push(now);
    this.failures.set(key, list);
  }

  async blockedFor(key: string, max: number, windowSec: number): Promise<number> {
    const now = this.now();
    const list = (this.failures.get(key) ?? []).filter((t) => t > now - windowSec * 1000);
    if (list.length < max) return 0;
    // Blocked until enough of the oldest failures have left the window.
    const freeAt = list[list.length - max]! + windowSec * 1000;
    return Math.max(1, Math.ceil((freeAt - now) / 1000));
  }

  async clearFailures(key: string): Promise<void> {
    this.failures.delete(key);
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((now - b.updated) / 1000) * b.refill >= b.capacity) this.buckets.delete(key);
    }
    for (const [key, list] of this.failures) {
      if (list.every((t) => t < now - 24 * 3600_000)) this.failures.delete(key);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
