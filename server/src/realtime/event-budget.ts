import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.js';
import type { AppContext } from '../context.js';
import { AppError } from '../errors.js';
import type { IoSocket } from './channels.js';
import type { FloodCooldown } from './socket-limits.js';
import type { EventGuard } from './with-ack.js';

/** Counters the metrics endpoint and tests read. */
export const eventBudgetStats = { refused: 0 };

/**
 * Room above the message limits for the events a chatting client sends besides messages (typing, read markers,
 * history fetches) while it flushes a queue of sends.
 */
const HEADROOM_BURST = 20;
const HEADROOM_RATE = 10;
/**
 * Refusals are counted per STRIKE_WINDOW_SEC; a socket refused max(MIN_STRIKES, STRIKES_PER_BURST × burst) times in
 * one window is disconnected. So one burst of even four times the budget is only answered RATE_LIMITED (with
 * `retryAfter`), while a client that ignores those answers and keeps sending (a steady rate well over the budget,
 * or one dump of ten times it) is cut off within a second or two.
 */
const MIN_STRIKES = 120;
const STRIKES_PER_BURST = 4;
const STRIKE_WINDOW_SEC = 10;

/** The budget a socket gets: the configured one, never less than what the message limits let a user send. */
export function effectiveEventBudget(
  config: Pick<Config, 'socketEventRatePerSec' | 'socketEventBurst' | 'messageRatePerSec' | 'messageBurst'>,
): { ratePerSec: number; burst: number; maxStrikes: number } {
  const burst = Math.max(config.socketEventBurst, config.messageBurst + HEADROOM_BURST);
  const ratePerSec = Math.max(config.socketEventRatePerSec, config.messageRatePerSec + HEADROOM_RATE);
  return { ratePerSec, burst, maxStrikes: Math.max(MIN_STRIKES, STRIKES_PER_BURST * burst) };
}

/**
 * The per-socket event budget every client event (known or not) is paid from (SOCKET_EVENT_RATE_PER_SEC,
 * SOCKET_EVENT_BURST), on rate-limiter-flexible's in-memory limiter: a socket lives on one node, so its budget does
 * too. `burst` per `burst / rate` seconds (a fixed window: the same average rate and burst as a token bucket).
 * Refusals are counted in a second limiter, `maxStrikes` per STRIKE_WINDOW_SEC; the refusal that spends it cuts the
 * socket off. Keys are socket ids; each expires with its window, so an idle or closed socket carries nothing.
 * Measured against the hand-written bucket it replaced: see docs/DECISIONS.md D21.
 */
export class EventBudget implements EventGuard {
  private readonly budget: RateLimiterMemory;
  private readonly strikes: RateLimiterMemory;

  constructor(
    private readonly ctx: Pick<AppContext, 'config' | 'logger'>,
    private readonly cooldown: FloodCooldown,
    /** Called when a socket is cut off for flooding (the legacy `socketStats.floodDisconnects` counter). */
    private readonly onFloodDisconnect: () => void = () => {},
  ) {
    const b = effectiveEventBudget(ctx.config);
    this.budget = new RateLimiterMemory({ points: b.burst, duration: b.burst / b.ratePerSec });
    this.strikes = new RateLimiterMemory({ points: b.maxStrikes - 1, duration: STRIKE_WINDOW_SEC });
  }

  /** Pays one event from the socket's budget, or rejects with RATE_LIMITED and the seconds until it refills. */
  async admit(socket: IoSocket): Promise<void> {
    try {
      await this.budget.consume(socket.id);
    } catch (refused) {
      eventBudgetStats.refused++;
      const waitMs = refused instanceof RateLimiterRes ? refused.msBeforeNext : 1000;
      await this.strikes.consume(socket.id).catch(() => {
        if (socket.connected) this.cutOff(socket);
      });
      throw new AppError(
        'RATE_LIMITED',
        'Too many events; slow down',
        undefined,
        Math.max(1, Math.ceil(waitMs / 1000)),
      );
    }
  }
  private cutOff(socket: IoSocket): void {
    this.onFloodDisconnect();
    this.cooldown.start(socket.data.userId);
    this.ctx.logger.warn({ userId: socket.data.userId }, 'socket disconnected for flooding');
    socket.emit('error', { error: { code: 'RATE_LIMITED', message: 'Too many events; disconnected' } });
    socket.disconnect(true);
  }
}
