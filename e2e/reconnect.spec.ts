import { expect, test } from '@playwright/test';
import { messages, sendText, timeline, watchErrors } from './support/app';
import { apiUser } from './support/seed';
import { startOwnServer, type OwnServer } from './support/server';

let server: OwnServer;

test.beforeAll(async () => {
  server = await startOwnServer();
});

test.afterAll(async () => {
  await server?.dispose();
});

test('after the server restarts, each client shows what it missed exactly once', async ({ browser }) => {
  const ana = await apiUser(browser, 'ana', 'Ana Reconnect', { baseURL: server.url });
  const bo = await apiUser(browser, 'bo', 'Bo Reconnect', { baseURL: server.url });
  const errors = [...watchErrors(ana.page), ...watchErrors(bo.page)];

  for (const u of [ana, bo]) {
    await u.page.goto('/');
    await expect(timeline(u.page, 'general')).toBeVisible();
  }
  await expect(ana.page.getByRole('list', { name: 'Online' }).getByText('Bo Reconnect')).toBeVisible();
  await sendText(bo.page, 'Before the restart');
  await expect(messages(ana.page, 'general', 'Before the restart')).toHaveCount(1);

  // The server process dies (killed by pid) and comes back on the same port with the same data.
  // Ana's browser goes offline too, so that she stays away while Bo talks.
  await ana.context.setOffline(true);
  await server.kill();
  await expect(ana.page.getByText('Reconnecting…')).toBeVisible();
  await expect(bo.page.getByText('Reconnecting…')).toBeVisible();

  // Written while offline: shown as pending, sent when the connection is back.
  await sendText(ana.page, 'Written while offline');
  await expect(messages(ana.page, 'general', 'Written while offline')).toContainText('Sending…');

  await server.restart();
  await expect(bo.page.getByText('Reconnecting…')).toBeHidden({ timeout: 20_000 });
  await sendText(bo.page, 'Missed one');
  await sendText(bo.page, 'Missed two');
  await expect(messages(bo.page, 'general', 'Missed two')).not.toContainText('Sending…');
  await expect(ana.page.getByText('Reconnecting…')).toBeVisible();
  await expect(messages(ana.page, 'general', 'Missed one')).toHaveCount(0);

  // Ana comes back: she fetches what she missed (messages:fetch after her last id) and sends her queued one.
  await ana.context.setOffline(false);
  await expect(ana.page.getByText('Reconnecting…')).toBeHidden({ timeout: 20_000 });
  for (const page of [ana.page, bo.page]) {
    for (const text of ['Before the restart', 'Missed one', 'Missed two', 'Written while offline']) {
      await expect(messages(page, 'general', text)).toHaveCount(1);
    }
    await expect(messages(page, 'general', 'Written while offline')).not.toContainText('Sending…');
  }
  // In the order the server stored them.
  const texts = await timeline(ana.page, 'general').getByRole('article').allInnerTexts();
  const order = ['Before the restart', 'Missed one', 'Missed two'].map((t) =>
    texts.findIndex((x) => x.includes(t)),
  );
  expect(order).toEqual([...order].sort((a, b) => a - b));

  // Live messages flow again both ways.
  await sendText(bo.page, 'All good again?');
  await expect(messages(ana.page, 'general', 'All good again?')).toHaveCount(1);
  expect(errors).toEqual([]);
  await ana.context.close();
  await bo.context.close();
});
