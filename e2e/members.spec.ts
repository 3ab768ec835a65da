import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { timeline } from './support/app';
import { expectNoSeriousViolations, VIEWPORTS } from './support/axe';
import { apiUser, createRoomApi, guestMembers, joinRoomApi, type ApiUser } from './support/seed';
import { startOwnServer, type OwnServer } from './support/server';

/*
 * The members panel of a room bigger than one page (issue 14, "Paged lists"): the first page comes, online members
 * first, and scrolling the panel to its end loads the next page, appended without repeats. On a server of the
 * spec's own: the room's guests would otherwise join the shared server's `general` and turn up in other specs.
 */

/** The web client's page of members (web/src/api/client.ts MEMBER_PAGE). */
const PAGE = 100;
/** Offline members: a first page, and a good part of a second one. */
const OFFLINE = 130;

const rows = (page: Page) => page.getByRole('list', { name: 'Members' }).getByRole('listitem');

/** The names the panel lists, in its order. */
const listed = (page: Page) => rows(page).locator('.person-names .truncate').allTextContents();

test.describe('members panel paging', () => {
  test.describe.configure({ mode: 'default' });
  let server: OwnServer;
  let request: APIRequestContext;
  let ana: ApiUser;
  let bo: ApiUser;
  let roomId: string;
  let roomName: string;
  let guests: string[];

  test.beforeAll(async ({ browser, playwright }) => {
    test.slow();
    server = await startOwnServer();
    request = await playwright.request.newContext({ baseURL: server.url });
    ana = await apiUser(browser, 'ana', 'Ana Pages', { baseURL: server.url, username: 'ana' });
    bo = await apiUser(browser, 'bo', 'Bo Pages', { baseURL: server.url, username: 'bob' });
    roomName = 'crowd';
    roomId = (await createRoomApi(ana, roomName, 'More members than one page')).id;
    await joinRoomApi(bo, roomId);
    guests = await guestMembers(request, roomId, 'm', OFFLINE);
    // Bo is online: his app is open, and the server says so before Ana's list is read.
    await bo.page.goto('/');
    await expect(timeline(bo.page, 'general')).toBeVisible();
    await expect
      .poll(async () => {
        const res = await request.get('/api/users?online=true', {
          headers: { Authorization: `Bearer ${ana.token}` },
        });
        return ((await res.json()) as { users: { username: string }[] }).users.map((u) => u.username);
      })
      .toContain('bob');
  });

  test.afterAll(async () => {
    await ana?.context.close();
    await bo?.context.close();
    await request?.dispose();
    await server?.dispose();
  });

  for (const vp of VIEWPORTS) {
    test(`the first page, then the next on scroll, at ${vp.width}×${vp.height}`, async () => {
      // An axe run over a hundred rows, and two hundred-member pages, beside the other specs on two cores.
      test.slow();
      const page = ana.page;
      await page.setViewportSize({ width: vp.width, height: vp.height });
      await page.goto(`/rooms/${roomId}`);
      await expect(timeline(page, roomName)).toBeVisible();
      // Below 1100 px the panel is a drawer behind the header's Members button.
      const toggle = page.getByRole('button', { name: `Members (${OFFLINE + 2})` });
      if (vp.width < 1100) await toggle.click();
      const panel = page.locator('#members-panel');
      await expect(panel).toBeVisible();
      await expect(panel.getByRole('heading', { name: /Members/ })).toContainText(`2 of ${OFFLINE + 2} here`);

      // One page: online first (Ana, the owner, then Bo), then the offline ones by name.
      await expect(rows(page)).toHaveCount(PAGE);
      const first = await listed(page);
      expect(first.slice(0, 2)).toEqual(['Ana Pages (you)', 'Bo Pages']);
      await expect(rows(page).nth(1)).toContainText(', online');
      await expect(rows(page).nth(2)).toContainText(', offline');
      expect(first.slice(2)).toEqual(guests.slice(0, PAGE - 2));
      await expect(panel.getByRole('button', { name: 'Show more members' })).toBeAttached();
      await expectNoSeriousViolations(page, `members panel ${vp.name}`);

      // Scrolling to the end loads the rest: every member once, the order kept, and no more "Show more".
      await panel.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
      await expect(rows(page)).toHaveCount(OFFLINE + 2);
      const all = await listed(page);
      expect(new Set(all).size).toBe(all.length);
      expect(all).toEqual(['Ana Pages (you)', 'Bo Pages', ...guests]);
      await expect(panel.getByRole('button', { name: 'Show more members' })).toHaveCount(0);
    });
  }
});
