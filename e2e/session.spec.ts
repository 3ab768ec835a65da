import { expect, test } from '@playwright/test';
import { messages, sendText, timeline } from './support/app';
import { apiUser } from './support/seed';
import { startOwnServer, type OwnServer } from './support/server';

let server: OwnServer;

test.beforeAll(async () => {
  // Access tokens that last 6 seconds: the client refreshes over and over while the test runs.
  server = await startOwnServer({ ACCESS_TOKEN_TTL: '6s' });
});

test.afterAll(async () => {
  await server?.dispose();
});

test('short-lived tokens are refreshed silently, in two tabs at once, without losing messages', async ({
  browser,
}) => {
  const ana = await apiUser(browser, 'ana', 'Ana Tokens', { baseURL: server.url });
  const bo = await apiUser(browser, 'bo', 'Bo Tokens', { baseURL: server.url });
  const secondTab = await ana.context.newPage();
  const refreshes: number[] = [];
  ana.context.on('response', (r) => {
    if (r.url().endsWith('/api/auth/refresh')) refreshes.push(r.status());
  });
  for (const page of [ana.page, secondTab, bo.page]) {
    await page.goto('/');
    await expect(timeline(page, 'general')).toBeVisible();
  }

  // Two token lifetimes pass; Bo keeps talking, and Ana's tabs keep receiving.
  for (let i = 1; i <= 4; i++) {
    await bo.page.waitForTimeout(2_500);
    await sendText(bo.page, `Tick ${i}`);
  }
  for (const page of [ana.page, secondTab]) {
    for (let i = 1; i <= 4; i++) await expect(messages(page, 'general', `Tick ${i}`)).toHaveCount(1);
    await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  }
  // Refreshed several times, never refused (a reused refresh token would have revoked the session).
  expect(refreshes.length).toBeGreaterThanOrEqual(2);
  expect(refreshes.every((s) => s === 200)).toBe(true);

  // REST and the socket both work with whatever token is current.
  await sendText(secondTab, 'From the second tab');
  await expect(messages(bo.page, 'general', 'From the second tab')).toHaveCount(1);
  await ana.page.getByRole('list', { name: 'Online' }).getByRole('button', { name: 'Bo Tokens' }).click();
  await expect(timeline(ana.page, 'Bo Tokens')).toBeVisible();

  // And the refresh cookie is still good.
  await ana.page.reload();
  await expect(ana.page.getByRole('log')).toBeVisible();
  await ana.context.close();
  await bo.context.close();
});
