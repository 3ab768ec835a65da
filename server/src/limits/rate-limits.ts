import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { Config, RateSpec, WriteLimitClass } from '../config.js';
import { AppError } from '../errors.js';
import type { RedisClient } from '../scale/redis.js';

/** Seconds the login and password-check counts last (LOGIN_MAX_FAILURES per this window). */
export const LOGIN_WINDOW_SEC = 15 * 60;

/**
 * Every limit the server keeps, by name: the write classes of config.writeLimits (per user), the auth limit per
 * client address, the sign-in attempts per typed identifier and per account, the current-password checks per user,
 * and the message sends per user.
 */
export type LimitName =
  WriteLimitClass | 'authAddress' | 'loginIdentifier' | 'loginAccount' | 'passwordCheck' | 'message';

/** What a refusal says, by limit. */
const REFUSAL: Record<LimitName, string> = {
  roomCreate: 'Too many rooms created; try again later',
  roomUpdate: 'Too many room changes; try again later',
  membership: 'Too many joins and leaves; try again later',
  messageEdit: 'You are editing or deleting messages too fast',
  profile: 'Too many profile changes; try again later',
  emailChange: 'Too many email changes; try again later',
  upload: 'Too many uploads; wait a little',
  dmOpen: 'Too many conversations opened; try again later',
  readMarker: 'Too many read markers; slow down',
  typing: 'Too many typing indicators; slow down',
  search: 'Too many searches; slow down',
  authAddress: 'Too many requests; slow down',
  loginIdentifier: 'Too many failed sign-ins; try again later',
  loginAccount: 'Too many failed sign-ins; try again later',
  passwordCheck: 'Too many wrong passwords; try again later',
  message: 'You are sending messages too fast',
};

/** Refusals per limit since the process started: `parley_rate_limited_total{limit}` on /metrics. */
export const rateLimitStats = Object.fromEntries(Object.keys(REFUSAL).map((name) => [name, 0])) as Record<
  LimitName,
  number
>;

export interface Taken {
  ok: boolean;
  /** Whole seconds until the key has points again (for `Retry-After`); 0 when ok. */
  retryAfterSec: number;
}

/**
 * A token bucket of `burst` refilled at `ratePerSec`, as a fixed window: `burst` (or a second's worth, if more) per
 * `burst / ratePerSec` seconds, in whole seconds (Redis expiries are whole seconds). The same average rate and the
 * same burst at once; at a window's edge up to twice the burst can pass (see docs/DECISIONS.md D21).
 */
export function windowOf(burst: number, ratePerSec: number): RateSpec {
  const durationSec = Math.max(1, Math.round(burst / ratePerSec));
  return { points: Math.max(burst, Math.ceil(ratePerSec * durationSec)), durationSec };
}

function specs(config: Config): Record<LimitName, RateSpec> {
  const login = { points: config.loginMaxFailures, durationSec: LOGIN_WINDOW_SEC };
  return {
    ...config.writeLimits,
    authAddress: { points: config.rateLimitAuthPerMin, durationSec: 60 },
    loginIdentifier: login,
    loginAccount: login,
    passwordCheck: login,
    message: windowOf(config.messageBurst, config.messageRatePerSec),
  };
}

/**
 * The server's rate limits, on `rate-limiter-flexible`. One node: in memory. Several nodes (REDIS_URL): in Redis,
 * so that N nodes allow what one would (each consume is one atomic script); while Redis is unreachable each node
 * falls back to an in-memory `insuranceLimiter` of the same size, so limits still apply (per node) and nothing a
 * user does fails because of the outage. The fallback's counts are not merged back.
 */
export class RateLimits {
  private readonly limiters = new Map<LimitName, RateLimiterAbstract>();

  constructor(config: Config, shared?: { redis: RedisClient; prefix: string }) {
    for (const [name, spec] of Object.entries(specs(config)) as [LimitName, RateSpec][]) {
      const opts = {
        points: spec.points,
        // Redis keeps whole seconds; a fraction would round down to "never expires".
        duration: Math.max(1, Math.round(spec.durationSec)),
        keyPrefix: `rl:${name}`,
      };
      this.limiters.set(
        name,
        shared
          ? new RateLimiterRedis({
              ...opts,
              keyPrefix: `${shared.prefix}:rl:${name}`,
              storeClient: shared.redis,
              // node-redis v4+ (this app has v5): its command names and argument shapes.
              useRedisPackage: true,
              // The command connection has no offline queue: while it is down, go to the insurance at once.
              rejectIfRedisNotReady: true,
              insuranceLimiter: new RateLimiterMemory(opts),
            })
          : new RateLimiterMemory(opts),
      );
    }
  }

  private limiter(name: LimitName): RateLimiterAbstract {
    return this.limiters.get(name)!;
  }

  /** Counts `points` against `key` of the limit `name`; `ok: false` once the window's points are spent. */
  async consume(name: LimitName, key: string | number, points = 1): Promise<Taken> {
    try {
      await this.limiter(name).consume(String(key), points);
      return { ok: true, retryAfterSec: 0 };
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        rateLimitStats[name]++;
        return { ok: false, retryAfterSec: Math.max(1, Math.ceil(err.msBeforeNext / 1000)) };
      }
      throw err;
    }
  }

  /** Like {@link consume}, but throws RATE_LIMITED (with `retryAfter`) once spent. */
  async take(name: LimitName, key: string | number): Promise<void> {
    const r = await this.consume(name, key);
    if (!r.ok) throw new AppError('RATE_LIMITED', REFUSAL[name], undefined, r.retryAfterSec);
  }

  /** The RATE_LIMITED error of `name`, for callers that consume themselves. */
  refusal(name: LimitName, retryAfterSec: number): AppError {
    return new AppError('RATE_LIMITED', REFUSAL[name], undefined, retryAfterSec);
  }

  /** Forgets `key` of `name` (a successful sign-in clears its count). */
  async reset(name: LimitName, key: string | number): Promise<void> {
    await this.limiter(name).delete(String(key));
  }
}
