import { expect, test } from '@playwright/test';
import { PASSWORD, timeline, uniq } from './support/app';

test.describe('signing up and in', () => {
  test('registration shows the server’s errors next to the fields they concern', async ({
    page,
    request,
  }) => {
    const taken = uniq('taken');
    const res = await request.post('/api/auth/register', {
      data: { username: taken, email: `${taken}@example.com`, password: PASSWORD },
    });
    expect(res.status()).toBe(201);

    await page.goto('/register');
    // Checked before sending.
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByLabel('Username')).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByText('Enter a username.')).toBeVisible();
    await expect(page.getByText('Enter your email address.')).toBeVisible();
    await expect(page.getByText('Use at least 8 characters.')).toBeVisible();
    await expect(page.getByLabel('Username')).toBeFocused();

    // USERNAME_TAKEN (case-insensitively) goes under Username.
    await page.getByLabel('Username').fill(taken.toUpperCase());
    await page.getByLabel('Email').fill(`${uniq('new')}@example.com`);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByText('That username is taken. Try another one.')).toBeVisible();

    // EMAIL_TAKEN goes under Email.
    await page.getByLabel('Username').fill(uniq('fresh'));
    await page.getByLabel('Email').fill(`${taken}@example.com`);
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByText('An account with that email already exists.')).toBeVisible();
    await expect(page.getByLabel('Email')).toHaveAttribute('aria-invalid', 'true');

    // A VALIDATION_ERROR detail for a field the client does not check lands under that field.
    await page.getByLabel('Email').fill(`${uniq('ok')}@example.com`);
    await page.getByLabel('Display name').fill('Bad\u202ename');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(page.getByLabel('Display name')).toHaveAttribute('aria-invalid', 'true');
    await expect(page.getByText(/control or bidi-override/)).toBeVisible();

    // A display name that reads as another user's name (409 CONFLICT) goes under Display name too.
    await page.getByLabel('Display name').fill(taken.toUpperCase().replace('A', '\u0410'));
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(
      page.getByText('That looks too much like someone else’s name. Try another one.'),
    ).toBeVisible();
    await expect(page.getByLabel('Display name')).toHaveAttribute('aria-invalid', 'true');

    // Fixed: signed in, in general.
    await page.getByLabel('Display name').fill('Fine Name');
    await page.getByRole('button', { name: 'Create account' }).click();
    await expect(timeline(page, 'general')).toBeVisible();
    await expect(page).toHaveURL(/\/rooms\/\d+$/);
  });

  test('sign in: wrong password, rate limit, reload stays signed in, sign out', async ({ page, request }) => {
    const name = uniq('sam');
    await request.post('/api/auth/register', {
      data: { username: name, email: `${name}@example.com`, password: PASSWORD, displayName: 'Sam Sign' },
    });
    await page.goto('/');
    await expect(page).toHaveURL(/\/$|\/login$/);

    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toHaveText('That username or password is not right.');

    // RATE_LIMITED with Retry-After (the limit itself is the server's business; its answer is simulated here).
    await page.route('**/api/auth/login', (route) =>
      route.fulfill({
        status: 429,
        headers: { 'Retry-After': '42' },
        json: { error: { code: 'RATE_LIMITED', message: 'Too many requests; slow down' } },
      }),
    );
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toHaveText('Too many attempts. Try again in 42 seconds.');
    await page.unroute('**/api/auth/login');

    // Signing in with the email address works too.
    await page.getByLabel('Username').fill(`${name}@example.com`);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(timeline(page, 'general')).toBeVisible();

    // The access token lives in memory only; a reload signs back in with the refresh cookie.
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
    expect(stored).not.toMatch(/eyJ/);
    await page.reload();
    await expect(timeline(page, 'general')).toBeVisible();
    await expect(page.getByText('Sam Sign').first()).toBeVisible();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
    await page.reload();
    await expect(page.getByRole('button', { name: 'Sign in' })).toBeVisible();
  });

  test('continue as a guest with a name; guests cannot create rooms', async ({ page, browser }) => {
    await page.goto('/login');
    await page.getByRole('button', { name: 'Continue as guest' }).click();
    await expect(page.getByText(/Guests pick a username too/)).toBeVisible();
    const name = uniq('guest');
    await page.getByLabel('Username').fill(name);
    await page.getByRole('button', { name: 'Continue as guest' }).click();
    await expect(timeline(page, 'general')).toBeVisible();
    await expect(page.getByText('Guest', { exact: true })).toBeVisible();
    await expect(page.getByRole('button', { name: 'New room' })).toHaveCount(0);
    await expect(page.getByRole('list', { name: 'Online' })).toContainText(name);

    // While this guest is connected, nobody else can take the name.
    const other = await browser.newPage();
    await other.goto('/login');
    await other.getByLabel('Username').fill(name);
    await other.getByRole('button', { name: 'Continue as guest' }).click();
    await expect(other.getByText('Someone is using that name right now. Pick another one.')).toBeVisible();
    await other.close();
  });

  test('signing out in one tab signs out the other tabs', async ({ context }) => {
    const name = uniq('tabs');
    const first = await context.newPage();
    const res = await first.request.post('/api/auth/register', {
      data: { username: name, email: `${name}@example.com`, password: PASSWORD },
    });
    expect(res.status()).toBe(201);
    await first.goto('/');
    await expect(timeline(first, 'general')).toBeVisible();
    const second = await context.newPage();
    await second.goto('/');
    await expect(timeline(second, 'general')).toBeVisible();

    await first.getByRole('button', { name: 'Sign out' }).click();
    await expect(first.getByRole('button', { name: 'Sign in' })).toBeVisible();
    await expect(second.getByRole('button', { name: 'Sign in' })).toBeVisible();
  });
});
