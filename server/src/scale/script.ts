import { createHash } from 'node:crypto';
import type { RedisClient } from './redis.js';

/**
 * A Lua script. Redis runs a script atomically: no other command runs in between.
 *
 * `run` sends it by its SHA1 (`EVALSHA`) and in full (`EVAL`) only when Redis does not know it yet (after a start or
 * a Redis restart). That retry goes out later than the commands issued meanwhile on the connection, so scripts whose
 * order matters use `runInOrder`: always `EVAL` (Redis still compiles it once and caches it by its SHA1).
 */
export class Script {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClient, keys: string[], args: (string | number)[]): Promise<unknown> {
    const options = { keys, arguments: args.map(String) };
    try {
      return await redis.evalSha(this.sha, options);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.source, options);
    }
  }

  runInOrder(redis: RedisClient, keys: string[], args: (string | number)[]): Promise<unknown> {
    return redis.eval(this.source, { keys, arguments: args.map(String) });
  }
}
