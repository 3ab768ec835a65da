import { expect, test } from '@playwright/test';
import { messages, shortTag, timeline } from './support/app';
import { expectNoSeriousViolations } from './support/axe';
import { api, apiUser, createRoomApi, joinRoomApi, say, type ApiUser } from './support/seed';

/*
 * Issue 16, web client: reactions between two users, live (chips as toggle buttons named by emoji, count and
 * whether you are in it; who reacted in a tooltip), the picker with the recently used emoji first, and the limit
 * of 20 distinct emoji per message.
 */

async function openRoom(u: ApiUser, roomId: string, name: string): Promise<void> {
  await u.page.goto(`/rooms/${roomId}`);
  await expect(timeline(u.page, name)).toBeVisible();
}

const react = (u: ApiUser, messageId: string, emoji: string) =>
  api(u.context.request, u, 'post', `/api/messages/${messageId}/reactions`, { emoji });

const TWENTY = [
  '😀',
  '😃',
  '😄',
  '😁',
  '😆',
  '😅',
  '😂',
  '🙂',
  '🙃',
  '😉',
  '😊',
  '😇',
  '🥰',
  '😍',
  '🤩',
  '😘',
  '😗',
  '😚',
  '😙',
  '🥲',
];

/** `emoji[i]` by `users[i % n]`: reactions share the edit rate limit (20 per 4 s per user), so two users seed them. */
async function reactAll(users: ApiUser[], messageId: string, emoji: string[]): Promise<void> {
  for (const [i, e] of emoji.entries()) await react(users[i % users.length]!, messageId, e);
}

test('reactions reach the other user live; a chip toggles yours; the tooltip names who reacted', async ({
  browser,
}) => {
  test.slow();
  const tag = shortTag();
  const ana = await apiUser(browser, 'ana', `Ana React ${tag}`);
  const bo = await apiUser(browser, 'bo', `Bo React ${tag}`);
  const name = `react-${Date.now().toString(36).slice(-5)}`;
  const room = await createRoomApi(ana, name);
  await joinRoomApi(bo, room.id);
  await say(ana, room.id, `React to this ${tag}`);
  await openRoom(ana, room.id, name);
  await openRoom(bo, room.id, name);
  const onAna = messages(ana.page, name, `React to this ${tag}`);
  const onBo = messages(bo.page, name, `React to this ${tag}`);

  // Ana reacts from the picker (search, Enter picks the first hit).
  await onAna.hover();
  await onAna.getByRole('button', { name: 'Add reaction' }).click();
  const picker = ana.page.getByRole('dialog', { name: 'Emoji picker' });
  await expect(picker).toBeVisible();
  await picker.getByRole('searchbox', { name: 'Search emoji' }).fill('thumbs up');
  await expect(picker.getByRole('button', { name: 'thumbs up' }).first()).toBeVisible();
  await picker.getByRole('searchbox', { name: 'Search emoji' }).press('Enter');
  await expect(picker).toBeHidden();
  const anaChip = onAna.getByRole('button', { name: /^👍 \d/ });
  await expect(anaChip).toHaveAccessibleName('👍 1, you reacted');
  await expect(anaChip).toHaveAttribute('aria-pressed', 'true');

  // Bo sees it live, not pressed; the tooltip names Ana.
  const boChip = onBo.getByRole('button', { name: /^👍 \d/ });
  await expect(boChip).toHaveAccessibleName('👍 1, 1 person reacted');
  await expect(boChip).toHaveAttribute('aria-pressed', 'false');
  await boChip.hover();
  const boTip = onBo.getByRole('tooltip');
  await expect(boTip).toBeVisible();
  await expect(boTip).toHaveText(`${ana.displayName} reacted with 👍`);
  await expect(boChip).toHaveAccessibleDescription(`${ana.displayName} reacted with 👍`);
  await expectNoSeriousViolations(bo.page, 'reaction chips');

  // Bo joins it: two, for both.
  await boChip.click();
  await expect(boChip).toHaveAccessibleName('👍 2, you and 1 other reacted');
  await expect(boChip).toHaveAttribute('aria-pressed', 'true');
  await expect(anaChip).toHaveAccessibleName('👍 2, you and 1 other reacted');
  await expect(anaChip).toHaveAccessibleDescription(`${bo.displayName} and you reacted with 👍`);

  // Ana takes hers back (by keyboard): one, Bo's.
  await onAna.focus();
  await ana.page.keyboard.press('Tab');
  await expect(anaChip).toBeFocused();
  await expect(onAna.getByRole('tooltip')).toBeVisible();
  await ana.page.keyboard.press('Enter');
  await expect(anaChip).toHaveAccessibleName('👍 1, 1 person reacted');
  await expect(anaChip).toHaveAttribute('aria-pressed', 'false');
  await expect(boChip).toHaveAccessibleName('👍 1, you reacted');

  // The picker offers the recently used emoji first.
  await onAna.hover();
  await onAna.getByRole('button', { name: 'Add reaction' }).first().click();
  const recent = picker.getByRole('group', { name: 'Recently used' });
  await expect(recent.getByRole('button').first()).toHaveText('👍');
  await ana.page.keyboard.press('Escape');
  await expect(picker).toBeHidden();

  // After a reload the server's copy says the same.
  await bo.page.reload();
  await expect(
    messages(bo.page, name, `React to this ${tag}`).getByRole('button', { name: /^👍/ }),
  ).toHaveAccessibleName('👍 1, you reacted');
  await ana.context.close();
  await bo.context.close();
});

