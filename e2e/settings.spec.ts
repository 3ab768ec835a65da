import { expect, test } from '@playwright/test';
import { PASSWORD, sendText, shortTag, timeline } from './support/app';
import { expectNoSeriousViolations, showSidebar, VIEWPORTS } from './support/axe';
import { makePng } from './support/png';
import { apiUser } from './support/seed';

/*
 * Settings (issue 14): your name opens them; display name, avatar (cropped to a square in the browser), theme,
 * email, password and "sign out everywhere". Another user sees a name or avatar change live (`user:updated`).
 */

for (const vp of VIEWPORTS) {
  test(`settings at ${vp.width}×${vp.height}: name, avatar and theme; another user sees them`, async ({
    browser,
  }) => {
    test.slow();
    const viewport = { width: vp.width, height: vp.height };
    const tag = shortTag();
    const ana = await apiUser(browser, 'ana', `Ana Settings ${vp.name} ${tag}`, { viewport });
    const bo = await apiUser(browser, 'bo', `Bo ${vp.name} ${tag}`, { viewport });
    // Bo watches general in his own browser.
    await bo.page.goto('/');
    await expect(timeline(bo.page, 'general')).toBeVisible();

    const page = ana.page;
    await page.goto('/');
    await expect(timeline(page, 'general')).toBeVisible();
    const before = `before the rename ${vp.name} ${Date.now()}`;
    await sendText(page, before);
    const earlier = timeline(bo.page, 'general').getByRole('article').filter({ hasText: before });
    await expect(earlier).toContainText('Ana Settings');
    await showSidebar(page);
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Settings', exact: true });
    await expect(dialog).toBeVisible();
    await expectNoSeriousViolations(page, `settings ${vp.name}`);

    // A look-alike of Bo's name is refused next to the field.
    const name = dialog.getByLabel('Display name');
    await name.fill(bo.displayName);
    await dialog.getByRole('button', { name: 'Save name' }).click();
    await expect(dialog.getByText('too much like someone else')).toBeVisible();
    await expect(name).toHaveAttribute('aria-invalid', 'true');
    await expectNoSeriousViolations(page, `settings with an error ${vp.name}`);

    const newName = `Ana ${vp.name} Renamed ${tag}`;
    await name.fill(newName);
    await dialog.getByRole('button', { name: 'Save name' }).click();
    await expect(dialog.getByText('Display name saved.')).toBeVisible();
    // Live: Bo's screen renames Ana's earlier message without a reload (user:updated).
    await expect(earlier).toContainText(newName);

    // A wide image becomes a square avatar.
    await dialog.getByLabel('Upload avatar').setInputFiles({
      name: 'wide.png',
      mimeType: 'image/png',
      buffer: makePng(400, 200),
    });
    await expect(dialog.getByText('Avatar saved.')).toBeVisible();
    const me = await (
      await page.request.get('/api/users/me', { headers: { Authorization: `Bearer ${ana.token}` } })
    ).json();
    expect(me.displayName).toBe(newName);
    const size = await page.evaluate(async (url: string) => {
      const img = new Image();
      img.src = url;
      await img.decode();
      return [img.naturalWidth, img.naturalHeight];
    }, me.avatarUrl as string);
    expect(size).toEqual([200, 200]);

    // Theme: dark is applied at once and survives a reload.
    await dialog.getByRole('radio', { name: 'Dark' }).check();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
    await expectNoSeriousViolations(page, `settings dark ${vp.name}`);
    await page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();

    // The picture too, live, on the earlier message; and on the next one.
    await expect(earlier.locator('img.avatar')).toBeVisible();
    const after = `after the rename ${vp.name} ${Date.now()}`;
    await sendText(page, after);
    const article = timeline(bo.page, 'general').getByRole('article').filter({ hasText: after });
    await expect(article).toContainText(newName);

    await page.reload();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
    await showSidebar(page);
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    await dialog.getByRole('button', { name: 'Remove avatar' }).click();
    await expect(dialog.getByText('Avatar removed.')).toBeVisible();
    await dialog.getByRole('radio', { name: 'System' }).check();
    await expect(page.locator('html')).not.toHaveAttribute('data-theme', /./);
    await ana.context.close();
    await bo.context.close();
  });
}

test('a guest has no email setting; a taken email is refused next to the field', async ({ browser }) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const res = await page.request.post('/api/auth/guest', { data: { username: `gst${Date.now() % 1e7}` } });
  expect(res.status()).toBe(201);
  await page.goto('/');
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings', exact: true });
  await expect(dialog.getByLabel('Display name')).toBeVisible();
  await expect(dialog.getByRole('textbox', { name: 'Email', exact: true })).toHaveCount(0);
  await expect(dialog.getByLabel('Current password')).toHaveCount(0);
  await ctx.close();

  const ana = await apiUser(browser, 'ana', `Ana Email ${shortTag()}`);
  const bo = await apiUser(browser, 'bo', `Bo Email ${shortTag()}`);
  await ana.page.goto('/');
  await ana.page.getByRole('button', { name: 'Settings', exact: true }).click();
  const d2 = ana.page.getByRole('dialog', { name: 'Settings', exact: true });
  await d2.getByRole('textbox', { name: 'Email', exact: true }).fill(`${bo.username}@example.com`);
  await d2.getByRole('button', { name: 'Save email' }).click();
  await expect(d2.getByText('That email address is already registered.')).toBeVisible();
  await ana.context.close();
  await bo.context.close();
});

test('changing the password signs out the other devices; sign out everywhere ends them all', async ({
  browser,
}) => {
  test.slow();
  const ana = await apiUser(browser, 'ana', `Ana Password ${shortTag()}`);
  // A second device of Ana's.
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  const login = await otherPage.request.post('/api/auth/login', {
    data: { username: ana.username, password: PASSWORD },
  });
  expect(login.status()).toBe(200);
  await otherPage.goto('/');
  await expect(timeline(otherPage, 'general')).toBeVisible();

  const page = ana.page;
  await page.goto('/');
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings', exact: true });
  await dialog.getByLabel('Current password').fill('wrong-password-1');
  await dialog.getByLabel('New password').fill('brand-new-pass-1');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await expect(dialog.getByText('The current password is wrong.')).toBeVisible();
  await dialog.getByLabel('Current password').fill(PASSWORD);
  await dialog.getByLabel('New password').fill('brand-new-pass-1');
  await dialog.getByRole('button', { name: 'Change password' }).click();
  await expect(dialog.getByText('You were signed out on your other devices.')).toBeVisible();
  await expect(otherPage.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(otherPage.getByText('Your password was changed')).toBeVisible();

  // Sign in on the second device again, then end everything from the first.
  const again = await otherPage.request.post('/api/auth/login', {
    data: { username: ana.username, password: 'brand-new-pass-1' },
  });
  expect(again.status()).toBe(200);
  await otherPage.goto('/');
  await expect(timeline(otherPage, 'general')).toBeVisible();
  await dialog.getByRole('button', { name: 'Sign out everywhere' }).click();
  await dialog.getByRole('button', { name: 'Yes, sign out everywhere' }).click();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(otherPage.getByRole('button', { name: 'Sign in' })).toBeVisible();
  // A reload does not sign back in: the refresh cookie's session is over too.
  await page.reload();
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await ana.context.close();
  await other.close();
});
