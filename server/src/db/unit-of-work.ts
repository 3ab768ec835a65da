import type { Transaction } from 'sequelize';
import type { AppContext } from '../context.js';

/** Registers something to do once the transaction has committed (a broadcast, a socket subscription). */
export type After = (effect: () => void | Promise<void>) => void;

/**
 * Runs `fn` in a write transaction and, only if it commits, the effects it registered, in order. A failed
 * effect is logged: the data is already durable and the client can catch up by fetching.
 */
export async function inTx<T>(ctx: AppContext, fn: (t: Transaction, after: After) => Promise<T>): Promise<T> {
  const effects: (() => void | Promise<void>)[] = [];
  const result = await ctx.db.tx((t) => fn(t, (e) => effects.push(e)));
  for (const effect of effects) {
    try {
      await effect();
    } catch (err) {
      ctx.logger.error({ err }, 'after-commit effect failed');
    }
  }
  return result;
}
