import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { timeline } from './support/app';
import { apiUser, createRoomApi, joinRoomApi, say, uploadPng, type ApiUser } from './support/seed';
import { startOwnServer, type OwnServer } from './support/server';

const shots = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/screenshots');
mkdirSync(shots, { recursive: true });

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'tablet', width: 820, height: 1180 },
  { name: 'phone', width: 390, height: 844 },
] as const;

/** Nothing sticks out sideways: the page does not scroll horizontally and no visible box crosses the edge. */
async function expectNoHorizontalOverflow(page: Page): Promise<void> {
  const result = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const offenders: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>('body *')) {
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none' || el.closest('.sr-only')) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0) continue;
      if (r.right > width + 1 || r.left < -1) {
        offenders.push(
          `${el.tagName.toLowerCase()}.${el.className} [${Math.round(r.left)}, ${Math.round(r.right)}]`,
        );
      }
    }
    return { scrollWidth: document.documentElement.scrollWidth, width, offenders: offenders.slice(0, 10) };
  });
  expect(result.offenders, 'elements crossing the viewport edge').toEqual([]);
  expect(result.scrollWidth).toBeLessThanOrEqual(result.width);
}

test.describe('layouts', () => {
  // One set of seeded users and messages for all of these: run them in order, in one worker. On a server of their
  // own, so that the screenshots show these rooms and names only, not what the other specs leave on the shared one.
  test.describe.configure({ mode: 'default' });
  let server: OwnServer;
  let ana: ApiUser;
  let bo: ApiUser;
  const roomName = 'design-review';

  test.beforeAll(async ({ browser }) => {
    // A server to start, three users and two rooms to seed, beside the other specs on two cores.
    test.slow();
    server = await startOwnServer();
    const own = { baseURL: server.url };
    ana = await apiUser(browser, 'ana', 'Ana Lima', { ...own, username: 'ana' });
    bo = await apiUser(browser, 'bo', 'Bo Chen', { ...own, username: 'bochen' });
    const cy = await apiUser(browser, 'cy', 'Cy Okafor', { ...own, username: 'cyokafor' });
    const room = await createRoomApi(
      ana,
      roomName,
      'Weekly design critique: mocks, contrast checks and decisions',
    );
    await joinRoomApi(bo, room.id);
    await joinRoomApi(cy, room.id);
    await say(bo, room.id, 'Morning! I pushed the new onboarding mocks.');
    await say(
      bo,
      room.id,
      'They are here: https://example.com/mocks/onboarding-v3 (step 2 changed the most)',
    );
    await say(
      ana,
      room.id,
      'Nice, the spacing on step 2 feels much calmer. @cyokafor can we check the button contrast too?',
    );
    await say(cy, room.id, 'Contrast check for the primary buttons:', await uploadPng(cy));
    await say(cy, room.id, 'All of them pass AA now, the disabled state included.');
    await say(
      bo,
      room.id,
      'A_very_long_word_without_any_spaces_that_must_wrap_instead_of_pushing_the_layout_sideways_on_small_phones',
    );
    await say(bo, room.id, '@ana the copy on step 3 is yours to review when you have a minute.');
    await say(ana, room.id, 'Great work, both of you. Let us ship it on Thursday.');
    // Another room where Ana is mentioned while away: its mention badge shows in the sidebar.
    const launch = await createRoomApi(cy, 'launch-plan', 'Dates, owners and the release checklist');
    await joinRoomApi(ana, launch.id);
    await say(cy, launch.id, '@ana the release notes are drafted, have a look when you can?');
    await cy.context.close();
    // Bo keeps the app open: online, as the members panel shows.
    await bo.page.goto('/');
    await expect(timeline(bo.page, 'general')).toBeVisible();
  });

  test.afterAll(async () => {
    await ana?.context.close();
    await bo?.context.close();
    await server?.dispose();
  });

  for (const vp of VIEWPORTS) {
    test(`screenshots at ${vp.width}×${vp.height}`, async ({ browser }) => {
      const page = ana.page;
      await page.setViewportSize({ width: vp.width, height: vp.height });
      await page.goto('/');
      const nav = page.getByRole('navigation', { name: 'Rooms' });
      if (vp.name === 'phone') await page.getByRole('button', { name: 'Open rooms' }).click();
      await nav.getByRole('link', { name: roomName }).click();
      await expect(timeline(page, roomName).getByRole('article').last()).toContainText('ship it');
      await expect(page.getByRole('img', { name: /Image from Cy Okafor/ })).toBeVisible();
      // What the screenshots are for: the mention of Ana marked as hers, the badge of the room that mentions her
      // (on the phone, on its menu button), and the Search control in the header.
      await expect(timeline(page, roomName).locator('mark.mention-me')).toHaveText('@ana');
      await expect(page.getByRole('button', { name: 'Search', exact: true })).toBeVisible();
      if (vp.name === 'phone') {
        await expect(page.getByRole('button', { name: 'Open rooms (1 mentions)' })).toBeVisible();
      } else {
        await expect(nav.getByRole('link', { name: /launch-plan/ })).toContainText('@1');
      }
      await page.waitForFunction(() =>
        [...document.images].every((img) => img.complete && img.naturalWidth > 0),
      );
      await page.mouse.move(0, vp.height - 1);
      await page.screenshot({ path: path.join(shots, `chat-${vp.name}.png`) });
      if (vp.name === 'desktop') {
        await page.emulateMedia({ colorScheme: 'dark' });
        await page.screenshot({ path: path.join(shots, 'chat-desktop-dark.png') });
        await page.emulateMedia({ colorScheme: 'light' });
        // Search, with its hits marked.
        await page.getByRole('button', { name: 'Search', exact: true }).click();
        const search = page.getByRole('dialog', { name: 'Search messages' });
        await search.getByRole('searchbox', { name: 'Search messages' }).fill('contrast');
        await expect(search.getByRole('region', { name: `#${roomName}` }).locator('mark')).toHaveCount(2);
        await page.screenshot({ path: path.join(shots, 'search-desktop.png') });
        // (Escape in the search field empties it first.)
        await search.getByRole('button', { name: 'Close' }).click();
        await expect(search).toBeHidden();
      }
      if (vp.name !== 'desktop') {
        await page.getByRole('button', { name: /^Members/ }).click();
        await expect(page.getByRole('list', { name: 'Members' })).toBeVisible();
        await page.screenshot({ path: path.join(shots, `members-${vp.name}.png`) });
        await page.keyboard.press('Escape');
      }
      if (vp.name === 'phone') {
        await page.getByRole('button', { name: 'Open rooms' }).click();
        await expect(page.getByRole('list', { name: 'Online' })).toBeVisible();
        await page.screenshot({ path: path.join(shots, `rooms-${vp.name}.png`) });
        await page.keyboard.press('Escape');
      }
      // The sign-in page, in a fresh context (signed out).
      const guestCtx = await browser.newContext({
        baseURL: server.url,
        viewport: { width: vp.width, height: vp.height },
      });
      const login = await guestCtx.newPage();
      await login.goto('/login');
      await expect(login.getByRole('button', { name: 'Sign in' })).toBeVisible();
      await login.screenshot({ path: path.join(shots, `sign-in-${vp.name}.png`) });
      await guestCtx.close();
    });
  }

  test('nothing overflows horizontally at 360 px', async ({ browser }) => {
    const page = ana.page;
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto('/');
    await page.getByRole('button', { name: 'Open rooms' }).click();
    await page.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name: roomName }).click();
    await expect(timeline(page, roomName).getByRole('article').last()).toContainText('ship it');
    await expectNoHorizontalOverflow(page);

    await page.getByRole('button', { name: 'Open rooms' }).click();
    await expect(page.getByRole('list', { name: 'Online' })).toBeVisible();
    await expectNoHorizontalOverflow(page);
    await page.getByRole('button', { name: 'New room' }).click();
    await expect(page.getByRole('dialog', { name: 'New room' })).toBeVisible();
    await expectNoHorizontalOverflow(page);
    await page.keyboard.press('Escape');
    await page.keyboard.press('Escape');

    await page.getByRole('button', { name: /^Members/ }).click();
    await expect(page.getByRole('list', { name: 'Members' })).toBeVisible();
    await expectNoHorizontalOverflow(page);
    await page.keyboard.press('Escape');

    const ctx = await browser.newContext({ baseURL: server.url, viewport: { width: 360, height: 740 } });
    const signedOut = await ctx.newPage();
    for (const url of ['/login', '/register']) {
      await signedOut.goto(url);
      await expect(signedOut.getByRole('heading', { level: 1 })).toBeVisible();
      await expectNoHorizontalOverflow(signedOut);
    }
    await ctx.close();
  });
});
