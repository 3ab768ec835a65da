import type { IoSocket } from './channels.js';

/**
 * Per server-side socket: the bookkeeping of its arrival (subscribed to its rooms, counted in presence, its user's
 * subscribers told if it was the user's first) and, once it went, of its departure (told if it was the user's
 * last). Clients learn of neither: handlers that must see the socket's own arrival (who is online) wait on it, and
 * so do the shutdown, tests and tools running in-process. One per app, on its context (`ctx.bookkeeping`).
 */
export class SocketBookkeeping {
  private readonly work = new WeakMap<IoSocket, Promise<void>>();

  /** Resolves once the socket's latest bookkeeping (arrival, or departure once it went) is done. Never rejects. */
  settled(socket: IoSocket): Promise<void> {
    return this.work.get(socket) ?? Promise.resolve();
  }

  /** Records the socket's latest bookkeeping; `work` must not reject. */
  set(socket: IoSocket, work: Promise<void>): void {
    this.work.set(socket, work);
  }
}
