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
 * Refusals are scored, the score draining over STRIKE_WINDOW_SEC; a socket whose score reaches
 * max(MIN_STRIKES, STRIKES_PER_BURST × burst) is disconnected. So one burst of even four times the budget is only
 * answered RATE_LIMITED (with `retryAfter`), while a client that ignores those answers and keeps sending (a steady
 * rate well over the budget, or one dump of ten times it) is cut off within a second or two.
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

/** A socket's bucket and strike score; made at its first event, so an idle socket carries none. */
interface BudgetState {
  tokens: number;
  strikes: number;
  at: number;
}

/**
 * The per-socket event budget every client event (known or not) is paid from (SOCKET_EVENT_RATE_PER_SEC,
 * SOCKET_EVENT_BURST). One instance per app; the state of each socket is kept by the instance, keyed weakly by the
 * socket, so it goes with the socket.
 */
export class EventBudget implements EventGuard {
  private readonly state = new WeakMap<IoSocket, BudgetState>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxStrikes: number;

  constructor(
    private readonly ctx: Pick<AppContext, 'config' | 'logger'>,
    private readonly cooldown: FloodCooldown,
    /** Called when a socket is cut off for flooding (the legacy `socketStats.floodDisconnects` counter). */
    private readonly onFloodDisconnect: () => void = () => {},
  ) {
    const b = effectiveEventBudget(ctx.config);
    this.rate = b.ratePerSec;
    this.burst = b.burst;
    this.maxStrikes = b.maxStrikes;
  }

  /** Pays one event from the socket's budget, or throws RATE_LIMITED with the seconds until the next token. */
  admit(socket: IoSocket): void {
    const now = Date.now();
    let s = this.state.get(socket);
    if (!s) this.state.set(socket, (s = { tokens: this.burst, strikes: 0, at: now }));
    const elapsedSec = (now - s.at) / 1000;
    s.at = now;
    s.tokens = Math.min(this.burst, s.tokens + elapsedSec * this.rate);
    s.strikes = Math.max(0, s.strikes - elapsedSec * (this.maxStrikes / STRIKE_WINDOW_SEC));
    if (s.tokens >= 1) {
      s.tokens -= 1;
      return;
    }
    eventBudgetStats.refused++;
    s.strikes += 1;
    if (s.strikes >= this.maxStrikes && socket.connected) this.cutOff(socket);
    throw new AppError(
      'RATE_LIMITED',
      'Too many events; slow down',
      undefined,
      Math.max(1, Math.ceil((1 - s.tokens) / this.rate)),
    );
  }

  private cutOff(socket: IoSocket): void {
    this.onFloodDisconnect();
    this.cooldown.start(socket.data.userId);
    this.ctx.logger.warn({ userId: socket.data.userId }, 'socket disconnected for flooding');
    socket.emit('error', { error: { code: 'RATE_LIMITED', message: 'Too many events; disconnected' } });
    socket.disconnect(true);
  }
}
