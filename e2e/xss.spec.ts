import { expect, test } from '@playwright/test';
import { messages, sendText, timeline } from './support/app';
import { apiUser } from './support/seed';

const NAME_PAYLOAD = '<img src=x onerror="window.__xss=1">Mallory';
const TEXT_PAYLOAD =
  '<script>window.__xss=2</script><img src=x onerror="window.__xss=3"> [x](javascript:window.__xss=4) ' +
  'javascript:window.__xss=5 https://example.com/a?b=<b>c</b>';

test('markup in a display name and in a message is shown as text and runs nothing', async ({ browser }) => {
  const mallory = await apiUser(browser, 'mallory', NAME_PAYLOAD);
  const victim = await apiUser(browser, 'victim', 'Victim');
  const dialogs: string[] = [];
  for (const u of [mallory, victim]) {
    u.page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await u.page.goto('/');
    await expect(timeline(u.page, 'general')).toBeVisible();
  }

  await sendText(mallory.page, TEXT_PAYLOAD);
  for (const page of [victim.page, mallory.page]) {
    const article = messages(page, 'general', 'window.__xss=2');
    await expect(article).toHaveCount(1);
    // The text arrives character for character, markup included…
    await expect(article).toContainText(
      '<script>window.__xss=2</script><img src=x onerror="window.__xss=3">',
    );
    await expect(article).toContainText(NAME_PAYLOAD);
    // …and none of it became elements, nor a javascript: link.
    const log = timeline(page, 'general');
    await expect(log.locator('script, img[src="x"], [onerror]')).toHaveCount(0);
    await expect(page.locator('a[href^="javascript:" i]')).toHaveCount(0);
    // The one real link is safe: http(s) only, a new tab that cannot reach back to this one.
    const link = article.getByRole('link');
    await expect(link).toHaveCount(1);
    await expect(link).toHaveAttribute('href', /^https:\/\/example\.com\/a\?b=/);
    await expect(link).toHaveAttribute('rel', 'noopener noreferrer');
    await expect(link).toHaveAttribute('target', '_blank');
  }

  // The name is text everywhere it appears: the Online list, the members panel, the join notice.
  await expect(victim.page.getByRole('list', { name: 'Online' })).toContainText(NAME_PAYLOAD);
  await expect(victim.page.getByRole('list', { name: 'Members' })).toContainText(NAME_PAYLOAD);
  await expect(victim.page.locator('img[src="x"], [onerror]')).toHaveCount(0);

  // And in a direct conversation titled with it.
  await victim.page.getByRole('list', { name: 'Online' }).getByRole('button', { name: NAME_PAYLOAD }).click();
  await expect(timeline(victim.page, NAME_PAYLOAD)).toBeVisible();
  await expect(victim.page.getByRole('heading', { level: 1 })).toHaveText(NAME_PAYLOAD);

  for (const page of [victim.page, mallory.page]) {
    expect(await page.evaluate(() => (window as { __xss?: unknown }).__xss)).toBeUndefined();
  }
  expect(dialogs).toEqual([]);
  await mallory.context.close();
  await victim.context.close();
});
