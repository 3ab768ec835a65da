import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { timeline } from './support/app';
import { apiUser, createRoomApi, joinRoomApi, say, uploadPng } from './support/seed';

/** Runs axe (WCAG 2.x A/AA and best practices) and fails on any serious or critical violation. */
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

test('sign-in and registration pages, errors included, pass axe', async ({ page }) => {
  await page.goto('/login');
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expectNoSeriousViolations(page, 'sign in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('Enter your password.')).toBeVisible();
  await expectNoSeriousViolations(page, 'sign in with errors');

  await page.goto('/register');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByText('Enter your email address.')).toBeVisible();
  await expectNoSeriousViolations(page, 'register with errors');
});

test('the chat, its dialogs and its phone drawers pass axe', async ({ browser }) => {
  // Seven axe runs over a full chat: ~30 s alone, over a minute beside the other specs on two shared cores.
  test.slow();
  const ana = await apiUser(browser, 'ana', 'Ana Axe');
  const bo = await apiUser(browser, 'bo', 'Bo Axe');
  const name = `a11y-${Date.now().toString(36).slice(-5)}`;
  const room = await createRoomApi(ana, name, 'Checking accessibility');
  await joinRoomApi(bo, room.id);
  await say(bo, room.id, 'Hello! Here is a link: https://example.com/docs');
  await say(ana, room.id, 'And an image:', await uploadPng(ana));
  await say(bo, room.id, 'Thanks');
  await bo.page.goto('/');

  const page = ana.page;
  await page.goto(`/rooms/${room.id}`);
  await expect(timeline(page, name).getByRole('article').last()).toContainText('Thanks');
  await expectNoSeriousViolations(page, 'chat');

  await page.getByRole('button', { name: 'New room' }).click();
  await expect(page.getByRole('dialog', { name: 'New room' })).toBeVisible();
  await expectNoSeriousViolations(page, 'new room dialog');
  await page.keyboard.press('Escape');

  await page.getByRole('button', { name: 'Room settings' }).click();
  await expect(page.getByRole('dialog', { name: 'Room settings' })).toBeVisible();
  await expectNoSeriousViolations(page, 'room settings dialog');
  await page.keyboard.press('Escape');

  await page.getByRole('img', { name: /Image from Ana Axe/ }).click();
  await expect(page.getByRole('dialog', { name: 'Image' })).toBeVisible();
  await expectNoSeriousViolations(page, 'image viewer');
  await page.keyboard.press('Escape');

  await page.setViewportSize({ width: 390, height: 844 });
  await expectNoSeriousViolations(page, 'phone');
  await page.getByRole('button', { name: 'Open rooms' }).click();
  await expect(page.getByRole('list', { name: 'Online' })).toBeVisible();
  await expectNoSeriousViolations(page, 'phone rooms drawer');
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: /^Members/ }).click();
  await expect(page.getByRole('list', { name: 'Members' })).toBeVisible();
  await expectNoSeriousViolations(page, 'phone members drawer');
  await ana.context.close();
  await bo.context.close();
});

test('keyboard: the composer is reachable and Enter sends, focus is visible', async ({ browser }) => {
  const ana = await apiUser(browser, 'kbd', 'Kay Board');
  const page = ana.page;
  await page.goto('/');
  await expect(timeline(page, 'general')).toBeVisible();
  // The skip link is the first stop and jumps to the message box.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to message box' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('textbox', { name: 'Message', exact: true })).toBeFocused();
  await page.keyboard.type('Typed without a mouse');
  await page.keyboard.press('Enter');
  await expect(
    timeline(page, 'general').getByRole('article').filter({ hasText: 'Typed without a mouse' }),
  ).toHaveCount(1);
  // Shift+Tab goes back to the "Emoji" button, then to "Attach image", each showing a focus ring.
  await page.keyboard.press('Shift+Tab');
  await expect(page.getByRole('button', { name: 'Emoji', exact: true })).toBeFocused();
  expect(
    await page
      .getByRole('button', { name: 'Emoji', exact: true })
      .evaluate((el) => getComputedStyle(el).outlineStyle),
  ).not.toBe('none');
  await page.keyboard.press('Shift+Tab');
  await expect(page.getByRole('button', { name: 'Attach image' })).toBeFocused();
  const outline = await page
    .getByRole('button', { name: 'Attach image' })
    .evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).not.toBe('none');
  await ana.context.close();
});
