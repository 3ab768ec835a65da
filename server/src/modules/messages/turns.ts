import type { Transaction } from 'sequelize';
import type { UnitOfWork } from '../../db/unit-of-work.js';

/**
 * Broadcast order per room. Ids follow commit order (SQLite serialises writes; PostgreSQL takes the room's row
 * lock first), but this process may learn of two commits in the other order: on PostgreSQL the lock is released
 * before the first transaction's COMMIT answer reaches us, and the next one can commit in between. So each
 * transaction that appends to a room takes a turn while it holds the room (in lock order, hence id order), and
 * its after-commit effects wait until every earlier turn of that room is over (broadcast, or rolled back).
 * One process only: several nodes order their broadcasts through the adapter, not here.
 */
export class RoomTurns {
  /** Per room, the promise that settles when its last turn is over. */
  private readonly tails = new Map<number, Promise<void>>();
  /** Rooms whose turn a transaction already holds. */
  private readonly held = new WeakMap<Transaction, Set<number>>();

  constructor(private readonly uow: UnitOfWork) {}

  /** Takes `roomId`'s turn for `t` (once per transaction): released when `t` is over, effects included. */
  take(t: Transaction, roomId: number): void {
    let held = this.held.get(t);
    if (!held) this.held.set(t, (held = new Set()));
    if (held.has(roomId)) return;
    const before = this.tails.get(roomId) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before.then(() => mine);
    this.tails.set(roomId, tail);
    void tail.then(() => {
      if (this.tails.get(roomId) === tail) this.tails.delete(roomId);
    });
    // Outside a unit of work there is nothing to wait for: the turn is over at once.
    if (!this.uow.onSettled(t, release)) return release();
    held.add(roomId);
    this.uow.afterCommit(t, () => before);
  }
}
