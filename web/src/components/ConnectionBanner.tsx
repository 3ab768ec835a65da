import { useEffect, useState } from 'react';
import { chatStore } from '../store/chat';
import { useStore } from '../store/store';

const TEXT = 'Reconnecting… Messages you send will go out when the connection is back.';

/** "Reconnecting…", shown once the connection has been gone for a moment (quick blips stay silent). */
export function ConnectionBanner() {
  const status = useStore(chatStore, (s) => s.connection);
  const [show, setShow] = useState(false);
  useEffect(() => {
    if (status !== 'reconnecting') {
      setShow(false);
      return;
    }
    const t = setTimeout(() => setShow(true), 700);
    return () => clearTimeout(t);
  }, [status]);
  return (
    <div className="connection-banner" role="status" aria-live="polite">
      {show && (
        <p title={TEXT}>
          <span className="spinner" aria-hidden="true" />
          <span className="banner-text">{TEXT}</span>
        </p>
      )}
    </div>
  );
}
