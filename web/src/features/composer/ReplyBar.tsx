import type { Message } from '@parley/protocol';
import { Icon } from '../../components/Icon';
import { firstLine } from '../timeline/quotes';
import { cancelReply } from '../timeline/messageUi';

/** Above the composer while a reply is being written: who and what it answers, and a way out (or Escape). */
export function ReplyBar({ message }: { message: Message }) {
  const author = message.author?.displayName ?? 'Someone';
  const text = firstLine(message.text) || (message.attachment ? 'Image' : '');
  return (
    <div className="reply-bar" role="group" aria-label={`Replying to ${author}`}>
      <Icon name="reply" size={16} />
      <p className="reply-bar-text truncate">
        Replying to <strong>{author}</strong>
        {text && <span className="reply-text">: {text}</span>}
      </p>
      <button
        type="button"
        className="icon-button small"
        aria-label="Cancel reply"
        title="Cancel reply (Escape)"
        onClick={() => {
          cancelReply(message.roomId);
          document.getElementById('composer-input')?.focus();
        }}
      >
        <Icon name="x" size={16} />
      </button>
    </div>
  );
}

/** Your last message in a room that ↑ in an empty composer edits (text, not deleted), or undefined. */
export function lastOwnEditable(messages: readonly Message[], me: string | null): Message | undefined {
  if (!me) return undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.author?.id === me && m.kind === 'text' && !m.deleted && m.text) return m;
  }
  return undefined;
}
