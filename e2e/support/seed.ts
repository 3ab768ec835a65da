import {
  expect,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type Page,
} from '@playwright/test';
import { PASSWORD, uniq } from './app';
import { makePng } from './png';

export interface ApiUser {
  id: string;
  username: string;
  displayName: string;
  token: string;
  context: BrowserContext;
  page: Page;
}

/** A user registered through the API inside their own browser context (the refresh cookie lands there). */
export async function apiUser(
  browser: Browser,
  prefix: string,
  displayName: string,
  opts: {
    viewport?: { width: number; height: number };
    baseURL?: string;
    username?: string;
    /** A phone: touch events, mobile viewport behaviour. */
    touch?: boolean;
  } = {},
): Promise<ApiUser> {
  const context = await browser.newContext({
    viewport: opts.viewport ?? { width: 1280, height: 800 },
    ...(opts.touch ? { hasTouch: true, isMobile: true } : {}),
    ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
  });
  const page = await context.newPage();
  // An exact username only on a server of the test's own (the shared one keeps every run's users).
  const username = opts.username ?? uniq(prefix);
  const res = await context.request.post('/api/auth/register', {
    data: { username, email: `${username}@example.com`, password: PASSWORD, displayName },
  });
  expect(res.status(), await res.text()).toBe(201);
  const session = (await res.json()) as { accessToken: string; user: { id: string } };
  return { id: session.user.id, username, displayName, token: session.accessToken, context, page };
}

const auth = (u: ApiUser) => ({ Authorization: `Bearer ${u.token}` });

export async function api<T>(
  request: APIRequestContext,
  u: ApiUser,
  method: 'get' | 'post' | 'patch' | 'delete',
  path: string,
  data?: unknown,
): Promise<T> {
  const res = await request.fetch(path, { method, headers: auth(u), data });
  expect(res.ok(), `${method} ${path}: ${res.status()} ${await res.text()}`).toBe(true);
  return (res.status() === 204 ? undefined : await res.json()) as T;
}

export async function createRoomApi(u: ApiUser, name: string, description = '', kind = 'public') {
  return api<{ id: string }>(u.context.request, u, 'post', '/api/chatrooms', { name, description, kind });
}

export async function joinRoomApi(u: ApiUser, roomId: string) {
  return api(u.context.request, u, 'post', `/api/chatrooms/${roomId}/members`, {});
}

export async function say(u: ApiUser, roomId: string, text: string, attachmentId?: string) {
  return api<{ id: string }>(u.context.request, u, 'post', `/api/chatrooms/${roomId}/messages`, {
    text: text || undefined,
    attachmentId,
  });
}

export async function uploadPng(u: ApiUser, width = 480, height = 300): Promise<string> {
  const res = await u.context.request.post('/api/uploads', {
    headers: auth(u),
    multipart: { file: { name: 'mock.png', mimeType: 'image/png', buffer: makePng(width, height) } },
  });
  expect(res.status(), await res.text()).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/**
 * `count` guests named `${prefix}000`, `${prefix}001`, … joined to a public room, through the API only (no browser,
 * no socket: they stay offline). Guests, because registering hashes a password each; a few requests at a time, so
 * that the seeding does not starve the server the other specs share the cores with.
 */
export async function guestMembers(
  request: APIRequestContext,
  roomId: string,
  prefix: string,
  count: number,
): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`);
  const one = async (username: string) => {
    const res = await request.post('/api/auth/guest', { data: { username } });
    expect(res.status(), await res.text()).toBe(201);
    const { accessToken } = (await res.json()) as { accessToken: string };
    const join = await request.post(`/api/chatrooms/${roomId}/members`, {
      headers: { Authorization: `Bearer ${accessToken}` },
      data: {},
    });
    expect(join.ok(), await join.text()).toBe(true);
  };
  for (let i = 0; i < names.length; i += 8) await Promise.all(names.slice(i, i + 8).map(one));
  return names;
}
