import { expect, test, type Page } from '@playwright/test';
import { composer, messages, sendText, timeline } from './support/app';
import { expectNoSeriousViolations } from './support/axe';
import { apiUser, createRoomApi, joinRoomApi, say, type ApiUser } from './support/seed';

/*
 * Issue 16, web client: Markdown formatting between two users (the text stays plain on the wire: one user types
 * it, the server stores it as typed, the other user's browser formats it), markup and javascript: links inert,
 * `:shortcodes:`, the emoji picker (search, recent first, keyboard) and the `:sho` autocomplete; axe on each.
 */

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

const LONG_LINE = `const veryLongName = ${'"a long string that does not fit" + '.repeat(6)}"";`;
const FORMATTED = [
  '**Bold move** and *slanted* and ~~struck~~ and `inline()`',
  '',
  '> a quoted line',
  '',
  '- first item',
  '- second item',
  '',
  '1. step one',
  '2. step two',
  '',
  'see www.example.com/docs and mailto:ana@example.com and [the site](https://example.com/s)',
  '',
  '```js',
  LONG_LINE,
  'return **not bold**;',
  '```',
].join('\n');

const HOSTILE = [
  '<script>window.__xss=1;alert(1)</script>',
  '<img src=x onerror="window.__xss=2;alert(2)">',
  '[click me](javascript:window.__xss=3;alert(3))',
  '[upper](JAVASCRIPT:alert(4)) <javascript:alert(5)> javascript:alert(6)',
].join('\n');

declare global {
  interface Window {
    __xss?: unknown;
  }
}

/** Records every dialog (alert, confirm) a page opens, dismissing it. */
function recordDialogs(page: Page): string[] {
  const seen: string[] = [];
  page.on('dialog', (d) => {
    seen.push(d.message());
    void d.dismiss();
  });
  return seen;
}

async function openRoom(u: ApiUser, roomId: string, name: string): Promise<void> {
  await u.page.goto(`/rooms/${roomId}`);
  await expect(timeline(u.page, name)).toBeVisible();
}

