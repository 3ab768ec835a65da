import { io as ioClient, type Socket } from 'socket.io-client';

/*
 * Socket.IO clients for the scenarios that talk to Parley from the benchmark process itself. Parley limits each
 * socket to 30 events/s (burst 60) and disconnects one that keeps exceeding it, a rule of the server that no
 * setting lifts; so anything faster spreads over a pool of sockets, each paced below that rate.
 */

/** Events per second one pooled socket may send: under the server's 30/s per-socket refill. */
export const SOCKET_EVENTS_PER_SEC = 25;

/** A socket.io-client socket signed in as `token`'s holder, over WebSocket; resolves once connected. */
export function connectParley(url: string, token: string, timeoutMs = 10_000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = ioClient(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      timeout: timeoutMs,
      auth: { token },
    });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

export interface Ack<T = unknown> {
  ok: boolean;
  data?: T;
  error?: { code: string; message: string };
}

/** Sockets used in turn, each at most {@link SOCKET_EVENTS_PER_SEC}; `emit` waits for a slot when all are busy. */
export class SocketPool {
  private next = 0;
  private readonly freeAt: number[];

  private constructor(private readonly sockets: Socket[]) {
    this.freeAt = sockets.map(() => 0);
  }

  /** `size` sockets, signed in with `tokens` in turn. */
  static async open(url: string, tokens: string[], size: number): Promise<SocketPool> {
    const sockets = await Promise.all(
      Array.from({ length: size }, (_, i) => connectParley(url, tokens[i % tokens.length]!)),
    );
    return new SocketPool(sockets);
  }

  /** Emits `event` on the next socket whose pace allows it, and resolves with the ack. */
  async emit<T>(event: string, payload: unknown): Promise<Ack<T>> {
    const i = this.next;
    this.next = (i + 1) % this.sockets.length;
    const wait = this.freeAt[i]! - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    this.freeAt[i] = performance.now() + 1000 / SOCKET_EVENTS_PER_SEC;
    return (await this.sockets[i]!.emitWithAck(event, payload)) as Ack<T>;
  }

  close(): void {
    for (const s of this.sockets) s.close();
  }
}
