import { expect, test } from '@playwright/test';
import { messages, timeline } from './support/app';
import { apiUser, createRoomApi, joinRoomApi, say } from './support/seed';

test('history loads as you scroll up without moving what you read; "Jump to latest" and the divider', async ({
  browser,
}) => {
  const ana = await apiUser(browser, 'hist', 'Hi Story');
  const bo = await apiUser(browser, 'talk', 'Talk Ative');
  const name = `history-${Date.now().toString(36).slice(-5)}`;
  const room = await createRoomApi(ana, name);
  await joinRoomApi(bo, room.id);
  for (let i = 1; i <= 130; i++) await say(bo, room.id, `Line ${String(i).padStart(3, '0')}`);

  const page = ana.page;
  await page.goto(`/rooms/${room.id}`);
  const log = timeline(page, name);
  // Opened at the first unread message (the divider), having read nothing yet… then at the end.
  await expect(page.getByRole('separator').filter({ hasText: 'New messages' })).toBeVisible();
  await log.evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(messages(page, name, 'Line 130')).toBeInViewport();
  await expect(messages(page, name, 'Line 001')).toHaveCount(0);

  // Scrolling up loads older pages; the message in view stays where it was on screen (no jump).
  const top = (text: string) =>
    messages(page, name, text).evaluate((el) => Math.round(el.getBoundingClientRect().top));
  while ((await messages(page, name, 'Line 001').count()) === 0) {
    const count = await log.getByRole('article').count();
    const anchor = (await log.getByRole('article').nth(1).innerText()).match(/Line \d+/)![0];
    const scrolled = await log.evaluate((el) => el.scrollTop);
    const before = await top(anchor);
    await log.evaluate((el) => (el.scrollTop = 0));
    await expect.poll(() => log.getByRole('article').count()).toBeGreaterThan(count);
    await expect.poll(() => top(anchor)).toBe(before + scrolled);
  }
  await expect(messages(page, name, 'Line 001')).toHaveCount(1);
  await expect(log.getByText(`This is the beginning of #${name}.`)).toBeVisible();
  for (const n of ['001', '050', '051', '100', '130'])
    await expect(messages(page, name, `Line ${n}`)).toHaveCount(1);
  await expect(log.getByRole('article')).toHaveCount(132); // 130 lines and two joins

  // Scrolled up, a new message does not drag the view down: it is counted, with a divider above it.
  const jump = page.getByRole('button', { name: /Jump to latest/ });
  await expect(jump).toBeVisible();
  await say(bo, room.id, 'Something new');
  await expect(jump).toContainText('1');
  await expect(messages(page, name, 'Something new')).not.toBeInViewport();
  await jump.click();
  await expect(messages(page, name, 'Something new')).toBeInViewport();
  await expect(jump).toBeHidden();
  await ana.context.close();
  await bo.context.close();
});
