import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';

/** A username unique to this run (3–32 of [A-Za-z0-9_.-]). */
export function uniq(prefix: string): string {
  return `${prefix}${Date.now().toString(36).slice(-5)}${Math.random().toString(36).slice(2, 6)}`.slice(
    0,
    32,
  );
}

/**
 * A few random characters for display names: those are unique per server too (look-alikes are refused), and a spec
 * run with `--repeat-each` registers its users again on the same server.
 */
export const shortTag = (): string => Math.random().toString(36).slice(2, 6);

export const PASSWORD = 'correct-horse-9';

export interface TestUser {
  username: string;
  displayName: string;
  page: Page;
  context: BrowserContext;
}

/**
 * Registers through the API from inside the browser context (so the refresh cookie lands in it), then opens
 * the app: faster than the form, which has its own tests.
 */
export async function signedInUser(
  browser: Browser,
  prefix: string,
  opts: { displayName?: string; baseURL?: string; viewport?: { width: number; height: number } } = {},
): Promise<TestUser> {
  const context = await browser.newContext({
    ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
    ...(opts.viewport ? { viewport: opts.viewport } : {}),
  });
  const page = await context.newPage();
  const username = uniq(prefix);
  const displayName = opts.displayName ?? username;
  const res = await page.request.post('/api/auth/register', {
    data: { username, email: `${username}@example.com`, password: PASSWORD, displayName },
  });
  expect(res.status(), await res.text()).toBe(201);
  await page.goto('/');
  await expect(page.getByRole('log')).toBeVisible();
  return { username, displayName, page, context };
}

export const composer = (page: Page) => page.getByRole('textbox', { name: 'Message', exact: true });

export async function sendText(page: Page, text: string): Promise<void> {
  const box = composer(page);
  await box.fill(text);
  await box.press('Enter');
}

/** The timeline of the open room. */
export const timeline = (page: Page, roomName: string) =>
  page.getByRole('log', { name: roomName, exact: true });

/** Message articles in a timeline containing `text`. */
export const messages = (page: Page, roomName: string, text: string | RegExp) =>
  timeline(page, roomName).getByRole('article').filter({ hasText: text });

/** Opens a room from the sidebar (on a phone, open the drawer first). */
export async function openRoom(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name }).first().click();
  await expect(timeline(page, name)).toBeVisible();
}

/** Creates a room with the "New room" dialog and waits until it is open. */
export async function createRoom(
  page: Page,
  name: string,
  kind: 'Public' | 'Private' = 'Public',
): Promise<void> {
  await page.getByRole('button', { name: 'New room' }).click();
  const dialog = page.getByRole('dialog', { name: 'New room' });
  await dialog.getByLabel('Room name').fill(name);
  await dialog.getByLabel('Description').fill(`Where we talk about ${name}`);
  await dialog.getByRole('radio', { name: new RegExp(kind) }).check();
  await dialog.getByRole('button', { name: 'Create' }).click();
  await expect(dialog).toBeHidden();
  await expect(timeline(page, name)).toBeVisible();
}

/** Fails the test on any uncaught page error or console error that is not an expected network refusal. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // The browser logs refused requests/sockets (server restarts, 4xx answers tests provoke) as errors.
    if (/Failed to load resource|WebSocket connection|ERR_CONNECTION_REFUSED|net::/i.test(text)) return;
    errors.push(`console: ${text}`);
  });
  return errors;
}
