import type {
  Ack,
  ClientAckData,
  ClientEventName,
  ClientPayload,
  ClientToServerEvents,
  HandshakeAuth,
  ServerToClientEvents,
} from '@parley/protocol';
import { io, type Socket } from 'socket.io-client';
import { ApiError } from '../api/errors';
import { authStore, clearSession, freshToken, refreshSession } from '../features/auth/session';
import { jittered, RATE_LIMITED_RETRY_MS, RECONNECT_OPTIONS } from './options';

export type ParleySocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface ConnectionHandlers {
  /** Connected; `first` is false after a reconnect (the caller fetches what it missed). */
  onConnect(first: boolean): void;
  onDisconnect(): void;
}

/** Session-ending reasons after which refreshing cannot help. */
const FINAL_REASONS = new Set(['logout', 'logout_all', 'reuse', 'password_changed', 'released', 'revoked']);

let socket: ParleySocket | null = null;
let everConnected = false;
let authFailures = 0;
let retryTimer: ReturnType<typeof setTimeout> | undefined;

export function isConnected(): boolean {
  return socket?.connected ?? false;
}

/**
 * Opens the one Socket.IO connection of this tab. The token is read at every (re)connect, so a refreshed token
 * is used automatically. A handshake refused as TOKEN_EXPIRED (or a socket closed by the server when its token
 * ran out) refreshes first and reconnects; a session ended elsewhere signs out.
 */
export function openSocket(handlers: ConnectionHandlers): ParleySocket {
  if (socket) return socket;
  everConnected = false;
  const s: ParleySocket = io({
    autoConnect: false,
    transports: ['websocket', 'polling'],
    ...RECONNECT_OPTIONS,
    // A handshake that hangs (a proxy in front of a restarting server) is abandoned and retried sooner.
    timeout: 8000,
    auth: (cb) => {
      void freshToken()
        .catch(() => null)
        // messageBatches: a busy room's messages may come several to a frame (`messages:new`, events.ts).
        .then((token) => cb({ token: token ?? '', messageBatches: true } satisfies HandshakeAuth));
    },
  });
  socket = s;

  s.on('connect', () => {
    authFailures = 0;
    const first = !everConnected;
    everConnected = true;
    handlers.onConnect(first);
  });

  s.on('disconnect', (reason) => {
    handlers.onDisconnect();
    // The server closed us (token ran out, flood guard): Socket.IO does not retry by itself then.
    // Jittered: a shutting-down server disconnects everyone at once, and they must not all come back at once.
    if (reason === 'io server disconnect') reconnectSoon(s, jittered(300));
  });

  s.on('connect_error', (err) => {
    if (s !== socket) return;
    if (err.message === 'TOKEN_EXPIRED' || err.message === 'UNAUTHORIZED') {
      // Refused by the server's middleware: no automatic retry. Refresh, then try again (with backoff).
      authFailures++;
      if (authFailures > 5) {
        clearSession('Your session ended. Please sign in again.');
        return;
      }
      reconnectSoon(s, authFailures === 1 ? 0 : 1000 * authFailures, true);
    } else if (err.message === 'RATE_LIMITED') {
      // Too many tabs or connections: a middleware refusal, which Socket.IO does not retry by itself.
      reconnectSoon(s, jittered(RATE_LIMITED_RETRY_MS));
    }
  });

  s.on('session:ended', ({ reason }) => {
    if (FINAL_REASONS.has(reason)) {
      clearSession(
        reason === 'logout'
          ? 'You were signed out.'
          : reason === 'logout_all'
            ? 'You signed out on every device.'
            : reason === 'password_changed'
              ? 'Your password was changed, so this device was signed out. Please sign in again.'
              : 'Your session ended. Please sign in again.',
      );
    }
  });

  s.connect();
  return s;
}

function reconnectSoon(s: ParleySocket, delayMs: number, force = false): void {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => {
    if (s !== socket || s.connected) return;
    if (authStore.get().auth.status !== 'signed-in') return;
    refreshSession(force)
      .then((ok) => {
        if (ok && s === socket && !s.connected) s.connect();
      })
      .catch(() => reconnectSoon(s, jittered(3000), force));
  }, delayMs);
}

export function closeSocket(): void {
  clearTimeout(retryTimer);
  const s = socket;
  socket = null;
  s?.removeAllListeners();
  s?.disconnect();
}

/** Emits a client event and resolves with its acknowledgement's data (rejects with ApiError). */
export function emitAck<E extends ClientEventName>(
  event: E,
  payload: ClientPayload<E>,
  timeoutMs = 10_000,
): Promise<ClientAckData[E]> {
  const s = socket;
  if (!s || !s.connected) {
    return Promise.reject(new ApiError('NETWORK', 'Not connected to the server.'));
  }
  return new Promise((resolve, reject) => {
    const timed = s.timeout(timeoutMs) as unknown as {
      emit(e: string, p: unknown, cb: (err: Error | null, res: Ack<ClientAckData[E]>) => void): void;
    };
    timed.emit(event, payload, (err, res) => {
      if (err) return reject(new ApiError('TIMEOUT', 'The server did not answer in time.'));
      if (res.ok) resolve(res.data);
      else reject(ApiError.fromBody(res, 0));
    });
  });
}

/** Fire-and-forget events (typing): dropped when offline rather than queued. */
export function emitVolatile<E extends ClientEventName>(event: E, payload: ClientPayload<E>): void {
  const s = socket;
  if (!s?.connected) return;
  (s.volatile.emit as unknown as (e: string, p: unknown) => void).call(s.volatile, event, payload);
}
