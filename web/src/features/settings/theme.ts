import { createStore, useStore } from '../../store/store';

/*
 * The colour theme: `system` follows prefers-color-scheme (the CSS's media query does it, so a change of the
 * system setting applies at once); `light` and `dark` are set as `data-theme` on <html>, which the CSS variables
 * in styles/base.css key on. Stored per browser in localStorage: it is a device preference, not an account one.
 */

export type Theme = 'system' | 'light' | 'dark';
export const THEMES: Theme[] = ['system', 'light', 'dark'];
const KEY = 'parley:theme';

function stored(): Theme {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

export const themeStore = createStore<{ theme: Theme }>({ theme: stored() });

function apply(theme: Theme): void {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

/** Applies the stored theme; called once before the first render so there is no flash of the wrong one. */
export function applyStoredTheme(): void {
  apply(themeStore.get().theme);
  // Another tab changed it.
  window.addEventListener('storage', (e) => {
    if (e.key !== KEY) return;
    themeStore.set({ theme: stored() });
    apply(stored());
  });
}

export function setTheme(theme: Theme): void {
  try {
    if (theme === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, theme);
  } catch {
    // Private mode without storage: it still applies to this page.
  }
  themeStore.set({ theme });
  apply(theme);
}

export const useTheme = () => useStore(themeStore, (s) => s.theme);