for (const vp of VIEWPORTS) {
  test.describe(`${vp.name} (${vp.width}×${vp.height})`, () => {
    const viewport = { width: vp.width, height: vp.height };

    test('formatting reaches the other user formatted; markup and javascript: links stay inert', async ({
      browser,
    }) => {
      // Two browsers and many live steps: on a busy 2-core machine this takes more than the default minute.
      test.slow();
      // Names of this attempt only: a retry registers its users again, and a display name is unique.
      const attempt = test.info().retry ? ` ${test.info().retry + 1}` : '';
      const ana = await apiUser(browser, 'ana', `Ana Format ${vp.name}${attempt}`, { viewport });
      const bo = await apiUser(browser, 'bo', `Bo Format ${vp.name}${attempt}`, { viewport });
      await bo.context.grantPermissions(['clipboard-read', 'clipboard-write']);
      const name = `fmt-${vp.name}-${Date.now().toString(36).slice(-5)}`;
      const room = await createRoomApi(ana, name);
      await joinRoomApi(bo, room.id);
      const dialogs = [ana, bo].map((u) => recordDialogs(u.page));
      await openRoom(ana, room.id, name);
      await openRoom(bo, room.id, name);

      await sendText(ana.page, FORMATTED);
      await sendText(ana.page, `hey @${bo.username}, not in code: \`@${bo.username}\``);
      await sendText(ana.page, HOSTILE);
      await sendText(ana.page, 'shipped :tada: :+1: at 10:30:45 :not_an_emoji:');
      await say(ana, room.id, ':rocket::rocket:');

      const page = bo.page;
      const article = messages(page, name, 'Bold move');
      await expect(article).toHaveCount(1);
      await expect(article.locator('strong')).toHaveText('Bold move');
      await expect(article.locator('em')).toHaveText('slanted');
      await expect(article.locator('s')).toHaveText('struck');
      await expect(article.locator(':not(pre) > code')).toHaveText('inline()');
      await expect(article.locator('blockquote')).toHaveText('a quoted line');
      await expect(article.locator('ul > li')).toHaveText(['first item', 'second item']);
      await expect(article.locator('ol > li')).toHaveText(['step one', 'step two']);
      await expect(article.getByRole('link', { name: 'www.example.com/docs' })).toHaveAttribute(
        'href',
        'https://www.example.com/docs',
      );
      await expect(article.getByRole('link', { name: 'mailto:ana@example.com' })).toHaveAttribute(
        'href',
        'mailto:ana@example.com',
      );
      const site = article.getByRole('link', { name: 'the site' });
      await expect(site).toHaveAttribute('href', 'https://example.com/s');
      await expect(site).toHaveAttribute('rel', 'noopener noreferrer');
      await expect(site).toHaveAttribute('target', '_blank');

      // The code block: as typed (no bold inside), monospace, scrolled sideways rather than wrapped, copyable.
      const pre = article.locator('pre');
      await expect(pre).toHaveText(`${LONG_LINE}\nreturn **not bold**;`);
      await expect(pre.locator('strong')).toHaveCount(0);
      expect(await pre.evaluate((el) => getComputedStyle(el).fontFamily)).toMatch(/mono/i);
      await expect(pre).toHaveCSS('white-space', 'pre');
      await expect(pre).toHaveCSS('overflow-x', 'auto');
      expect(await pre.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
      const copy = article.getByRole('button', { name: 'Copy' });
      await copy.click();
      await expect(article.getByRole('button', { name: 'Copied' })).toBeVisible();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(
        `${LONG_LINE}\nreturn **not bold**;`,
      );

      // A mention in code is not one.
      const mention = messages(page, name, 'not in code');
      await expect(mention.locator('mark.mention')).toHaveCount(1);
      await expect(mention.locator('code')).toHaveText(`@${bo.username}`);

      // Markup is text, and no link leads to javascript:.
      const hostile = messages(page, name, 'click me');
      await expect(hostile).toContainText('<script>window.__xss=1;alert(1)</script>');
      await expect(hostile).toContainText('<img src=x onerror="window.__xss=2;alert(2)">');
      await expect(hostile).toContainText('[click me](javascript:window.__xss=3;alert(3))');
      await expect(hostile.getByRole('link')).toHaveCount(0);
      await expect(timeline(page, name).locator('script, img[src="x"], [onerror]')).toHaveCount(0);
      await expect(page.locator('a[href^="javascript:" i]')).toHaveCount(0);
      const url = page.url();
      await hostile.getByText('click me', { exact: false }).click();
      expect(page.url()).toBe(url);

      // Shortcodes render as emoji; unknown ones and times stay as typed. Emoji alone are shown larger.
      await expect(messages(page, name, 'shipped')).toContainText(
        // emojibase's fully-qualified 👍 carries U+FE0F.
        'shipped 🎉 \u{1F44D}\uFE0F at 10:30:45 :not_an_emoji:',
      );
      const jumbo = messages(page, name, '🚀🚀');
      await expect(jumbo.locator('.message-text')).toHaveClass(/emoji-only/);

      await expectNoSeriousViolations(page, `formatted timeline (${vp.name})`);
      for (const p of [ana.page, bo.page]) {
        expect(await p.evaluate(() => window.__xss)).toBeUndefined();
      }
      expect(dialogs.flat()).toEqual([]);
      await ana.context.close();
      await bo.context.close();
    });

    test('emoji picker: search, pick, recent first, keyboard; the :shortcode autocomplete', async ({
      browser,
    }) => {
      test.slow();
      const ana = await apiUser(browser, 'ana', `Ana Picker ${vp.name}`, { viewport });
      const bo = await apiUser(browser, 'bo', `Bo Picker ${vp.name}`, { viewport });
      const name = `emoji-${vp.name}-${Date.now().toString(36).slice(-5)}`;
      const room = await createRoomApi(ana, name);
      await joinRoomApi(bo, room.id);
      await openRoom(ana, room.id, name);
      await openRoom(bo, room.id, name);
      const page = ana.page;
      const box = composer(page);
      const button = page.getByRole('button', { name: 'Emoji', exact: true });
      const picker = page.getByRole('dialog', { name: 'Emoji picker' });

      // Open, search, pick with the mouse: the emoji goes in at the caret, the picker closes.
      await box.fill('Launch ');
      await button.click();
      await expect(picker).toBeVisible();
      await expect(button).toHaveAttribute('aria-expanded', 'true');
      await expect(picker.getByRole('button', { name: 'grinning face', exact: true })).toBeVisible();
      const search = picker.getByRole('searchbox', { name: 'Search emoji' });
      await expect(search).toBeFocused();
      // One group at a time: the group buttons switch it.
      await picker.getByRole('button', { name: 'Animals & nature' }).click();
      await expect(picker.getByRole('button', { name: 'Animals & nature' })).toHaveAttribute(
        'aria-pressed',
        'true',
      );
      await expect(
        picker.getByRole('group', { name: 'Animals & nature' }).getByRole('button').first(),
      ).toBeVisible();
      await picker.getByRole('button', { name: 'Smileys & emotion' }).click();
      await expectNoSeriousViolations(page, `emoji picker open (${vp.name})`);
      await search.fill('party popper');
      const results = picker.getByRole('group', { name: 'Search results' });
      await results.getByRole('button', { name: 'party popper' }).click();
      await expect(picker).toBeHidden();
      await expect(box).toHaveValue('Launch 🎉');
      await expect(box).toBeFocused();

      // Next time the recent one comes first; this time by keyboard: search, ↓ into the grid, Enter.
      await button.click();
      const recent = picker.getByRole('group', { name: 'Recently used' });
      await expect(recent.getByRole('button').first()).toHaveAccessibleName('party popper');
      await picker.getByRole('searchbox', { name: 'Search emoji' }).fill('rocket');
      await expect(results.getByRole('button').first()).toHaveAccessibleName('rocket');
      await page.keyboard.press('ArrowDown');
      await expect(results.getByRole('button', { name: 'rocket' })).toBeFocused();
      await page.keyboard.press('Enter');
      await expect(picker).toBeHidden();
      await expect(box).toHaveValue('Launch 🎉🚀');
      await button.click();
      await expect(recent.getByRole('button')).toHaveText(['🚀', '🎉']);
      // Escape closes it and gives the focus back to the button.
      await page.keyboard.press('Escape');
      await expect(picker).toBeHidden();
      await expect(button).toBeFocused();

      // `:tad` offers :tada:, Enter takes it.
      await box.click();
      await box.press('End');
      await box.pressSequentially(' :tad');
      const list = page.getByRole('listbox', { name: 'Emoji suggestions' });
      const option = list.getByRole('option', { name: /:tada:/ });
      await expect(option).toBeVisible();
      await expect(option).toHaveAttribute('aria-selected', 'true');
      await expectNoSeriousViolations(page, `emoji suggestions (${vp.name})`);
      await box.press('Enter');
      await expect(list).toBeHidden();
      await expect(box).toHaveValue('Launch 🎉🚀 🎉 ');
      await box.press('Enter');

      // The other user receives the emoji as text.
      await expect(messages(bo.page, name, 'Launch 🎉🚀 🎉')).toHaveCount(1);
      await ana.context.close();
      await bo.context.close();
    });
  });
}
