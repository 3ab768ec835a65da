import { QueryTypes, type Transaction } from 'sequelize';
import type { AppContext } from '../context.js';
import type { Logger } from '../logger.js';
import type { Db } from './sequelize.js';

/** Registers something to do once the transaction has committed (a broadcast, a socket subscription). */
export type After = (effect: () => void | Promise<void>) => void;

/** What one transaction started by {@link UnitOfWork.run} carries besides Sequelize's own state. */
interface TxState {
  effects: (() => void | Promise<void>)[];
  settled: (() => void)[];
  /** Room locks already held: taking one twice would cost a round trip for nothing. */
  lockedRooms: Set<number>;
}

/**
 * The one transaction model of the server: a Sequelize transaction (db.tx) plus the after-commit effects and
 * room locks of the code that runs in it. Built once by createApp (`ctx.uow`); the state of each transaction
 * lives here, keyed by the transaction, for code that is handed only the transaction (the message log).
 */
export class UnitOfWork {
  private readonly states = new WeakMap<Transaction, TxState>();

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
  ) {}

  /**
   * Runs `fn` in a write transaction and, only if it commits, the effects it registered, in order. A failed
   * effect is logged: the data is already durable and the client can catch up by fetching.
   */
  async run<T>(fn: (t: Transaction, after: After) => Promise<T>): Promise<T> {
    const state: TxState = { effects: [], settled: [], lockedRooms: new Set() };
    try {
      const result = await this.db.tx((t) => {
        this.states.set(t, state);
        return fn(t, (e) => state.effects.push(e));
      });
      for (const effect of state.effects) {
        try {
          await effect();
        } catch (err) {
          this.logger.error({ err }, 'after-commit effect failed');
        }
      }
      return result;
    } finally {
      for (const s of state.settled) s();
    }
  }

  /** An after-commit effect, in order with the caller's. False when `t` was not started by `run`. */
  afterCommit(t: Transaction, effect: () => void | Promise<void>): boolean {
    const state = this.states.get(t);
    state?.effects.push(effect);
    return state !== undefined;
  }

  /** Runs `fn` once the transaction is over: after its effects if it committed, else at once. */
  onSettled(t: Transaction, fn: () => void): boolean {
    const state = this.states.get(t);
    state?.settled.push(fn);
    return state !== undefined;
  }

  /**
   * PostgreSQL: takes the rooms' row locks before anything else in the transaction, so writers to one room queue in
   * lock order: message ids follow commit order, and a membership change (foreign-key share lock, then the member
   * count's exclusive lock) cannot deadlock with another. Several rooms in one statement, in id order (FOR UPDATE
   * locks the rows as the sort hands them over), so two batches cannot deadlock. SQLite needs nothing: its writes
   * are already serialised.
   */
  async lockRooms(t: Transaction, roomIds: Iterable<number>): Promise<void> {
    if (this.db.dialect !== 'postgres') return;
    const held = this.states.get(t)?.lockedRooms ?? new Set<number>();
    const wanted = [...new Set(roomIds)].filter((id) => !held.has(id));
    if (!wanted.length) return;
    for (const id of wanted) held.add(id);
    await this.db.sequelize.query('SELECT id FROM rooms WHERE id IN (:ids) ORDER BY id FOR UPDATE', {
      replacements: { ids: wanted },
      transaction: t,
      type: QueryTypes.SELECT,
    });
  }
}

/** {@link UnitOfWork.run} of the app: the shape every service uses. */
export function inTx<T>(ctx: AppContext, fn: (t: Transaction, after: After) => Promise<T>): Promise<T> {
  return ctx.uow.run(fn);
}

/** Takes one room's lock in `t` (PostgreSQL; see {@link UnitOfWork.lockRooms}). */
export function lockRoom(ctx: AppContext, t: Transaction, roomId: number): Promise<void> {
  return ctx.uow.lockRooms(t, [roomId]);
}

/** Takes several rooms' locks in `t`, in id order (see {@link UnitOfWork.lockRooms}). */
export function lockRooms(ctx: AppContext, t: Transaction, roomIds: Iterable<number>): Promise<void> {
  return ctx.uow.lockRooms(t, roomIds);
}
