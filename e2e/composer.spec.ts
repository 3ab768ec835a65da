import { expect, test, type Page } from '@playwright/test';
import { composer, messages, sendText, timeline } from './support/app';
import { makePng } from './support/png';
import { apiUser } from './support/seed';
import { startOwnServer } from './support/server';

const attach = async (page: Page, file: { name: string; mimeType: string; buffer: Buffer }) => {
  const [chooser] = await Promise.all([
    page.waitForEvent('filechooser'),
    page.getByRole('button', { name: 'Attach image' }).click(),
  ]);
  await chooser.setFiles(file);
};

/** Hands files to the page as a paste or a drop would (DataTransfer built in the page). */
async function dispatchFiles(page: Page, kind: 'paste' | 'drop', name: string, bytes: Buffer) {
  await page.evaluate(
    ({ kind, name, data }) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(data)], name, { type: 'image/png' }));
      if (kind === 'paste') {
        const box = document.querySelector('#composer-input')!;
        box.dispatchEvent(
          new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }),
        );
      } else {
        const room = document.querySelector('.room')!;
        room.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        room.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }
    },
    { kind, name, data: [...bytes] },
  );
}

test('images: clear errors for wrong files, paste and drop, upload progress', async ({ browser }) => {
  const ana = await apiUser(browser, 'img', 'Ima Ges');
  const page = ana.page;
  await page.goto('/');
  await expect(timeline(page, 'general')).toBeVisible();
  const problem = page.getByRole('alert').filter({ hasText: /\S/ });

  await attach(page, { name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(6 * 1024 * 1024, 1) });
  await expect(problem).toContainText('"huge.png" is too large (6.0 MB). Images can be 5 MB at most.');
  await attach(page, { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') });
  await expect(problem).toContainText('"notes.txt" is not an image we can send');
  // Named and typed like a PNG, but the server reads the bytes.
  await attach(page, { name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('not really a png') });
  await expect(problem).toContainText('"fake.png" is not a JPEG, PNG, GIF or WebP image.');

  // Pasted: previewed, uploaded, then sent with the text.
  await dispatchFiles(page, 'paste', 'pasted.png', makePng(120, 80));
  await expect(page.getByText('Ready to send')).toBeVisible();
  await expect(problem).toHaveCount(0);
  await sendText(page, 'Pasted picture');
  await expect(
    messages(page, 'general', 'Pasted picture').getByRole('img', { name: /Image from Ima Ges/ }),
  ).toBeVisible();

  // Dropped on the room, sent without text.
  await dispatchFiles(page, 'drop', 'dropped.png', makePng(90, 90));
  await expect(page.getByText('Ready to send')).toBeVisible();
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(timeline(page, 'general').getByRole('img', { name: /Image from Ima Ges/ })).toHaveCount(2);

  // On a slow connection the progress bar shows how far the upload is.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 20,
    downloadThroughput: -1,
    uploadThroughput: 256 * 1024,
  });
  await attach(page, { name: 'big.png', mimeType: 'image/png', buffer: bigPng() });
  const bar = page.getByRole('progressbar', { name: 'Uploading big.png' });
  await expect(bar).toBeVisible();
  await expect
    .poll(async () => Number(await bar.getAttribute('value')), { timeout: 10_000 })
    .toBeGreaterThan(0);
  await expect(page.getByRole('button', { name: 'Send' })).toBeDisabled();
  await expect(page.getByText('Ready to send')).toBeVisible({ timeout: 20_000 });
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: -1,
  });
  await page.getByRole('button', { name: 'Remove image' }).click();
  await expect(page.getByText('Ready to send')).toHaveCount(0);
  await ana.context.close();
});

/** A PNG of random pixels (incompressible), about 1 MB. */
const bigPng = () => makePng(600, 560, true);

test('messages: too long is refused before sending, edits and deletions show', async ({ browser }) => {
  const ana = await apiUser(browser, 'edit', 'Ed Itor');
  const bo = await apiUser(browser, 'seer', 'See R');
  const page = ana.page;
  for (const p of [page, bo.page]) {
    await p.goto('/');
    await expect(timeline(p, 'general')).toBeVisible();
  }

  await composer(page).fill('x'.repeat(4001));
  await expect(page.getByText('4001 / 4000')).toBeVisible();
  await composer(page).press('Enter');
  await expect(
    page.getByRole('alert').filter({ hasText: 'Too long: 4001 characters, 4000 at most.' }),
  ).toBeVisible();
  await composer(page).fill('');

  await sendText(page, 'First draft of a thought');
  const mine = messages(page, 'general', 'First draft of a thought');
  await mine.hover();
  await mine.getByRole('button', { name: 'Edit' }).click();
  const edit = page.getByRole('textbox', { name: 'Edit text' });
  await edit.fill('Second draft of a thought');
  await edit.press('Enter');
  await expect(messages(bo.page, 'general', 'Second draft of a thought')).toContainText('(edited)');

  const edited = messages(page, 'general', 'Second draft of a thought');
  await edited.hover();
  await edited.getByRole('button', { name: 'Delete' }).click();
  // The app's own confirmation, not the browser's.
  await page
    .getByRole('alertdialog', { name: 'Delete this message?' })
    .getByRole('button', { name: 'Delete message' })
    .click();
  await expect(messages(bo.page, 'general', 'Second draft of a thought')).toHaveCount(0);
  await expect(messages(bo.page, 'general', 'This message was deleted.')).toHaveCount(1);
  await ana.context.close();
  await bo.context.close();
});

test('sending too fast: the server’s refusal is shown, and Retry sends it', async ({ browser }) => {
  const server = await startOwnServer({ MESSAGE_BURST: '2', MESSAGE_RATE_PER_SEC: '1' });
  try {
    const ana = await apiUser(browser, 'fast', 'Fay Stt', { baseURL: server.url });
    const page = ana.page;
    await page.goto('/');
    await expect(timeline(page, 'general')).toBeVisible();
    for (const text of ['One', 'Two', 'Three', 'Four']) await sendText(page, `${text} quick message`);
    const failed = timeline(page, 'general')
      .getByRole('article')
      .filter({ hasText: 'You are sending messages too fast' });
    await expect(failed.first()).toBeVisible();
    await expect(failed.first()).toContainText('Not sent.');
    await page.waitForTimeout(2_500);
    while ((await failed.count()) > 0) {
      await failed.first().getByRole('button', { name: 'Retry' }).click();
      await page.waitForTimeout(1_100);
    }
    for (const text of ['One', 'Two', 'Three', 'Four']) {
      await expect(messages(page, 'general', `${text} quick message`)).toHaveCount(1);
      await expect(messages(page, 'general', `${text} quick message`)).not.toContainText(/Sending|Not sent/);
    }
    await ana.context.close();
  } finally {
    await server.dispose();
  }
});
