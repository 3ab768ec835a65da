import { expect, test, type Locator, type Page } from '@playwright/test';
import { composer, messages, sendText, shortTag, timeline } from './support/app';
import { expectNoSeriousViolations } from './support/axe';
import { api, apiUser, createRoomApi, joinRoomApi, say, type ApiUser } from './support/seed';

/*
 * Issue 16, web client: replies (the reply bar, the quote, the jump to a parent that is not loaded, a deleted
 * parent), the keyboard (↑ edits your last message, roving focus in the log, R, the message menu as a WAI-ARIA
 * menu button), Copy link, and the same menu by a long press on a phone.
 */

async function openRoom(u: ApiUser, roomId: string, name: string): Promise<void> {
  await u.page.goto(`/rooms/${roomId}`);
  await expect(timeline(u.page, name)).toBeVisible();
}

/** Presses Tab until `target` has focus (at most `max` times): it must be in the tab order. */
async function tabTo(page: Page, target: Locator, max = 20): Promise<void> {
  for (let i = 0; i < max && !(await target.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press('Tab');
  }
  await expect(target).toBeFocused();
}

const replyTo = (u: ApiUser, roomId: string, text: string, replyToId: string) =>
  api<{ id: string }>(u.context.request, u, 'post', `/api/chatrooms/${roomId}/messages`, { text, replyToId });

test('keyboard: ↑ edits your last message, the log moves between messages, the menu is a menu button', async ({
  browser,
}) => {
  const tag = shortTag();
  const ana = await apiUser(browser, 'ana', `Ana Keys16 ${tag}`);
  const name = `keys16-${Date.now().toString(36).slice(-5)}`;
  const room = await createRoomApi(ana, name);
  await say(ana, room.id, 'first from ana');
  await say(ana, room.id, 'second from ana');
  await openRoom(ana, room.id, name);
  const page = ana.page;
  const box = composer(page);
  const second = messages(page, name, 'second from ana');

  // ↑ in the empty box edits the last one; Escape leaves it as it was and comes back to the box.
  await box.focus();
  await page.keyboard.press('ArrowUp');
  const edit = second.getByRole('textbox', { name: 'Edit text' });
  await expect(edit).toBeFocused();
  await expect(edit).toHaveValue('second from ana');
  await page.keyboard.press('Escape');
  await expect(edit).toBeHidden();
  await expect(box).toBeFocused();
  await expect(second).toContainText('second from ana');
  // Not with text in the box: ↑ moves the caret there.
  await box.fill('draft');
  await page.keyboard.press('ArrowUp');
  await expect(edit).toBeHidden();
  await box.fill('');
  await page.keyboard.press('ArrowUp');
  await edit.fill('second, edited');
  await page.keyboard.press('Enter');
  const edited = messages(page, name, 'second, edited');
  await expect(edited).toContainText('(edited)');
  await expect(box).toBeFocused();

  // The message menu by keyboard: Tab reaches "More actions", Enter opens it on its first item, arrows move,
  // Escape closes it and gives the focus back.
  const first = messages(page, name, 'first from ana');
  const more = first.getByRole('button', { name: 'More actions' });
  await timeline(page, name).focus();
  await tabTo(page, more);
  await expect(first.locator('.message-actions')).toHaveCSS('opacity', '1');
  await page.keyboard.press('Enter');
  const menu = page.getByRole('menu', { name: 'Message actions' });
  await expect(menu).toBeVisible();
  await expect(menu.getByRole('menuitem')).toHaveText([
    'Reply',
    'Add reaction',
    'Edit',
    'Delete',
    'Copy link',
  ]);
  await expect(menu.getByRole('menuitem', { name: 'Reply' })).toBeFocused();
  await expectNoSeriousViolations(page, 'message menu');
  await page.keyboard.press('ArrowDown');
  await expect(menu.getByRole('menuitem', { name: 'Add reaction' })).toBeFocused();
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('ArrowUp');
  await expect(menu.getByRole('menuitem', { name: 'Copy link' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(menu).toBeHidden();
  await expect(more).toBeFocused();
  // ↑ on the button opens it on its last item; Home goes to the first; Enter chooses.
  await page.keyboard.press('ArrowUp');
  await expect(menu.getByRole('menuitem', { name: 'Copy link' })).toBeFocused();
  await page.keyboard.press('Home');
  await page.keyboard.press('Enter');
  await expect(menu).toBeHidden();
  const bar = page.getByRole('group', { name: `Replying to ${ana.displayName}` });
  await expect(bar).toContainText('first from ana');
  await expect(box).toBeFocused();
  await expectNoSeriousViolations(page, 'reply bar');
  // Escape in the box drops the reply; so does its Cancel button.
  await page.keyboard.press('Escape');
  await expect(bar).toBeHidden();

  // Roving focus: ↑ from the log goes to the last message in view, ↑ again to the one before; R replies to it.
  await timeline(page, name).focus();
  await page.keyboard.press('ArrowUp');
  await expect(edited).toBeFocused();
  await page.keyboard.press('ArrowUp');
  await expect(first).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(edited).toBeFocused();
  await page.keyboard.press('r');
  await expect(bar).toContainText('second, edited');
  await expect(box).toBeFocused();
  await page.getByRole('button', { name: 'Cancel reply' }).click();
  await expect(page.getByRole('group', { name: /^Replying to/ })).toBeHidden();
  // E on your own message edits it; Escape puts the focus back on the message.
  await timeline(page, name).focus();
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('e');
  await expect(edited.getByRole('textbox', { name: 'Edit text' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(edited).toBeFocused();
  await ana.context.close();
});

test('a reply quotes its parent; the quote opens a parent that is not loaded; a deleted parent says so', async ({
  browser,
}) => {
  test.slow();
  const tag = shortTag();
  const ana = await apiUser(browser, 'ana', `Ana Reply ${tag}`);
  const bo = await apiUser(browser, 'bo', `Bo Reply ${tag}`);
  await bo.context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const name = `reply-${Date.now().toString(36).slice(-5)}`;
  const room = await createRoomApi(ana, name);
  await joinRoomApi(bo, room.id);
  const parent = await say(ana, room.id, `The parent, far up ${tag}\nits second line`);
  // More than one page (50) after it: opening the room does not load the parent.
  // Ana's own, so that they are not unread for her: the "New messages" divider would open the room up there.
  for (let i = 1; i <= 70; i++) await say(ana, room.id, `filler ${String(i).padStart(2, '0')}`);
  await replyTo(bo, room.id, 'An answer from far below', parent.id);
  const doomed = await say(ana, room.id, 'This one will be deleted');
  await replyTo(bo, room.id, 'Answering the doomed one', doomed.id);
  await openRoom(ana, room.id, name);
  await openRoom(bo, room.id, name);
  const page = ana.page;
  const log = timeline(page, name);
  // (Its text, not a quote of it.)
  await expect(log.locator('.message-text', { hasText: `The parent, far up ${tag}` })).toHaveCount(0);

  // The quote: the parent's author and its start, as a button.
  const answer = messages(page, name, 'An answer from far below');
  const quote = answer.getByRole('button', { name: /^In reply to Ana Reply/ });
  await expect(quote).toContainText(ana.displayName);
  await expect(quote).toContainText(`The parent, far up ${tag}`);
  await expectNoSeriousViolations(page, 'reply quote');

  // A deleted parent: the other user's quote says so at once (message:deleted), and after a reload.
  const doomedAnswer = messages(bo.page, name, 'Answering the doomed one');
  await expect(
    doomedAnswer.getByRole('button', { name: /In reply to .*This one will be deleted/ }),
  ).toBeVisible();
  await api(ana.context.request, ana, 'delete', `/api/messages/${doomed.id}`);
  await expect(doomedAnswer.getByText('Original message deleted')).toBeVisible();
  await bo.page.reload();
  await expect(
    messages(bo.page, name, 'Answering the doomed one').getByText('Original message deleted'),
  ).toBeVisible();

  // The click loads the parent's page (around=) and highlights it, in context.
  await quote.click();
  const target = log.locator('article[aria-current="true"]');
  await expect(target).toContainText(`The parent, far up ${tag}`);
  await expect(target).toBeInViewport();
  await expect(target).toBeFocused();

  // An edit of a loaded parent shows in the loaded reply's quote at once.
  const live = await say(bo, room.id, 'Live parent');
  await replyTo(ana, room.id, 'Live answer', live.id);
  const liveAnswer = messages(bo.page, name, 'Live answer');
  await expect(liveAnswer.getByRole('button', { name: /In reply to .*Live parent/ })).toBeVisible();
  await api(bo.context.request, bo, 'patch', `/api/messages/${live.id}`, { text: 'Live parent, edited' });
  await expect(liveAnswer.getByRole('button', { name: /In reply to .*Live parent, edited/ })).toBeVisible();

  // Replying from the UI sends replyToId: the other user sees the quote.
  // The first: the next one (Ana's answer) quotes it.
  const liveParent = messages(bo.page, name, 'Live parent, edited').first();
  await liveParent.hover();
  await liveParent.getByRole('button', { name: 'Reply', exact: true }).click();
  await sendText(bo.page, 'Answered from the composer');
  await expect(
    messages(page, name, 'Answered from the composer').getByRole('button', {
      name: /In reply to .*Live parent, edited/,
    }),
  ).toBeVisible();

  // Copy link: the address opens the room at that message, for anyone in it.
  await liveParent.hover();
  await liveParent.getByRole('button', { name: 'More actions' }).click();
  await bo.page.getByRole('menuitem', { name: 'Copy link' }).click();
  await expect(bo.page.getByText('Link to the message copied.')).toBeVisible();
  const link = await bo.page.evaluate(() => navigator.clipboard.readText());
  expect(link).toMatch(new RegExp(`/rooms/${room.id}\\?around=${live.id}$`));
  await page.goto(link);
  await expect(log.locator('article[aria-current="true"]')).toContainText('Live parent, edited');
  await ana.context.close();
  await bo.context.close();
});

test('on a phone a long press opens the message menu (Reply from it) and shows who reacted on a chip', async ({
  browser,
}) => {
  const tag = shortTag();
  const ana = await apiUser(browser, 'ana', `Ana Touch ${tag}`, {
    viewport: { width: 390, height: 844 },
    touch: true,
  });
  const name = `touch-${Date.now().toString(36).slice(-5)}`;
  const room = await createRoomApi(ana, name);
  const pressed = await say(ana, room.id, 'Press me for a while');
  await api(ana.context.request, ana, 'post', `/api/messages/${pressed.id}/reactions`, { emoji: '🎉' });
  await openRoom(ana, room.id, name);
  const page = ana.page;
  const message = messages(page, name, 'Press me for a while');
  const text = message.locator('.message-text');
  await expect(text).toBeVisible();
  const box = (await text.boundingBox())!;
  const at = { x: Math.round(box.x + 10), y: Math.round(box.y + box.height / 2) };
  const cdp = await page.context().newCDPSession(page);
  const menu = page.getByRole('menu', { name: 'Message actions' });

  // A tap is not a long press.
  await page.touchscreen.tap(at.x, at.y);
  await expect(message).toBeFocused();
  await expect(menu).toBeHidden();

  // Held: the menu opens while the finger is still down (expect polls; no sleep).
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [at] });
  await expect(menu).toBeVisible();
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await expect(menu).toBeVisible();
  await expect(menu.getByRole('menuitem')).toHaveText([
    'Reply',
    'Add reaction',
    'Edit',
    'Delete',
    'Copy link',
  ]);
  await expectNoSeriousViolations(page, 'phone menu');
  await menu.getByRole('menuitem', { name: 'Reply' }).tap();
  await expect(menu).toBeHidden();

  // A long press on a reaction chip shows who reacted (no hover on a phone) and does not toggle it.
  const chip = message.getByRole('button', { name: /^🎉/ });
  await expect(chip).toHaveAccessibleName('🎉 1, you reacted');
  const c = (await chip.boundingBox())!;
  const onChip = { x: Math.round(c.x + c.width / 2), y: Math.round(c.y + c.height / 2) };
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [onChip] });
  await expect(message.getByRole('tooltip')).toHaveText('You reacted with 🎉');
  await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await expect(message.getByRole('tooltip')).toBeVisible();
  await expect(chip).toHaveAccessibleName('🎉 1, you reacted');
  await expect(menu).toBeHidden();
  // A tap toggles it.
  await chip.tap();
  await expect(message.getByRole('button', { name: /^🎉/ })).toHaveCount(0);
  await expect(page.getByRole('group', { name: `Replying to ${ana.displayName}` })).toContainText(
    'Press me for a while',
  );
  await ana.context.close();
});

test('a reply whose send failed keeps answering its parent when retried', async ({ browser }) => {
  const tag = shortTag();
  const ana = await apiUser(browser, 'ana', `Ana Retry ${tag}`);
  const bo = await apiUser(browser, 'bo', `Bo Retry ${tag}`);
  const name = `retry-${Date.now().toString(36).slice(-5)}`;
  const room = await createRoomApi(ana, name);
  await joinRoomApi(bo, room.id);
  await say(bo, room.id, `Answer me ${tag}`);
  // Ana's first send is answered with a failure without reaching the server; the retry goes through.
  let failed = false;
  await ana.page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((frame) => ws.send(frame));
    ws.onMessage((frame) => {
      const send = typeof frame === 'string' ? /^42(\d+)\["message:send",(.*)\]$/.exec(frame) : null;
      if (send && !failed) {
        failed = true;
        expect(JSON.parse(send[2]!)).toHaveProperty('replyToId');
        ws.send(`43${send[1]}[{"ok":false,"error":{"code":"INTERNAL","message":"Something broke"}}]`);
        return;
      }
      server.send(frame);
    });
  });
  await openRoom(ana, room.id, name);
  await openRoom(bo, room.id, name);
  const parent = messages(ana.page, name, `Answer me ${tag}`);
  await parent.hover();
  await parent.getByRole('button', { name: 'Reply', exact: true }).click();
  await sendText(ana.page, 'Answered on the second try');
  const pending = messages(ana.page, name, 'Answered on the second try');
  await expect(pending.getByRole('alert')).toContainText('Not sent.');
  // While it waits, it shows what it answers.
  await expect(pending).toContainText(`Answer me ${tag}`);
  await pending.getByRole('button', { name: 'Retry' }).click();
  await expect(
    messages(bo.page, name, 'Answered on the second try').getByRole('button', {
      name: new RegExp(`^In reply to ${bo.displayName}: Answer me ${tag}`),
    }),
  ).toBeVisible();
  expect(failed).toBe(true);
  await ana.context.close();
  await bo.context.close();
});
