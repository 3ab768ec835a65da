import { authStore } from '../features/auth/session';
import { AuthScreen } from '../features/auth/AuthScreen';
import { useStore } from '../store/store';
import { ChatApp } from './ChatApp';
import { usePath } from './router';

export function App() {
  const auth = useStore(authStore, (s) => s.auth);
  const path = usePath();
  if (auth.status === 'loading') {
    return (
      <div className="splash" role="status">
        <span className="brand-mark" aria-hidden="true">
          P
        </span>
        <span>{auth.retrying ? 'Cannot reach the server. Trying again…' : 'Loading Parley…'}</span>
      </div>
    );
  }
  if (auth.status === 'signed-out') {
    return <AuthScreen mode={path === '/register' ? 'register' : 'login'} notice={auth.notice} />;
  }
  // A different user (signed in from another tab) gets a fresh chat state.
  return <ChatApp key={auth.user.id} />;
}
