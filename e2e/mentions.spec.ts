import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { composer, timeline } from './support/app';
import { apiUser, createRoomApi, joinRoomApi, say, type ApiUser } from './support/seed';

/*
 * Mentions and notification levels in the browser: the `@` autocomplete, the mention badge (in the room list,
 * and on the phone's menu button), highlighted mentions, and desktop notifications that follow the room's level.
 * `window.Notification` is the browser's API: a stub installed before the app loads records what would show.
 */

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'tablet', width: 820, height: 1180 },
  { name: 'phone', width: 390, height: 844 },
] as const;

declare global {
  interface Window {
    __notifications: { title: string; body: string }[];
  }
}

/** Grants notifications and records each one instead of showing it. */
async function recordNotifications(u: ApiUser): Promise<void> {
  await u.context.addInitScript(() => {
    window.__notifications = [];
    class RecordingNotification {
      static permission = 'granted';
      static requestPermission = () => Promise.resolve('granted');
      onclick: (() => void) | null = null;
      constructor(title: string, opts?: { body?: string }) {
        window.__notifications.push({ title, body: opts?.body ?? '' });
      }
      close() {}
    }
    Object.defineProperty(window, 'Notification', { value: RecordingNotification, configurable: true });
  });
}

const notifications = (page: Page) => page.evaluate(() => window.__notifications.map((n) => n.body));

/** The room as `u` sees it, from the server. */
async function roomOf(u: ApiUser, roomId: string): Promise<{ notifications: string; mentionCount: number }> {
  const res = await u.context.request.get(`/api/chatrooms/${roomId}`, {
    headers: { Authorization: `Bearer ${u.token}` },
  });
  return (await res.json()) as { notifications: string; mentionCount: number };
}

/** Opens a room from the sidebar without reloading (on a phone, through the drawer). */
async function openInApp(page: Page, name: RegExp, phone: boolean): Promise<void> {
  if (phone) await page.getByRole('button', { name: /^Open rooms/ }).click();
  await page.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name }).first().click();
}

async function expectNoSeriousViolations(page: Page, label: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    .analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${label}: ${v.id} (${v.impact}): ${v.help} → ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    );
  expect(serious, serious.join('\n')).toEqual([]);
}

