import type { Attachment, Message } from '@parley/protocol';
import { useState, type KeyboardEvent } from 'react';
import { describeError } from '../../api/errors';
import { Avatar } from '../../components/Avatar';
import type { PendingMessage } from '../../store/chat';
import { useMe } from '../auth/me';
import { discardPending, retryPending } from '../composer/sendActions';
import { MessageText } from './MessageText';
import { quoteText } from './ReplyQuote';
import { endEdit } from './messageUi';
import { editMessage } from './timelineActions';

/** The box a thumbnail is fitted into, keeping its aspect ratio (so layout never jumps when it loads). */
const THUMB_BOX = 280;

function thumbSize(a: Pick<Attachment, 'width' | 'height'>): { width: number; height: number } {
  const w = a.width || THUMB_BOX;
  const h = a.height || THUMB_BOX;
  const scale = Math.min(1, THUMB_BOX / w, THUMB_BOX / h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

export function Thumbnail({
  attachment,
  author,
  onOpen,
}: {
  attachment: Attachment;
  author: string;
  onOpen(a: Attachment): void;
}) {
  const size = thumbSize(attachment);
  if (attachment.expired) {
    return <p className="image-expired">Image no longer available (images are kept for a limited time).</p>;
  }
  return (
    <button type="button" className="thumb" onClick={() => onOpen(attachment)} title="Open full size">
      <img
        src={attachment.thumbnailUrl}
        alt={`Image from ${author}, open full size`}
        width={size.width}
        height={size.height}
        loading="lazy"
        decoding="async"
      />
    </button>
  );
}

/** The edit box in place of a message's text: Enter saves, Escape (or Cancel) leaves the text as it was. */
export function EditBox({ message }: { message: Message }) {
  const onDone = endEdit;
  const [text, setText] = useState(message.text);
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    const next = text.trim();
    if (!next || next === message.text) return onDone();
    try {
      await editMessage(message, next);
      onDone();
    } catch (err) {
      setError(describeError(err));
    }
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      onDone();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void save();
    }
  };
  return (
    <div className="edit-box">
      <textarea
        aria-label="Edit text"
        value={text}
        rows={Math.min(8, text.split('\n').length + 1)}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKey}
        autoFocus
      />
      {error && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <div className="edit-actions">
        <span className="muted">Enter to save · Escape to cancel</span>
        <button type="button" className="button tiny" onClick={onDone}>
          Cancel
        </button>
        <button type="button" className="button tiny primary" onClick={() => void save()}>
          Save
        </button>
      </div>
    </div>
  );
}

/** Our own message on its way: shown at once, then replaced by the stored copy; failures offer a retry. */
export function PendingItem({ pending, continued }: { pending: PendingMessage; continued: boolean }) {
  const me = useMe();
  if (!me) return null;
  const preview = pending.previewUrl ?? pending.attachment?.thumbnailUrl ?? null;
  const size = pending.attachment ? thumbSize(pending.attachment) : { width: 200, height: 150 };
  return (
    <article
      className={`message mine pending${continued ? ' continued' : ''}${pending.status === 'failed' ? ' failed' : ''}`}
      aria-busy={pending.status === 'sending'}
    >
      <div className="gutter">{continued ? null : <Avatar user={me} />}</div>
      <div className="message-main">
        {continued ? (
          <span className="sr-only">{me.displayName}</span>
        ) : (
          <header className="message-meta">
            <span className="author-name">{me.displayName}</span>
          </header>
        )}
        {pending.replyTo && (
          <p className="reply-quote">
            <span className="reply-author">{pending.replyTo.author?.displayName ?? 'Someone'}</span>{' '}
            <span className="reply-text">{quoteText(pending.replyTo)}</span>
          </p>
        )}
        {pending.text && <MessageText text={pending.text} />}
        {preview && (
          <img
            className="pending-image"
            src={preview}
            alt="Image being sent"
            width={size.width}
            height={size.height}
          />
        )}
        {pending.status === 'sending' ? (
          <p className="send-status">Sending…</p>
        ) : (
          <div className="send-status failed" role="alert">
            <span>Not sent. {pending.error}</span>
            <button type="button" className="button tiny" onClick={() => retryPending(pending)}>
              Retry
            </button>
            <button type="button" className="button tiny" onClick={() => discardPending(pending)}>
              Discard
            </button>
          </div>
        )}
      </div>
    </article>
  );
}
