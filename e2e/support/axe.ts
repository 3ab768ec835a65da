import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';

/** Runs axe (WCAG 2.x A/AA and best practices) and fails on any serious or critical violation (as a11y.spec.ts). */
export async function expectNoSeriousViolations(page: Page, label: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'])
    .analyze();
  const serious = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${label}: ${v.id} (${v.impact}): ${v.help} → ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    );
  expect(serious, serious.join('\n')).toEqual([]);
}

export const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'tablet', width: 820, height: 1180 },
  { name: 'phone', width: 390, height: 844 },
] as const;

/** Below this width the sidebar is a drawer (web/src/styles/layout.css, `max-width: 699px`). */
const DRAWER_BELOW = 700;

/**
 * On a phone the sidebar is a drawer: open it (a no-op where the sidebar is always shown). The size decides, not a
 * look at the menu button: that button is in the room's header, which appears only once the rooms are loaded, so
 * right after a load or reload `isVisible()` answered "no" and the drawer stayed shut (the settings spec's 10 s
 * misses at 390×844). `click()` waits for the button instead.
 */
export async function showSidebar(page: Page): Promise<void> {
  const settings = page.getByRole('button', { name: 'Settings', exact: true });
  const narrow = (page.viewportSize()?.width ?? 1280) < DRAWER_BELOW;
  if (narrow && !(await settings.isVisible())) {
    await page.getByRole('button', { name: /^Open rooms/ }).click();
  }
  await expect(settings).toBeVisible();
}