for (const vp of VIEWPORTS) {
  test(`mentions, badge and notification levels at ${vp.width}×${vp.height}`, async ({ browser }) => {
    test.slow();
    const viewport = { width: vp.width, height: vp.height };
    const ana = await apiUser(browser, 'ana', `Ana Mentions ${vp.name}`, { viewport });
    const bo = await apiUser(browser, 'bo', `Bo Mentions ${vp.name}`, { viewport });
    await recordNotifications(bo);
    const name = `men-${vp.name}-${Date.now().toString(36).slice(-5)}`;
    const room = await createRoomApi(ana, name);
    await joinRoomApi(bo, room.id);
    await say(bo, room.id, 'hi all');

    // Bo looks at another room (general); ana writes in hers.
    await bo.page.goto('/');
    await expect(bo.page.getByRole('log')).toBeVisible();
    await expect(bo.page.getByRole('log', { name, exact: true })).toHaveCount(0);

    // Ana mentions bo through the autocomplete, with the keyboard.
    await ana.page.goto(`/rooms/${room.id}`);
    await expect(timeline(ana.page, name).getByRole('article').last()).toContainText('hi all');
    const box = composer(ana.page);
    await box.click();
    await box.pressSequentially(`ping @${bo.username.slice(0, 4)}`);
    const list = ana.page.getByRole('listbox', { name: 'Mention someone' });
    await expect(list).toBeVisible();
    const option = list.getByRole('option', { name: new RegExp(`@${bo.username}`) });
    await expect(option).toBeVisible();
    await expectNoSeriousViolations(ana.page, `autocomplete ${vp.name}`);
    // Bo is the only member whose name starts so: the first option, and the arrows wrap around to it.
    await expect(option).toHaveAttribute('aria-selected', 'true');
    await box.press('ArrowDown');
    await expect(option).toHaveAttribute('aria-selected', 'true');
    await expect(box).toHaveAttribute('aria-activedescendant', (await option.getAttribute('id'))!);
    await box.press('Enter');
    await expect(list).toHaveCount(0);
    await expect(box).toHaveValue(`ping @${bo.username} `);
    await box.press('Enter');
    const sent = timeline(ana.page, name).getByRole('article').filter({ hasText: 'ping' });
    await expect(sent.locator('mark.mention')).toHaveText(`@${bo.username}`);

    // Bo: a mention badge apart from the unread one, on the room (and on the phone's menu button), and a notification.
    if (vp.name === 'phone') {
      const menu = bo.page.getByRole('button', { name: 'Open rooms (1 mentions)' });
      await expect(menu).toBeVisible();
      await menu.click();
    }
    const link = bo.page
      .getByRole('navigation', { name: 'Rooms' })
      .getByRole('link', { name: new RegExp(name) });
    await expect(link).toContainText('@1');
    await expect(link).toHaveAccessibleName(/1 mention/);
    await expect.poll(() => notifications(bo.page)).toEqual([`ping @${bo.username}`]);
    await expectNoSeriousViolations(bo.page, `badge ${vp.name}`);

    // Bo opens the room: the mention is highlighted as theirs, the badge goes, and the level menu is there.
    await link.click();
    const mine = timeline(bo.page, name).getByRole('article').filter({ hasText: 'ping' });
    await expect(mine.locator('mark.mention-me')).toHaveText(`@${bo.username}`);
    await expect(mine).toContainText('(mentions you)');
    const bell = bo.page.getByRole('button', { name: 'Notifications: All messages' });
    await bell.click();
    const levels = bo.page.getByRole('menu', { name: 'Notify me about' });
    await expect(levels.getByRole('menuitemradio', { name: /All messages/ })).toHaveAttribute(
      'aria-checked',
      'true',
    );
    await expectNoSeriousViolations(bo.page, `level menu ${vp.name}`);
    await levels.getByRole('menuitemradio', { name: /Mentions only/ }).click();
    await expect(bo.page.getByRole('button', { name: 'Notifications: Mentions only' })).toBeVisible();

    // Stored on the server. Bo looks elsewhere again, in the app (the socket stays connected).
    await expect.poll(async () => (await roomOf(bo, room.id)).notifications).toBe('mentions');
    await openInApp(bo.page, /^general/, vp.name === 'phone');

    // Mentions only: a plain message does not notify, a mention does.
    await say(ana, room.id, 'plain news');
    await say(ana, room.id, `@${bo.username} look`);
    await expect.poll(() => notifications(bo.page)).toEqual([`ping @${bo.username}`, `@${bo.username} look`]);

    // None: nothing at all, not even a mention; own messages never notify.
    await openInApp(bo.page, new RegExp(name), vp.name === 'phone');
    await bo.page.getByRole('button', { name: 'Notifications: Mentions only' }).click();
    await bo.page.getByRole('menuitemradio', { name: /Nothing/ }).click();
    await expect(bo.page.getByRole('button', { name: 'Notifications: Nothing' })).toBeVisible();
    await expect.poll(async () => (await roomOf(bo, room.id)).mentionCount).toBe(0);
    await openInApp(bo.page, /^general/, vp.name === 'phone');
    await say(ana, room.id, `@${bo.username} still there?`);
    await say(bo, room.id, 'my own words');
    // The mention badge proves the message arrived; no notification came with it.
    if (vp.name === 'phone') await bo.page.getByRole('button', { name: /^Open rooms/ }).click();
    await expect(link).toContainText('@1');
    expect(await notifications(bo.page)).toEqual([`ping @${bo.username}`, `@${bo.username} look`]);

    await ana.context.close();
    await bo.context.close();
  });
}
