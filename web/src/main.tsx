import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app/App';
import { restoreSession } from './features/auth/session';
import { applyStoredTheme } from './features/settings/theme';
import './styles/base.css';
import './styles/controls.css';
import './styles/auth.css';
import './styles/layout.css';
import './styles/panels.css';
import './styles/timeline.css';
import './styles/composer.css';
import './styles/richtext.css';
import './styles/settings.css';

applyStoredTheme();
void restoreSession();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
