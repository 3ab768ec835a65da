import { randomUUID } from 'node:crypto';
import { MemoryRateLimitStore, type RateLimitStore, type TakeResult } from '../http/rate-limit.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from './redis.js';
import { Script } from './script.js';

/*
 * Every script reads the time from Redis (`TIME`), so nodes with skewed clocks still share one bucket fairly.
 * Redis ≥ 5 replicates scripts by their effects, so `TIME` is allowed before writes.
 */

/** KEYS[1] bucket · ARGV capacity, refill per second, cost → {ok, retryAfterSec}. */
const TAKE = new Script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local capacity = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(capacity, tokens + elapsed / 1000 * refill)
local ok = 0
local retry = 0
if tokens >= cost then
  tokens = tokens - cost
  ok = 1
else
  retry = math.ceil((cost - tokens) / refill)
  if retry < 1 then retry = 1 end
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', now)
-- Gone once it would be full again (an absent bucket is a full one); a week at most.
redis.call('PEXPIRE', KEYS[1], math.min(math.ceil((capacity - tokens) / refill * 1000) + 1000, 604800000))
return {ok, retry}
`);

/** KEYS[1] failures (sorted set, score = ms) · ARGV window seconds, unique member. */
const RECORD_FAILURE = new Script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1]) * 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('PEXPIRE', KEYS[1], window)
return 1
`);

/** KEYS[1] failures · ARGV max, window seconds → seconds until below max (0 when already below). */
const BLOCKED_FOR = new Script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < max then return 0 end
local oldest = redis.call('ZRANGE', KEYS[1], count - max, count - max, 'WITHSCORES')
local freeAt = tonumber(oldest[2]) + window
local left = math.ceil((freeAt - now) / 1000)
if left < 1 then left = 1 end
return left
`);

/**
 * Rate limits shared by every node: token buckets and failure windows live in Redis and change atomically (one
 * Lua script per operation), so N nodes allow what one node would, not N times as much.
 *
 * While Redis is unreachable each node falls back to its own in-memory store: limits still apply, per node, and
 * nothing a user does fails because of the outage. The fallback's counts are not merged back afterwards.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private fallback = new MemoryRateLimitStore();
  private lastWarn = 0;

  constructor(
    private redis: RedisClient,
    private prefix: string,
    private logger: Logger,
  ) {}

  private key(kind: 'b' | 'f', key: string): string {
    return `${this.prefix}:rl:${kind}:${key}`;
  }

  private async run<T>(
    script: Script,
    key: string,
    args: (string | number)[],
    local: () => Promise<T>,
    parse: (reply: unknown) => T,
  ): Promise<T> {
    if (!this.redis.isReady) return local();
    try {
      const reply = await script.run(this.redis, [key], args);
      return parse(reply);
    } catch (err) {
      const now = Date.now();
      if (now - this.lastWarn > 30_000) {
        this.lastWarn = now;
        this.logger.warn({ err }, 'redis rate limit failed; using this node’s own limits meanwhile');
      }
      return local();
    }
  }

  take(key: string, capacity: number, refillPerSec: number, cost = 1): Promise<TakeResult> {
    return this.run(
      TAKE,
      this.key('b', key),
      [capacity, refillPerSec, cost],
      () => this.fallback.take(key, capacity, refillPerSec, cost),
      (reply) => {
        const [ok, retry] = reply as [number, number];
        return { ok: ok === 1, retryAfterSec: ok === 1 ? 0 : Number(retry) };
      },
    );
  }

  recordFailure(key: string, windowSec: number): Promise<void> {
    return this.run(
      RECORD_FAILURE,
      this.key('f', key),
      [windowSec, randomUUID()],
      () => this.fallback.recordFailure(key, windowSec),
      () => undefined,
    );
  }

  blockedFor(key: string, max: number, windowSec: number): Promise<number> {
    return this.run(
      BLOCKED_FOR,
      this.key('f', key),
      [max, windowSec],
      () => this.fallback.blockedFor(key, max, windowSec),
      (reply) => Number(reply),
    );
  }

  async clearFailures(key: string): Promise<void> {
    await this.fallback.clearFailures(key);
    if (!this.redis.isReady) return;
    try {
      await this.redis.del(this.key('f', key));
    } catch (err) {
      this.logger.warn({ err }, 'redis clear failures failed');
    }
  }

  close(): void {
    this.fallback.close();
  }
}
