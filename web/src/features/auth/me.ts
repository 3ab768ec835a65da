import type { Me } from '@parley/protocol';
import { useStore } from '../../store/store';
import { authStore } from './session';

/** The signed-in user, or null. */
export function currentUser(): Me | null {
  const a = authStore.get().auth;
  return a.status === 'signed-in' ? a.user : null;
}

export function myId(): string | null {
  return currentUser()?.id ?? null;
}

export function useMe(): Me | null {
  return useStore(authStore, (s) => (s.auth.status === 'signed-in' ? s.auth.user : null));
}