test('at 20 different reactions a new one cannot be added, an existing one can be joined', async ({
  browser,
}) => {
  test.slow();
  const tag = shortTag();
  const ana = await apiUser(browser, 'ana', `Ana Full ${tag}`);
  const bo = await apiUser(browser, 'bo', `Bo Full ${tag}`);
  const name = `full-${Date.now().toString(36).slice(-5)}`;
  const room = await createRoomApi(ana, name);
  await joinRoomApi(bo, room.id);
  const m = await say(ana, room.id, `Popular ${tag}`);
  const cy = await apiUser(browser, 'cy', `Cy Full ${tag}`);
  await joinRoomApi(cy, room.id);
  const emoji = TWENTY;
  await reactAll([ana, cy], m.id, emoji.slice(0, 19));
  await openRoom(bo, room.id, name);
  const msg = messages(bo.page, name, `Popular ${tag}`);
  const chips = msg.getByRole('group', { name: 'Reactions' });
  await expect(chips.getByRole('button', { name: /reacted$/ })).toHaveCount(19);
  const add = chips.getByRole('button', { name: 'Add reaction' });
  await expect(add).not.toHaveAttribute('aria-disabled', 'true');

  // The 20th arrives live: adding a new one is off (said in its title), the menu no longer offers it.
  await react(cy, m.id, emoji[19]!);
  await expect(chips.getByRole('button', { name: /reacted$/ })).toHaveCount(20);
  await expect(add).toHaveAttribute('aria-disabled', 'true');
  await expect(add).toHaveAttribute('title', /20 different reactions/);
  // aria-disabled keeps it focusable (and its title readable); pressing it anyway opens nothing.
  await add.click({ force: true });
  await expect(bo.page.getByRole('dialog', { name: 'Emoji picker' })).toBeHidden();
  await msg.hover();
  await msg.getByRole('button', { name: 'More actions' }).click();
  await expect(bo.page.getByRole('menuitem', { name: 'Reply' })).toBeVisible();
  await expect(bo.page.getByRole('menuitem', { name: 'Add reaction' })).toHaveCount(0);
  await bo.page.keyboard.press('Escape');

  // Joining one of the 20 still works.
  const smile = chips.getByRole('button', { name: /^😀 / });
  await expect(smile).toHaveAccessibleName('😀 1, 1 person reacted');
  await smile.click();
  await expect(smile).toHaveAccessibleName('😀 2, you and 1 other reacted');

  // The server refuses a 21st from anyone (the client's check is only a courtesy).
  const res = await ana.context.request.post(`/api/messages/${m.id}/reactions`, {
    headers: { Authorization: `Bearer ${ana.token}` },
    data: { emoji: '🎉' },
  });
  expect(res.status()).toBe(400);
  expect(await res.text()).toContain('at most 20 different reactions');
  await expectNoSeriousViolations(bo.page, 'twenty reactions');
  await ana.context.close();
  await bo.context.close();
  await cy.context.close();
});

