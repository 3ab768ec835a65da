import { createStore, useStore } from '../store/store';

/** A minimal History API router: the server answers every non-API path with the app (SPA fallback). */
export const routerStore = createStore({ path: location.pathname });

window.addEventListener('popstate', () => routerStore.set({ path: location.pathname }));

export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  if (path === location.pathname) return;
  if (opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  routerStore.set({ path });
}

export function usePath(): string {
  return useStore(routerStore, (s) => s.path);
}

/** `/rooms/42` → `42`. */
export function roomIdFromPath(path: string): string | null {
  const m = /^\/rooms\/([0-9]{1,18})\/?$/.exec(path);
  return m ? m[1]! : null;
}

export const roomPath = (roomId: string) => `/rooms/${roomId}`;
