import type { IoSocket } from './channels.js';

/** setTimeout's longest delay; a longer one fires at once (an ACCESS_TOKEN_TTL of 30d is ~2.6e9 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Bucket {
  sockets: Set<IoSocket>;
  timer: NodeJS.Timeout;
}

/**
 * Ends sockets when their access token expires: at `exp` the socket gets `session:ended {reason: "token_expired"}`
 * and is closed. Tokens carry `exp` in whole seconds, so the sockets whose tokens expire in the same second share one
 * timer (a reconnect wave signs its tokens within seconds): a timer and its closures per socket were ~0.4 KiB of
 * every idle socket.
 */
export class TokenExpiry {
  private buckets = new Map<number, Bucket>();
  /** Each socket's `exp`, so that its departure needs no closure of its own to find its bucket. */
  private expOf = new WeakMap<IoSocket, number>();

  /** Ends `socket` at `exp` (seconds since the epoch). */
  add(socket: IoSocket, exp: number): void {
    this.expOf.set(socket, exp);
    let bucket = this.buckets.get(exp);
    if (!bucket) this.buckets.set(exp, (bucket = { sockets: new Set(), timer: this.arm(exp) }));
    bucket.sockets.add(socket);
  }

  /** The socket went away before its token expired. */
  remove(socket: IoSocket): void {
    const exp = this.expOf.get(socket);
    if (exp === undefined) return;
    this.expOf.delete(socket);
    const bucket = this.buckets.get(exp);
    if (!bucket?.sockets.delete(socket) || bucket.sockets.size) return;
    clearTimeout(bucket.timer);
    this.buckets.delete(exp);
  }

  close(): void {
    for (const b of this.buckets.values()) clearTimeout(b.timer);
    this.buckets.clear();
  }

  private arm(exp: number): NodeJS.Timeout {
    const left = exp * 1000 - Date.now();
    const timer =
      left > MAX_TIMER_MS
        ? setTimeout(() => {
            const bucket = this.buckets.get(exp);
            if (bucket) bucket.timer = this.arm(exp);
          }, MAX_TIMER_MS)
        : setTimeout(() => this.expire(exp), Math.max(0, left));
    timer.unref();
    return timer;
  }

  private expire(exp: number): void {
    const bucket = this.buckets.get(exp);
    this.buckets.delete(exp);
    for (const socket of bucket?.sockets ?? []) {
      socket.emit('session:ended', { reason: 'token_expired' });
      socket.disconnect(true);
    }
  }
}
