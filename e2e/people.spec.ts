import { expect, test } from '@playwright/test';
import { sendText, timeline } from './support/app';
import { expectNoSeriousViolations, showSidebar, VIEWPORTS } from './support/axe';
import { apiUser, createRoomApi } from './support/seed';

/*
 * People (issue 14): "New message" opens the directory (online first, search by name, paged) to start a DM;
 * yourself gives "Notes to self"; a room address you cannot open says so instead of showing another room.
 */

for (const vp of VIEWPORTS) {
  test(`people at ${vp.width}×${vp.height}: a DM from the directory, notes to self`, async ({ browser }) => {
    test.slow();
    const viewport = { width: vp.width, height: vp.height };
    const ana = await apiUser(browser, 'ana', `Ana People ${vp.name}`, { viewport });
    const bo = await apiUser(browser, 'bo', `Bo People ${vp.name}`, { viewport });
    await bo.page.goto('/');
    await expect(timeline(bo.page, 'general')).toBeVisible();

    const page = ana.page;
    await page.goto('/');
    await expect(timeline(page, 'general')).toBeVisible();
    await showSidebar(page);
    await page.getByRole('button', { name: 'New message', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'New message', exact: true });
    await expect(dialog).toBeVisible();
    // With no query: who is online now, Bo among them (he has the app open).
    await expect(dialog.getByRole('heading', { name: 'Online now' })).toBeVisible();
    await dialog.getByLabel('Find people').fill(bo.username);
    const message = dialog.getByRole('button', { name: `Message ${bo.displayName}` });
    await expect(message).toBeVisible();
    await expect(dialog.getByText(`@${bo.username} · online`)).toBeVisible();
    await expectNoSeriousViolations(page, `directory ${vp.name}`);
    await message.click();
    await expect(dialog).toBeHidden();
    await expect(timeline(page, bo.displayName)).toBeVisible();
    await sendText(page, 'hi Bo, from the directory');
    await expect(timeline(page, bo.displayName).getByRole('article').last()).toContainText(
      'from the directory',
    );

    // Bo gets the conversation in his list, and the message in it.
    await showSidebar(bo.page);
    await bo.page
      .getByRole('navigation', { name: 'Rooms' })
      .getByRole('link', { name: /Ana People/ })
      .click();
    await expect(timeline(bo.page, ana.displayName).getByRole('article').last()).toContainText(
      'from the directory',
    );

    // Notes to self.
    await showSidebar(page);
    await page.getByRole('button', { name: 'New message', exact: true }).click();
    await dialog.getByLabel('Find people').fill(ana.username);
    await dialog.getByRole('button', { name: 'Notes to self' }).click();
    await expect(timeline(page, 'Notes to self')).toBeVisible();
    await sendText(page, 'remember the milk');
    await expect(timeline(page, 'Notes to self').getByRole('article').last()).toContainText(
      'remember the milk',
    );
    await expectNoSeriousViolations(page, `notes to self ${vp.name}`);
    await showSidebar(page);
    await expect(
      page.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name: /Notes to self/ }),
    ).toBeVisible();
    await ana.context.close();
    await bo.context.close();
  });

  test(`an unreachable room address at ${vp.width}×${vp.height} says so`, async ({ browser }) => {
    const viewport = { width: vp.width, height: vp.height };
    const ana = await apiUser(browser, 'ana', `Ana Private ${vp.name}`, { viewport });
    const bo = await apiUser(browser, 'bo', `Bo Outsider ${vp.name}`, { viewport });
    const secret = await createRoomApi(ana, `secret-${Date.now().toString(36).slice(-5)}`, '', 'private');
    for (const path of [`/rooms/${secret.id}`, '/rooms/999999999']) {
      await bo.page.goto(path);
      await expect(bo.page.getByRole('heading', { name: 'This room can’t be opened' })).toBeVisible();
      // The address stays, and no other room is shown as if the link had worked.
      expect(new URL(bo.page.url()).pathname).toBe(path);
      await expect(bo.page.getByRole('log')).toHaveCount(0);
    }
    await expectNoSeriousViolations(bo.page, `unreachable room ${vp.name}`);
    await bo.page.getByRole('button', { name: 'Go to your rooms' }).click();
    await expect(timeline(bo.page, 'general')).toBeVisible();
    await ana.context.close();
    await bo.context.close();
  });
}
