import { expect, test, type Page } from '@playwright/test';
import { messages, timeline } from './support/app';
import { expectNoSeriousViolations, VIEWPORTS } from './support/axe';
import { apiUser, createRoomApi, joinRoomApi, say, type ApiUser } from './support/seed';

/*
 * Message search (issue 14): the Search button (or Ctrl/Cmd+K) opens the dialog, results come grouped by room with
 * their hits marked, and choosing one opens the room at that message, highlighted, with history loading both ways
 * from there. At the three sizes of responsive.spec.ts. The target sits far enough back that it is not in the
 * room's latest page, so the jump goes through `?around=`.
 */

const FILLERS = 130;
const TARGET_AT = 40;

/** Scrolls the timeline to one end until `text` is in it (each scroll may load one more page). */
async function scrollUntil(page: Page, roomName: string, end: 'top' | 'bottom', text: string) {
  const log = timeline(page, roomName);
  await expect(async () => {
    await log.evaluate((el, to) => {
      el.scrollTop = to === 'top' ? 0 : el.scrollHeight;
    }, end);
    await expect(messages(page, roomName, text)).toHaveCount(1, { timeout: 1000 });
  }).toPass({ timeout: 20_000 });
}

test.describe('message search', () => {
  test.describe.configure({ mode: 'default' });
  let ana: ApiUser;
  let roomName: string;

  test.beforeAll(async ({ browser }) => {
    test.slow();
    ana = await apiUser(browser, 'ana', 'Ana Search');
    const bo = await apiUser(browser, 'bo', 'Bo Search');
    roomName = `search-${Date.now().toString(36).slice(-5)}`;
    const room = await createRoomApi(ana, roomName, 'Where search results live');
    await joinRoomApi(bo, room.id);
    for (let i = 0; i < FILLERS; i++) {
      if (i === TARGET_AT) await say(bo, room.id, 'Meet at the Café Lumière at <b>noon</b>');
      await say(i % 2 ? ana : bo, room.id, `filler ${i}`);
    }
    await bo.context.close();
  });

  test.afterAll(async () => {
    await ana?.context.close();
  });

  for (const vp of VIEWPORTS) {
    test(`search to the message in context at ${vp.width}×${vp.height}`, async () => {
      const page = ana.page;
      await page.setViewportSize({ width: vp.width, height: vp.height });
      await page.goto('/');
      await expect(page.getByRole('log')).toBeVisible();

      if (vp.name === 'desktop') await page.keyboard.press('ControlOrMeta+k');
      else await page.getByRole('button', { name: 'Search', exact: true }).click();
      const dialog = page.getByRole('dialog', { name: 'Search messages' });
      await expect(dialog).toBeVisible();
      // Case and accents aside, the last word a prefix.
      await dialog.getByRole('searchbox', { name: 'Search messages' }).fill('CAFE lumi');
      const group = dialog.getByRole('region', { name: `#${roomName}` });
      const hit = group.getByRole('button', { name: /Café Lumière/ });
      await expect(hit).toBeVisible();
      await expect(hit.locator('mark')).toHaveText(['Café', 'Lumière']);
      // The text is text: the markup in the message is shown as typed.
      await expect(hit).toContainText('<b>noon</b>');

      // The dialog with its results, at every size.
      await expectNoSeriousViolations(page, `search results ${vp.name}`);

      await hit.click();
      await expect(dialog).toBeHidden();
      const log = timeline(page, roomName);
      const target = log.locator('article[aria-current="true"]');
      await expect(target).toContainText('Café Lumière');
      await expect(target).toBeInViewport();
      // Not the latest page: the newest filler is not loaded yet, and comes by scrolling down; the oldest by up.
      await expect(messages(page, roomName, `filler ${FILLERS - 1}`)).toHaveCount(0);
      await scrollUntil(page, roomName, 'bottom', `filler ${FILLERS - 1}`);
      await scrollUntil(page, roomName, 'top', 'filler 0');
    });
  }
});
