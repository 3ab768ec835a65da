import { QueryTypes, type Transaction } from 'sequelize';
import type { AppContext } from '../context.js';

/** Registers something to do once the transaction has committed (a broadcast, a socket subscription). */
export type After = (effect: () => void | Promise<void>) => void;

interface TxHooks {
  effects: (() => void | Promise<void>)[];
  settled: (() => void)[];
}
const hooks = new WeakMap<Transaction, TxHooks>();

/**
 * For code that only has the transaction (stores): registers an after-commit effect, in order with the caller's.
 * False when `t` was not started by `inTx` (nothing was registered).
 */
export function afterCommit(t: Transaction, effect: () => void | Promise<void>): boolean {
  const h = hooks.get(t);
  h?.effects.push(effect);
  return h !== undefined;
}

/** Registers something to run once the transaction is over: after its effects if it committed, else at once. */
export function onSettled(t: Transaction, fn: () => void): boolean {
  const h = hooks.get(t);
  h?.settled.push(fn);
  return h !== undefined;
}

/**
 * Runs `fn` in a write transaction and, only if it commits, the effects it registered, in order. A failed
 * effect is logged: the data is already durable and the client can catch up by fetching.
 */
export async function inTx<T>(ctx: AppContext, fn: (t: Transaction, after: After) => Promise<T>): Promise<T> {
  const h: TxHooks = { effects: [], settled: [] };
  try {
    const result = await ctx.db.tx((t) => {
      hooks.set(t, h);
      return fn(t, (e) => h.effects.push(e));
    });
    for (const effect of h.effects) {
      try {
        await effect();
      } catch (err) {
        ctx.logger.error({ err }, 'after-commit effect failed');
      }
    }
    return result;
  } finally {
    for (const s of h.settled) s();
  }
}

/** Room locks a transaction already holds: taking one twice would cost a round trip for nothing. */
const locked = new WeakMap<Transaction, Set<number>>();

/**
 * PostgreSQL: takes the room's row lock before anything else in the transaction, so writers to one room queue in
 * lock order: message ids follow commit order, and a membership change (foreign-key share lock, then the member
 * count's exclusive lock) cannot deadlock with another. SQLite needs nothing: its writes are already serialised.
 */
export async function lockRoom(ctx: AppContext, t: Transaction, roomId: number): Promise<void> {
  await lockRooms(ctx, t, [roomId]);
}

/**
 * Several rooms' locks in one statement (a group-commit batch spans many rooms): taken in id order, as FOR UPDATE
 * locks the rows as the sort hands them over, so two batches cannot deadlock.
 */
export async function lockRooms(ctx: AppContext, t: Transaction, roomIds: Iterable<number>): Promise<void> {
  if (ctx.db.dialect !== 'postgres') return;
  const held = locked.get(t) ?? new Set<number>();
  locked.set(t, held);
  const wanted = [...new Set(roomIds)].filter((id) => !held.has(id));
  if (!wanted.length) return;
  for (const id of wanted) held.add(id);
  await ctx.db.sequelize.query('SELECT id FROM rooms WHERE id IN (:ids) ORDER BY id FOR UPDATE', {
    replacements: { ids: wanted },
    transaction: t,
    type: QueryTypes.SELECT,
  });
}
