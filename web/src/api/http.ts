import { freshToken, refreshSession } from '../features/auth/session';
import { ApiError } from './errors';

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** Send the bearer token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
}

function withQuery(path: string, query: RequestOptions['query']): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * One JSON request to the API. A 401 for an expired or refused access token triggers one refresh (shared with
 * every other caller) and one retry. Errors come back as ApiError in the contract's shape.
 */
export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const { auth = true } = opts;
  const send = async (token: string | null) => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth && token) headers['Authorization'] = `Bearer ${token}`;
    try {
      return await fetch(withQuery(path, opts.query), {
        method,
        headers,
        credentials: 'same-origin',
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal,
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError('NETWORK', 'Cannot reach the server. Check your connection and try again.');
    }
  };

  let res = await send(auth ? await freshToken() : null);
  if (res.status === 401 && auth) {
    const code = await peekCode(res);
    if (code === 'TOKEN_EXPIRED' || code === 'UNAUTHORIZED') {
      if (await refreshSession(true)) res = await send(await freshToken());
    }
  }
  if (res.status === 204) return undefined as T;
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const retryAfter = Number(res.headers.get('Retry-After')) || undefined;
    throw ApiError.fromBody(body, res.status, retryAfter);
  }
  return body as T;
}

async function peekCode(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.clone().json()) as { error?: { code?: string } };
    return body.error?.code;
  } catch {
    return undefined;
  }
}
