import { expect, test, type Page } from '@playwright/test';

/*
 * The page's Content-Security-Policy has `connect-src 'self'` (docs/SECURITY.md H3): the browser must still let the
 * page open WebSockets to its own origin (CSP Level 3 matches ws:/wss: of the same host under 'self'), and must
 * refuse them to any other host.
 */

/** Opens a WebSocket from the page: 'open', 'blocked' (a CSP violation) or 'error'. */
async function tryWebSocket(page: Page, url: string): Promise<string> {
  return page.evaluate(
    (target) =>
      new Promise<string>((resolve) => {
        const onViolation = (e: SecurityPolicyViolationEvent) => {
          if (e.effectiveDirective === 'connect-src') resolve('blocked');
        };
        document.addEventListener('securitypolicyviolation', onViolation);
        try {
          const ws = new WebSocket(target);
          ws.onopen = () => {
            ws.close();
            resolve('open');
          };
          ws.onerror = () => setTimeout(() => resolve('error'), 200);
        } catch {
          resolve('blocked');
        }
      }),
    url,
  );
}

test("connect-src 'self' lets the page reach its own Socket.IO over WebSocket, and no other host", async ({
  page,
}) => {
  const response = await page.goto('/');
  expect(response?.headers()['content-security-policy']).toMatch(/connect-src 'self'(;|$)/);
  const own = new URL(page.url());
  const ws = `ws://${own.host}/socket.io/?EIO=4&transport=websocket`;
  expect(await tryWebSocket(page, ws)).toBe('open');
  // The same server under another name is another origin: refused by the policy before any connection.
  const foreign = `ws://localhost:${own.port}/socket.io/?EIO=4&transport=websocket`;
  expect(await tryWebSocket(page, foreign)).toBe('blocked');
});
