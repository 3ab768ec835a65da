import { useMemo } from 'react';
import { chatStore } from '../../store/chat';
import { useStore } from '../../store/store';

/** "Ana is typing…" under the timeline. */
export function TypingIndicator({ roomId }: { roomId: string }) {
  const typing = useStore(chatStore, (s) => s.typing[roomId]);
  const text = useMemo(() => {
    const names = Object.values(typing ?? {}).map((u) => u.displayName);
    if (names.length === 0) return '';
    if (names.length === 1) return `${names[0]} is typing…`;
    if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
    return 'Several people are typing…';
  }, [typing]);
  return (
    <div className="typing-indicator" role="status" aria-live="polite">
      {text && (
        <>
          <span className="typing-dots" aria-hidden="true">
            <span />
            <span />
            <span />
          </span>
          {text}
        </>
      )}
    </div>
  );
}
