import { expect, test } from '@playwright/test';
import { messages, shortTag, timeline } from './support/app';
import { expectNoSeriousViolations } from './support/axe';
import { apiUser, createRoomApi, say } from './support/seed';
import { startOwnServer } from './support/server';

/*
 * Issue 14, web client: the header's member count after an add, the reconnect bar, message actions by keyboard,
 * the app's own confirmation dialogs, and the sign-in form's "Create account" control.
 */

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'tablet', width: 820, height: 1180 },
  { name: 'phone', width: 390, height: 844 },
] as const;

test('the sign-in form names its way to registration "Create account"', async ({ page }) => {
  await page.goto('/login');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/register$/);
  // The register form's own submit carries the same name; the way back is "Sign in".
  await expect(page.getByRole('button', { name: 'Create account' })).toHaveAttribute('type', 'submit');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expectNoSeriousViolations(page, 'sign in');
});

/*
 * The header's member count after an add. An owner's add reaches the client twice, as the REST answer and as the
 * `room:member-joined` broadcast, in either order; counting both put the header one too high (the panel was right).
 * The header's Members button shows below 1100 px (above it the panel itself is shown), so: tablet and phone. Each
 * size runs the add twice: as the two arrive, and with the answer held back until the broadcast has been shown.
 */
for (const vp of VIEWPORTS.filter((v) => v.name !== 'desktop')) {
  for (const order of ['as they come', 'broadcast first'] as const) {
    test(`adding someone moves the header count by one at ${vp.width}×${vp.height}, ${order}`, async ({
      browser,
    }) => {
      const viewport = { width: vp.width, height: vp.height };
      const tag = shortTag();
      const ana = await apiUser(browser, 'ana', `Ana Count ${tag}`, { viewport });
      const bo = await apiUser(browser, 'bo', `Bo Count ${tag}`, { viewport });
      const name = `count-${Date.now().toString(36).slice(-5)}`;
      const room = await createRoomApi(ana, name, '', 'private');
      const page = ana.page;
      const joined = messages(page, name, bo.displayName);
      if (order === 'broadcast first') {
        await page.route(`**/api/chatrooms/${room.id}/members`, async (route) => {
          if (route.request().method() !== 'POST') return route.fallback();
          const response = await route.fetch();
          // The join's system message comes with the broadcast: only then does the answer go on.
          await expect(joined).toHaveCount(1);
          await route.fulfill({ response });
        });
      }
      await page.goto(`/rooms/${room.id}`);
      await expect(timeline(page, name)).toBeVisible();
      const toggle = page.locator('.members-toggle');
      await expect(page.getByRole('button', { name: 'Members (1)' })).toBeVisible();
      await expect(toggle.locator('.count')).toHaveText('1');

      await toggle.click();
      const list = page.getByRole('list', { name: 'Members' });
      await expect(list.getByRole('listitem')).toHaveCount(1);
      await page.getByRole('button', { name: 'Add people' }).click();
      const dialog = page.getByRole('dialog', { name: `Add people to #${name}` });
      await dialog.getByLabel('Find people').fill(bo.username);
      await dialog.getByRole('button', { name: `Add ${bo.displayName}` }).click();
      await expect(dialog.getByText(`${bo.displayName} was added.`)).toBeVisible();
      await dialog.getByRole('button', { name: 'Close' }).click();
      await expect(dialog).toBeHidden();
      // Both arrivals are in: the answer (the dialog said so) and the broadcast (its system message shows).
      await expect(joined).toHaveCount(1);
      await expect(list.getByRole('listitem')).toHaveCount(2);
      await page.keyboard.press('Escape');
      await expect(list).toBeHidden();
      await expect(page.getByRole('button', { name: 'Members (2)' })).toBeVisible();
      await expect(toggle.locator('.count')).toHaveText('2');
      await expect(page.locator('#members-heading')).toContainText('of 2 here');

      // The server agrees.
      await page.reload();
      await expect(timeline(page, name)).toBeVisible();
      await expect(page.getByRole('button', { name: 'Members (2)' })).toBeVisible();
      await ana.context.close();
      await bo.context.close();
    });
  }
}

