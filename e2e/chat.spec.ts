import { expect, test, type Page } from '@playwright/test';
import {
  composer,
  createRoom,
  messages,
  sendText,
  timeline,
  uniq,
  watchErrors,
  PASSWORD,
} from './support/app';
import { makePng } from './support/png';

async function registerWithForm(page: Page, username: string, displayName: string): Promise<void> {
  await page.goto('/register');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Email').fill(`${username}@example.com`);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Display name').fill(displayName);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(timeline(page, 'general')).toBeVisible();
}

test('two people register, meet in a room, talk, share an image, see presence, typing, join and leave', async ({
  browser,
}) => {
  const anaCtx = await browser.newContext();
  const boCtx = await browser.newContext();
  const ana = await anaCtx.newPage();
  const bo = await boCtx.newPage();
  const errors = [...watchErrors(ana), ...watchErrors(bo)];
  const anaName = uniq('ana');
  const boName = uniq('bo');
  const anaDisplay = `Ana ${anaName.slice(-4)}`;
  const boDisplay = `Bo ${boName.slice(-4)}`;
  const room = uniq('design-');

  await registerWithForm(ana, anaName, anaDisplay);
  await registerWithForm(bo, boName, boDisplay);

  // Presence: each sees the other in the global Online list.
  await expect(ana.getByRole('list', { name: 'Online' }).getByText(boDisplay)).toBeVisible();
  await expect(bo.getByRole('list', { name: 'Online' }).getByText(anaDisplay)).toBeVisible();

  // Ana creates a public room; Bo finds it, previews it and joins.
  await createRoom(ana, room);
  await bo.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name: room }).click();
  await expect(timeline(bo, room)).toBeVisible();
  await expect(composer(bo)).toHaveCount(0);
  await bo.getByRole('button', { name: 'Join' }).click();
  await expect(composer(bo)).toBeVisible();

  // Ana sees the join in the activity log and Bo in the members panel, with an online dot.
  await expect(messages(ana, room, boDisplay).filter({ hasText: 'joined the room' })).toHaveCount(1);
  const members = ana.getByRole('list', { name: 'Members' });
  await expect(members.getByRole('listitem').filter({ hasText: boDisplay })).toContainText('online');

  // Typing: Ana sees "Bo is typing…" while Bo types.
  await composer(bo).pressSequentially('Hello Ana', { delay: 20 });
  await expect(ana.getByText(`${boDisplay} is typing…`)).toBeVisible();
  await composer(bo).press('Enter');
  await expect(messages(ana, room, 'Hello Ana')).toHaveCount(1);
  await expect(ana.getByText(`${boDisplay} is typing…`)).toBeHidden();
  await expect(composer(bo)).toHaveValue('');

  // Ana answers on two lines (Shift+Enter); each message is an article with its author and text.
  await composer(ana).fill('Hi Bo!');
  await composer(ana).press('Shift+Enter');
  await composer(ana).pressSequentially('Welcome to the room.');
  await composer(ana).press('Enter');
  const reply = messages(bo, room, 'Welcome to the room.');
  await expect(reply).toHaveCount(1);
  await expect(reply).toContainText(anaDisplay);
  await expect(reply).toContainText('Hi Bo!\nWelcome to the room.');

  // An image by the "Attach image" button: progress, then sent; Bo sees the thumbnail and opens it full size.
  const [chooser] = await Promise.all([
    ana.waitForEvent('filechooser'),
    ana.getByRole('button', { name: 'Attach image' }).click(),
  ]);
  await chooser.setFiles({ name: 'chart.png', mimeType: 'image/png', buffer: makePng(320, 200) });
  await expect(ana.getByText('Ready to send')).toBeVisible();
  await composer(ana).fill('The chart');
  await ana.getByRole('button', { name: 'Send' }).click();
  const thumb = timeline(bo, room).getByRole('img', { name: `Image from ${anaDisplay}, open full size` });
  await expect(thumb).toBeVisible();
  await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  await thumb.click();
  const viewer = bo.getByRole('dialog', { name: 'Image' });
  const full = viewer.getByRole('img', { name: 'Full-size image' });
  await expect.poll(() => full.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(320);
  await bo.keyboard.press('Escape');
  await expect(viewer).toBeHidden();

  // Unread badge and title count: Bo looks at general while Ana writes in the room.
  await bo.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name: 'general' }).click();
  await sendText(ana, 'Are you still there?');
  await expect(bo.getByRole('link', { name: new RegExp(`${room}.*1 unread`) })).toBeVisible();
  await expect(bo).toHaveTitle(/^\(1\) /);
  await bo.getByRole('link', { name: new RegExp(room) }).click();
  await expect(bo.locator('.new-divider')).toBeVisible();
  await expect(messages(bo, room, 'Are you still there?')).toBeVisible();
  // Read: the title now counts only what the other rooms' badges show. (Not "no count at all": users of tests
  // running alongside land in general meanwhile, and their "joined" lines are unread for Bo.)
  await expect
    .poll(() =>
      bo.evaluate(() => {
        const badges = [...document.querySelectorAll('.room-link .badge')];
        const elsewhere = badges.reduce((n, b) => n + parseInt(b.textContent ?? '0', 10), 0);
        const title = /^\((\d+)\)/.exec(document.title);
        return (title ? Number(title[1]) : 0) - elsewhere;
      }),
    )
    .toBe(0);

  // A direct conversation from a name in the Online list.
  await ana.getByRole('list', { name: 'Online' }).getByRole('button', { name: boDisplay }).click();
  await expect(timeline(ana, boDisplay)).toBeVisible();
  await sendText(ana, 'Just between us');
  const dmLink = bo
    .getByRole('navigation', { name: 'Rooms' })
    .getByRole('link', { name: new RegExp(anaDisplay) });
  await expect(dmLink).toContainText('1');
  await dmLink.click();
  await expect(messages(bo, anaDisplay, 'Just between us')).toHaveCount(1);

  // Bo leaves the room: Ana sees it in the log and the member list.
  await bo.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name: room }).click();
  await bo.getByRole('button', { name: 'Leave' }).click();
  await expect(bo.getByRole('button', { name: 'Join' })).toBeVisible();
  await ana.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name: room }).click();
  await expect(messages(ana, room, boDisplay).filter({ hasText: 'left the room' })).toHaveCount(1);
  await expect(members.getByText(boDisplay)).toHaveCount(0);

  // Nothing was shown twice.
  for (const text of ['Hello Ana', 'Welcome to the room.', 'The chart', 'Are you still there?']) {
    await expect(messages(ana, room, text)).toHaveCount(1);
  }

  // Bo goes away: Ana's Online list drops Bo.
  await boCtx.close();
  await expect(ana.getByRole('list', { name: 'Online' }).getByText(boDisplay)).toHaveCount(0);
  expect(errors).toEqual([]);
  await anaCtx.close();
});
