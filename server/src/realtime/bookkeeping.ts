/**
 * Per server-side socket: the bookkeeping of its arrival (subscribed to its rooms, counted in presence, its user's
 * subscribers told if it was the user's first) and, once it went, of its departure (told if it was the user's
 * last). Clients learn of neither: handlers that must see the socket's own arrival (who is
 * online) wait on it, and so do tests and tools running in-process.
 */
const bookkeeping = new WeakMap<object, Promise<void>>();

export function socketSettled(socket: object): Promise<void> {
  return bookkeeping.get(socket) ?? Promise.resolve();
}

export function setBookkeeping(socket: object, work: Promise<void>): void {
  bookkeeping.set(socket, work);
}
