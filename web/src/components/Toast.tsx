import { useEffect } from 'react';
import { chatStore, setNotice } from '../store/chat';
import { useStore } from '../store/store';

/** One passing notice at a time ("You were removed from #design"). */
export function Toast() {
  const notice = useStore(chatStore, (s) => s.notice);
  useEffect(() => {
    if (!notice) return;
    const t = setTimeout(() => setNotice(null), 7000);
    return () => clearTimeout(t);
  }, [notice]);
  return (
    <div className="toast-region" role="status" aria-live="polite">
      {notice && (
        <div className="toast">
          <span>{notice}</span>
          <button type="button" className="link-button" onClick={() => setNotice(null)}>
            Dismiss
          </button>
        </div>
      )}
    </div>
  );
}
