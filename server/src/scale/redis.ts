import { createClient } from 'redis';
import type { Logger } from '../logger.js';
import { redisStats } from './stats.js';

export type RedisClient = ReturnType<typeof createClient>;

export { redisStats };

/** Exponential back-off from 50 ms to 2 s plus jitter, forever: Redis coming back is always worth waiting for. */
function reconnectStrategy(retries: number): number {
  return Math.min(2 ** retries * 50, 2_000) + Math.floor(Math.random() * 200);
}

/** The URL without its password, for logs. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://(unparseable)';
  }
}

/**
 * The two connections a node keeps to Redis:
 * - `cmd`: presence and rate-limit commands and the adapter's publishes. Its offline queue is disabled, so a
 *   command issued while Redis is unreachable fails at once (callers fall back or answer UNAVAILABLE) instead of
 *   piling up in memory and running minutes later.
 * - `sub`: the adapter's subscriptions only. Its offline queue stays on, so subscriptions made before the first
 *   connection are sent when it opens; node-redis re-subscribes by itself after every reconnection.
 *
 * Both reconnect by themselves forever. Errors are logged (the first of an outage at `error`, then at most every
 * 30 s) and never thrown: a client without an `error` listener would crash the process.
 */
export class RedisConnections {
  readonly cmd: RedisClient;
  readonly sub: RedisClient;
  private recoveredHandlers: ((which: 'cmd' | 'sub') => void)[] = [];
  private lostHandlers: ((which: 'cmd' | 'sub') => void)[] = [];
  private publishFailedHandlers: ((payload: unknown) => void)[] = [];
  /** Subscriptions asked for while `sub` was not ready, sent at its next `ready`. */
  private deferred = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    readonly url: string,
    private logger: Logger,
  ) {
    const socket = { reconnectStrategy, connectTimeout: 5_000 };
    this.cmd = createClient({ url, socket, disableOfflineQueue: true, pingInterval: 5_000 });
    this.sub = createClient({ url, socket });
    this.watch(this.cmd, 'cmd');
    this.watch(this.sub, 'sub');
    this.guardAdapterCalls();
  }

  /** Called with `'cmd'` or `'sub'` each time that connection is ready again after it had been lost. */
  onRecovered(fn: (which: 'cmd' | 'sub') => void): void {
    this.recoveredHandlers.push(fn);
  }

  /** Called with `'cmd'` or `'sub'` when that connection is lost (its first error or end since it was ready). */
  onLost(fn: (which: 'cmd' | 'sub') => void): void {
    this.lostHandlers.push(fn);
  }

  /** Called with the payload of each adapter publish that failed (it reached no other node). */
  onPublishFailed(fn: (payload: unknown) => void): void {
    this.publishFailedHandlers.push(fn);
  }

  /**
   * Opens both connections; resolves once both are ready or after `waitMs`, whichever is first. Never rejects:
   * without Redis the node starts anyway (health says `realtime: fail`) and connects when Redis is reachable.
   */
  async connect(waitMs: number): Promise<boolean> {
    const opened = Promise.all(
      [this.cmd, this.sub].map((c) =>
        c.connect().catch((err: unknown) => {
          if (!this.closed) this.logger.error({ err }, 'redis connect failed');
        }),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
      timer.unref();
    });
    await Promise.race([opened, timedOut]);
    clearTimeout(timer);
    const ready = this.ready();
    if (!ready)
      this.logger.error(
        { redis: redactedUrl(this.url), waitedMs: waitMs },
        'redis is not reachable; starting without it and retrying in the background',
      );
    return ready;
  }

  ready(): boolean {
    return this.cmd.isReady && this.sub.isReady;
  }

  /** A real round trip on the command connection, bounded by `timeoutMs`. */
  async ping(timeoutMs = 1_000): Promise<boolean> {
    if (!this.ready()) return false;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.cmd.ping().then((r) => r === 'PONG'),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeoutMs);
        }),
      ]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [this.cmd, this.sub].map(async (c) => {
        try {
          if (c.isReady) {
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([
              c.close(),
              new Promise((resolve) => {
                timer = setTimeout(resolve, 2_000);
              }),
            ]);
            clearTimeout(timer);
          }
        } catch {
          // closing anyway
        }
        try {
          if (c.isOpen) c.destroy();
        } catch {
          // already gone
        }
      }),
    );
  }

  private watch(client: RedisClient, which: 'cmd' | 'sub'): void {
    let down: number | null = null;
    let lastLog = 0;
    let everReady = false;
    let lost = false;
    const signalLost = () => {
      if (lost) return;
      lost = true;
      for (const fn of this.lostHandlers) fn(which);
    };
    client.on('error', (err: Error) => {
      if (this.closed) return;
      redisStats.errors[which]++;
      const now = Date.now();
      // An error that left the connection up (a bad reply) is not an outage.
      if (!client.isReady) signalLost();
      if (down === null) {
        down = now;
        lastLog = now;
        this.logger.error(
          { err: { message: err.message, name: err.name }, connection: which },
          'redis error',
        );
      } else if (now - lastLog >= 30_000) {
        lastLog = now;
        this.logger.error(
          { err: { message: err.message, name: err.name }, connection: which, downForMs: now - down },
          'redis still unreachable',
        );
      }
    });
    client.on('ready', () => {
      if (this.closed) return;
      const wasDown = down;
      down = null;
      if (!everReady) {
        everReady = true;
        this.logger.info({ redis: redactedUrl(this.url), connection: which }, 'redis connected');
        if (wasDown === null) return;
      }
      redisStats.reconnects++;
      this.logger.warn(
        { connection: which, downForMs: wasDown === null ? 0 : Date.now() - wasDown },
        'redis connection restored',
      );
      // Recovered once the subscriptions asked for while it was down are in place (see guardAdapterCalls).
      const subscribed = which === 'sub' ? Promise.allSettled([...this.deferred]) : Promise.resolve();
      void subscribed.then(() => {
        if (this.closed || !client.isReady) return;
        lost = false;
        for (const fn of this.recoveredHandlers) fn(which);
      });
    });
    // A connection that closes cleanly (server shutdown) emits `end`, not `error`: mark it down too.
    client.on('end', () => {
      if (this.closed) return;
      signalLost();
      if (down === null) down = Date.now();
    });
  }

  /**
   * The adapter calls `sSubscribe` and `sPublish` without handling their promises; a connection dropping under
   * them would reject those promises unhandled and end the process. Handle them here (and count lost publishes).
   */
  private guardAdapterCalls(): void {
    const sub = this.sub as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const name of ['sSubscribe', 'sUnsubscribe'] as const) {
      const original = sub[name]!.bind(this.sub);
      sub[name] = (...args: unknown[]) => {
        let p: Promise<unknown>;
        if (name === 'sSubscribe' && !this.sub.isReady) {
          // Not sent through the offline queue: node-redis 5 then never routes the channel's messages (every one
          // fails with "Cannot read properties of undefined (reading 'value')", so a node started while Redis was
          // down heard no other node). Sent once the connection is ready instead.
          const deferred = new Promise((resolve) => this.sub.once('ready', resolve)).then(() =>
            original(...args),
          );
          this.deferred.add(deferred);
          const forget = () => this.deferred.delete(deferred);
          deferred.then(forget, forget);
          p = deferred;
        } else p = original(...args);
        p.catch((err: unknown) => {
          if (!this.closed) this.logger.warn({ err, op: name }, 'redis subscription command failed');
        });
        return p;
      };
    }
    const cmd = this.cmd as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const name of ['sPublish', 'SPUBLISH'] as const) {
      const original = cmd[name]!.bind(this.cmd);
      cmd[name] = (...args: unknown[]) => {
        const p = original(...args);
        p.catch(() => {
          redisStats.publishFailures++;
          for (const fn of this.publishFailedHandlers) fn(args[1]);
        });
        return p;
      };
    }
  }
}