test("the server's refusal of a 21st emoji is shown, and the optimistic chip goes away", async ({
  browser,
}) => {
  test.slow();
  const tag = shortTag();
  const ana = await apiUser(browser, 'ana', `Ana Refused ${tag}`);
  const bo = await apiUser(browser, 'bo', `Bo Refused ${tag}`);
  const name = `refused-${Date.now().toString(36).slice(-5)}`;
  const room = await createRoomApi(ana, name);
  await joinRoomApi(bo, room.id);
  const m = await say(ana, room.id, `Nearly full ${tag}`);
  const cy = await apiUser(browser, 'cy', `Cy Refused ${tag}`);
  await joinRoomApi(cy, room.id);
  const emoji = TWENTY;
  await reactAll([ana, cy], m.id, emoji.slice(0, 19));
  // Bo misses the 20th (its message:updated is held back), so his client still offers a new one: the server decides.
  let holdUpdates = false;
  await bo.page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((frame) => server.send(frame));
    server.onMessage((frame) => {
      if (holdUpdates && typeof frame === 'string' && frame.startsWith('42["message:updated"')) return;
      ws.send(frame);
    });
  });
  await openRoom(bo, room.id, name);
  const msg = messages(bo.page, name, `Nearly full ${tag}`);
  const chips = msg.getByRole('group', { name: 'Reactions' });
  await expect(chips.getByRole('button', { name: /reacted$/ })).toHaveCount(19);
  holdUpdates = true;
  await react(cy, m.id, emoji[19]!);

  await chips.getByRole('button', { name: 'Add reaction' }).click();
  const picker = bo.page.getByRole('dialog', { name: 'Emoji picker' });
  await picker.getByRole('searchbox', { name: 'Search emoji' }).fill('rocket');
  await expect(picker.getByRole('button', { name: 'rocket' })).toBeVisible();
  await picker.getByRole('searchbox', { name: 'Search emoji' }).press('Enter');
  await expect(bo.page.getByRole('status').filter({ hasText: 'Reaction not added' })).toContainText(
    'at most 20 different reactions',
  );
  await expect(chips.getByRole('button', { name: /^🚀/ })).toHaveCount(0);
  await ana.context.close();
  await bo.context.close();
  await cy.context.close();
});

test('a reaction to a message above the view does not move what is being read', async ({ browser }) => {
  const tag = shortTag();
  const ana = await apiUser(browser, 'ana', `Ana Still ${tag}`);
  const bo = await apiUser(browser, 'bo', `Bo Still ${tag}`);
  const name = `still-${Date.now().toString(36).slice(-5)}`;
  const room = await createRoomApi(ana, name);
  await joinRoomApi(bo, room.id);
  const ids: string[] = [];
  for (let i = 1; i <= 80; i++) ids.push((await say(bo, room.id, `line ${String(i).padStart(2, '0')}`)).id);
  await openRoom(bo, room.id, name);
  const reading = messages(bo.page, name, 'line 50');
  // Bo reads the middle: line 50 at the top of the view, line 40 above it, out of view.
  await reading.evaluate((el: HTMLElement) => el.parentElement!.scrollTo({ top: el.offsetTop }));
  await expect(reading).toBeInViewport();
  await expect(messages(bo.page, name, 'line 40')).not.toBeInViewport();
  const before = await reading.evaluate((el) => el.getBoundingClientRect().top);

  await react(ana, ids[39]!, '🎉');
  await expect(messages(bo.page, name, 'line 40').getByRole('button', { name: /^🎉 1/ })).toHaveCount(1);
  // The chips row is about 32 px: the view moves by less than the rounding of a scroll position.
  const after = await reading.evaluate((el) => el.getBoundingClientRect().top);
  expect(Math.abs(after - before)).toBeLessThan(2);
  await expect(bo.page.getByRole('button', { name: 'Jump to latest' })).toBeVisible();
  await ana.context.close();
  await bo.context.close();
});
