import type { Health } from '@parley/protocol';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import './styles.css';

/** Placeholder until the web-client issue: proves the build, the protocol import and the API path work. */
function App() {
  const [health, setHealth] = useState<Health | null>(null);
  useEffect(() => {
    fetch('/api/health')
      .then((r) => r.json() as Promise<Health>)
      .then(setHealth)
      .catch(() => setHealth(null));
  }, []);
  return (
    <main>
      <h1>Parley</h1>
      <p>The chat server is running. The web client arrives in a later release.</p>
      <p>
        Server status: <strong>{health ? health.status : 'checking…'}</strong>
      </p>
      <p>
        <a href="/docs">REST API documentation</a>
      </p>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
