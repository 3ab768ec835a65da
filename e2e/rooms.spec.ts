import { expect, test } from '@playwright/test';
import { createRoom, messages, sendText, timeline, uniq } from './support/app';
import { apiUser } from './support/seed';

test('an owner runs a private room: adds, renames, describes, kicks and deletes', async ({ browser }) => {
  const owner = await apiUser(browser, 'own', 'Olive Owner');
  const guest = await apiUser(browser, 'mem', 'Milo Member');
  for (const u of [owner, guest]) {
    await u.page.goto('/');
    await expect(timeline(u.page, 'general')).toBeVisible();
  }
  const name = uniq('secret-');
  await createRoom(owner.page, name, 'Private');
  // Invisible to others until they are added.
  const guestNav = guest.page.getByRole('navigation', { name: 'Rooms' });
  await expect(guestNav.getByRole('link', { name })).toHaveCount(0);

  await owner.page.getByRole('button', { name: 'Add people' }).click();
  const add = owner.page.getByRole('dialog', { name: `Add people to #${name}` });
  await add.getByLabel('Find people').fill(guest.username);
  await add.getByRole('button', { name: 'Add Milo Member' }).click();
  await expect(add.getByText('Milo Member was added.')).toBeVisible();
  await owner.page.keyboard.press('Escape');
  await expect(messages(owner.page, name, 'Milo Member')).toContainText('was added by');

  // The new member sees the room appear, marked private, and can talk in it.
  await expect(guestNav.getByRole('link', { name: `${name} (private)` })).toBeVisible();
  await guestNav.getByRole('link', { name }).click();
  await sendText(guest.page, 'Thanks for adding me');
  await expect(messages(owner.page, name, 'Thanks for adding me')).toHaveCount(1);

  // Rename and describe: everyone sees the new name, and the rename is in the activity log.
  const renamed = uniq('renamed-');
  await owner.page.getByRole('button', { name: 'Room settings' }).click();
  const settings = owner.page.getByRole('dialog', { name: 'Room settings' });
  await settings.getByLabel('Room name').fill(renamed);
  await settings.getByLabel('Description').fill('Now with a purpose');
  await settings.getByRole('button', { name: 'Save changes' }).click();
  await expect(settings).toBeHidden();
  await expect(guest.page.getByRole('heading', { level: 1 })).toHaveText(renamed);
  await expect(guest.page.getByText('Now with a purpose')).toBeVisible();
  await expect(messages(guest.page, renamed, `renamed the room to "${renamed}"`)).toHaveCount(1);

  // A name that is taken is refused inline.
  await owner.page.getByRole('button', { name: 'Room settings' }).click();
  await settings.getByLabel('Room name').fill('general');
  await settings.getByRole('button', { name: 'Save changes' }).click();
  await expect(settings.getByText('A room with that name already exists.')).toBeVisible();
  await owner.page.keyboard.press('Escape');

  // Kick: the member is told, loses the room; the owner sees it logged.
  owner.page.once('dialog', (d) => void d.accept());
  await owner.page.getByRole('button', { name: 'Remove and ban Milo Member from the room' }).click();
  await expect(guest.page.getByText(`You were removed from #${renamed}.`)).toBeVisible();
  await expect(guestNav.getByRole('link', { name: renamed })).toHaveCount(0);
  await expect(timeline(guest.page, 'general')).toBeVisible();
  await expect(messages(owner.page, renamed, 'Milo Member')).toContainText([
    'was added by',
    'was removed by',
  ]);
  // The kick banned them: the owner sees it under the members and lifts it.
  const banned = owner.page.getByRole('list', { name: 'Banned' });
  await expect(banned.getByText('Milo Member')).toBeVisible();
  await banned.getByRole('button', { name: 'Unban Milo Member' }).click();
  await expect(banned).toHaveCount(0);

  // Delete.
  await owner.page.getByRole('button', { name: 'Room settings' }).click();
  await settings.getByRole('button', { name: 'Delete room' }).click();
  await settings.getByRole('button', { name: `Yes, delete #${renamed}` }).click();
  await expect(
    owner.page.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name: renamed }),
  ).toHaveCount(0);
  await expect(timeline(owner.page, 'general')).toBeVisible();
  await owner.context.close();
  await guest.context.close();
});