test('Edit and Delete are reached by keyboard; deleting and leaving a private room ask in a dialog', async ({
  browser,
}) => {
  const ana = await apiUser(browser, 'ana', `Ana Keys ${shortTag()}`);
  const name = `keys-${Date.now().toString(36).slice(-5)}`;
  const room = await createRoomApi(ana, name, '', 'private');
  await say(ana, room.id, 'Typed with keys only');
  const page = ana.page;
  await page.goto(`/rooms/${room.id}`);
  const message = messages(page, name, 'Typed with keys only');
  await expect(message).toHaveCount(1);
  const edit = message.getByRole('button', { name: 'Edit' });
  const del = message.getByRole('button', { name: 'Delete' });

  // Tab from the timeline until Edit has focus: it must be in the tab order, and visible once focused.
  await timeline(page, name).focus();
  for (let i = 0; i < 10 && !(await edit.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press('Tab');
  }
  await expect(edit).toBeFocused();
  await expect(edit).toBeVisible();
  await expect(message.locator('.message-actions')).toHaveCSS('opacity', '1');
  await page.keyboard.press('Tab');
  await expect(del).toBeFocused();

  // Delete asks in the app's dialog: focus starts on Cancel, Escape cancels, focus goes back to Delete.
  await page.keyboard.press('Enter');
  const ask = page.getByRole('alertdialog', { name: 'Delete this message?' });
  await expect(ask).toBeVisible();
  await expect(ask.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await expectNoSeriousViolations(page, 'delete dialog');
  await page.keyboard.press('Escape');
  await expect(ask).toBeHidden();
  await expect(del).toBeFocused();
  await expect(message).toContainText('Typed with keys only');
  await page.keyboard.press('Enter');
  await ask.getByRole('button', { name: 'Delete message' }).click();
  await expect(message).toHaveCount(0);
  await expect(timeline(page, name).getByText('This message was deleted.')).toBeVisible();

  // Leaving a private room asks too; Cancel keeps the room.
  await page.getByRole('button', { name: 'Leave', exact: true }).click();
  const leave = page.getByRole('alertdialog', { name: `Leave #${name}?` });
  await expect(leave).toBeVisible();
  await leave.getByRole('button', { name: 'Cancel' }).click();
  await expect(timeline(page, name)).toBeVisible();
  await page.getByRole('button', { name: 'Leave', exact: true }).click();
  await leave.getByRole('button', { name: 'Leave room' }).click();
  await expect(page.getByText(`You left #${name}.`)).toBeVisible();
  await ana.context.close();
});

test.describe('the reconnect bar', () => {
  test('is one slim line that pushes the room down, at every size', async ({ browser }) => {
    const server = await startOwnServer();
    try {
      const ana = await apiUser(browser, 'ana', 'Ana Banner', { baseURL: server.url });
      await ana.page.goto('/');
      await expect(timeline(ana.page, 'general')).toBeVisible();
      await server.kill();
      const bar = ana.page.getByRole('status').filter({ hasText: 'Reconnecting…' });
      await expect(bar).toBeVisible();
      for (const vp of VIEWPORTS) {
        await ana.page.setViewportSize({ width: vp.width, height: vp.height });
        const title = ana.page.locator('#room-title');
        await expect(title).toBeVisible();
        const b = (await bar.boundingBox())!;
        const t = (await title.boundingBox())!;
        expect(b.height, `${vp.name}: one line`).toBeLessThanOrEqual(40);
        expect(b.y + b.height, `${vp.name}: above the title, not over it`).toBeLessThanOrEqual(t.y + 0.5);
        await ana.page.screenshot({ path: `test-results/reconnect-bar-${vp.name}.png` });
      }
      await expectNoSeriousViolations(ana.page, 'reconnect bar');
      await ana.context.close();
    } finally {
      await server.dispose();
    }
  });
});
