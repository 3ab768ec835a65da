import type { Me, Session } from '@parley/protocol';
import { ApiError } from '../../api/errors';
import { createStore } from '../../store/store';

/*
 * The signed-in session. The access token lives in memory only; the refresh token is the httpOnly cookie the
 * server sets, so a reload signs back in with POST /api/auth/refresh. Refresh tokens rotate and a reused one
 * revokes the session, so a refresh is never run twice at once: one in-flight promise per tab, and the Web
 * Locks API (falling back to nothing where absent) across tabs. A tab that refreshed tells the others the new
 * access token over a BroadcastChannel, so they do not spend the cookie again.
 */

export type AuthState =
  | { status: 'loading'; retrying?: boolean }
  | { status: 'signed-out'; notice?: string }
  | { status: 'signed-in'; user: Me };

export const authStore = createStore<{ auth: AuthState }>({ auth: { status: 'loading' } });

/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;
const LOCK_NAME = 'parley-auth-refresh';

type TabMessage =
  { type: 'session'; accessToken: string; expiresAt: number; user: Me } | { type: 'signed-out' };

let accessToken: string | null = null;
let expiresAt = 0;
let inFlight: Promise<boolean> | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
let retryDelay = 2_000;
const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('parley-auth') : null;

channel?.addEventListener('message', (ev: MessageEvent<TabMessage>) => {
  const msg = ev.data;
  if (msg.type === 'session') {
    if (msg.expiresAt > expiresAt) setToken(msg.accessToken, msg.expiresAt, msg.user);
  } else if (msg.type === 'signed-out' && authStore.get().auth.status === 'signed-in') {
    clearSession('You signed out in another tab.');
  }
});

document.addEventListener('visibilitychange', () => {
  // Background tabs have their timers throttled: check again when the tab comes back.
  if (document.visibilityState === 'visible' && accessToken && expiresAt - Date.now() < REFRESH_MARGIN_MS) {
    void refreshSession().catch(() => undefined);
  }
});

function setToken(token: string, until: number, user: Me): void {
  accessToken = token;
  expiresAt = until;
  retryDelay = 2_000;
  schedule(until - Date.now() - REFRESH_MARGIN_MS);
  const current = authStore.get().auth;
  if (current.status !== 'signed-in' || current.user.id !== user.id || current.user !== user) {
    authStore.set({ auth: { status: 'signed-in', user } });
  }
}

function schedule(inMs: number): void {
  clearTimeout(timer);
  timer = setTimeout(() => void refreshSession().catch(() => undefined), Math.max(5_000, inMs));
}

/** Takes a Session answered by register/login/guest/refresh. */
export function adoptSession(session: Session): void {
  const until = Date.now() + session.expiresIn * 1000;
  setToken(session.accessToken, until, session.user);
  channel?.postMessage({
    type: 'session',
    accessToken: session.accessToken,
    expiresAt: until,
    user: session.user,
  } satisfies TabMessage);
}

export function clearSession(notice?: string): void {
  clearTimeout(timer);
  accessToken = null;
  expiresAt = 0;
  authStore.set({ auth: { status: 'signed-out', notice } });
}

/** A token good for at least a little while, refreshing first if needed. */
export async function freshToken(): Promise<string | null> {
  if (accessToken && expiresAt - Date.now() > 10_000) return accessToken;
  if (authStore.get().auth.status === 'signed-out') return null;
  await refreshSession();
  return accessToken;
}

/**
 * Trades the refresh cookie for a new session. Resolves true when signed in afterwards, false when the server
 * refused (the user is signed out); rejects on network/server trouble (the session may still be good).
 * `force`: the current access token was refused, so do not trust its expiry time.
 */
export function refreshSession(force = false): Promise<boolean> {
  const tokenBefore = accessToken;
  inFlight ??= withLock(async () => {
    // Another tab may have refreshed (and told us) while we waited for the lock.
    const stillGood = accessToken && expiresAt - Date.now() > REFRESH_MARGIN_MS;
    if (stillGood && (!force || accessToken !== tokenBefore)) return true;
    let res: Response;
    try {
      res = await fetch('/api/auth/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
    } catch {
      throw retryLater(new ApiError('NETWORK', 'Cannot reach the server.'));
    }
    const body: unknown = await res.json().catch(() => null);
    if (res.ok) {
      adoptSession(body as Session);
      return true;
    }
    if (res.status === 401 || res.status === 403) {
      const wasSignedIn = authStore.get().auth.status === 'signed-in';
      clearSession(wasSignedIn ? 'Your session ended. Please sign in again.' : undefined);
      return false;
    }
    throw retryLater(
      ApiError.fromBody(body, res.status, Number(res.headers.get('Retry-After')) || undefined),
    );
  }).finally(() => {
    inFlight = null;
  });
  return inFlight;
}

/** A failed refresh that might work later: try again with backoff while the token may still be valid. */
function retryLater(err: ApiError): ApiError {
  if (accessToken) {
    schedule(retryDelay);
    retryDelay = Math.min(retryDelay * 2, 60_000);
  }
  return err;
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  if (typeof navigator !== 'undefined' && navigator.locks?.request) {
    return navigator.locks.request(LOCK_NAME, fn);
  }
  return fn();
}

/**
 * Called once at start-up: a reload signs back in from the refresh cookie. While the server cannot be reached
 * (it may be restarting), it keeps trying rather than showing a sign-in form to someone who is signed in.
 */
export async function restoreSession(): Promise<void> {
  for (let delay = 1_000; authStore.get().auth.status === 'loading'; delay = Math.min(delay * 2, 10_000)) {
    try {
      if (!(await refreshSession()) && authStore.get().auth.status === 'loading') clearSession();
      return;
    } catch {
      authStore.set({ auth: { status: 'loading', retrying: true } });
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Ends the session on the server (its sockets are told), then everywhere in this browser. */
export async function signOut(): Promise<void> {
  const token = accessToken;
  try {
    await fetch('/api/auth/logout', {
      method: 'POST',
      credentials: 'same-origin',
      headers: {
        'Content-Type': 'application/json',
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
      },
      body: '{}',
    });
  } catch {
    // Signed out locally anyway; the cookie stays until it expires or is used.
  }
  channel?.postMessage({ type: 'signed-out' } satisfies TabMessage);
  clearSession();
}

/** The server answered a new Me (settings changed): this tab shows it at once. */
export function setMe(user: Me): void {
  if (authStore.get().auth.status === 'signed-in') authStore.set({ auth: { status: 'signed-in', user } });
}

/**
 * POST /api/auth/logout-all: every session of the user ends, this one included (every device's sockets are told
 * `session:ended`). Throws the server's error (e.g. RATE_LIMITED) and then stays signed in.
 */
export async function signOutEverywhere(): Promise<void> {
  const token = await freshToken();
  const res = await fetch('/api/auth/logout-all', {
    method: 'POST',
    credentials: 'same-origin',
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  if (res.status !== 204) {
    const body: unknown = await res.json().catch(() => null);
    throw ApiError.fromBody(body, res.status, Number(res.headers.get('Retry-After')) || undefined);
  }
  channel?.postMessage({ type: 'signed-out' } satisfies TabMessage);
  clearSession('You signed out on every device.');
}
