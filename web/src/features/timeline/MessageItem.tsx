import type { Attachment, Message, Room, User } from '@parley/protocol';
import { memo, useState, type KeyboardEvent } from 'react';
import { describeError } from '../../api/errors';
import { Avatar } from '../../components/Avatar';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { formatFull, formatTime } from '../../lib/time';
import { setNotice, type PendingMessage } from '../../store/chat';
import { useMe } from '../auth/me';
import { discardPending, retryPending } from '../composer/sendActions';
import { openDm } from '../rooms/roomActions';
import { MessageText } from './MessageText';
import { deleteMessage, editMessage } from './timelineActions';

/** The box a thumbnail is fitted into, keeping its aspect ratio (so layout never jumps when it loads). */
const THUMB_BOX = 280;

function thumbSize(a: Pick<Attachment, 'width' | 'height'>): { width: number; height: number } {
  const w = a.width || THUMB_BOX;
  const h = a.height || THUMB_BOX;
  const scale = Math.min(1, THUMB_BOX / w, THUMB_BOX / h);
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

const nameOf = (u: User | null) => u?.displayName ?? 'Someone';

function AuthorName({ user, isMe }: { user: User | null; isMe: boolean }) {
  if (!user || isMe) return <span className="author-name">{nameOf(user)}</span>;
  return (
    <button
      type="button"
      className="author-name"
      title={`Direct conversation with ${user.displayName} (@${user.username})`}
      onClick={() => void openDm(user.id)}
    >
      {user.displayName}
    </button>
  );
}

function Stamp({ at }: { at: string }) {
  return (
    <time className="stamp" dateTime={at} title={formatFull(at)}>
      {formatTime(at)}
    </time>
  );
}

interface MessageItemProps {
  message: Message;
  continued: boolean;
  room: Room | undefined;
  /** The message a search result jumped to. */
  highlighted?: boolean;
  onOpenImage(a: Attachment): void;
}

/** One message: an `article` with its author's name (visually hidden when grouped) and its text. */
export const MessageItem = memo(function MessageItem({
  message,
  continued,
  room,
  highlighted = false,
  onOpenImage,
}: MessageItemProps) {
  const me = useMe();
  const [editing, setEditing] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const author = message.author;
  const name = nameOf(author);

  if (message.kind === 'system') {
    return (
      <article className={`system-message event-${message.event ?? 'other'}`} data-message-id={message.id}>
        <p>
          <span className="author-name">{name}</span> {message.text} <Stamp at={message.createdAt} />
        </p>
      </article>
    );
  }

  const mine = Boolean(me && author?.id === me.id);
  const mentionsMe = Boolean(me && message.mentions?.includes(me.id));
  const owner = Boolean(me && room && room.kind !== 'direct' && room.ownerId === me.id);
  const canEdit = mine && !message.deleted;
  const canDelete = !message.deleted && (mine || owner);

  const remove = () => {
    setConfirmDelete(false);
    deleteMessage(message).catch((err: unknown) => setNotice(`Not deleted: ${describeError(err)}`));
  };

  return (
    <article
      className={`message${continued ? ' continued' : ''}${mine ? ' mine' : ''}${highlighted ? ' highlighted' : ''}${mentionsMe ? ' mentions-me' : ''}`}
      data-message-id={message.id}
      aria-current={highlighted ? 'true' : undefined}
      tabIndex={canEdit || canDelete ? -1 : undefined}
    >
      <div className="gutter">
        {continued ? <Stamp at={message.createdAt} /> : author && <Avatar user={author} />}
      </div>
      <div className="message-main">
        {continued ? (
          <span className="sr-only">{name}</span>
        ) : (
          <header className="message-meta">
            <AuthorName user={author} isMe={mine} />
            <Stamp at={message.createdAt} />
          </header>
        )}
        {message.deleted ? (
          <p className="message-text deleted-text">This message was deleted.</p>
        ) : editing ? (
          <EditBox message={message} onDone={() => setEditing(false)} />
        ) : (
          <>
            {message.text && (
              <MessageText
                text={message.text}
                id={`msg-${message.id}-text`}
                mentions={{
                  anyMention: (message.mentions?.length ?? 0) > 0,
                  mentionsMe,
                  myUsername: me?.username ?? null,
                }}
                trailer={
                  mentionsMe || message.editedAt ? (
                    <>
                      {mentionsMe && <span className="sr-only"> (mentions you)</span>}
                      {message.editedAt && (
                        <span className="edited" title={`Edited ${formatFull(message.editedAt)}`}>
                          {' '}
                          (edited)
                        </span>
                      )}
                    </>
                  ) : undefined
                }
              />
            )}
            {message.attachment && (
              <Thumbnail attachment={message.attachment} author={name} onOpen={onOpenImage} />
            )}
          </>
        )}
      </div>
      {(canEdit || canDelete) && !editing && (
        <div className="message-actions">
          {canEdit && message.text && (
            <button
              type="button"
              className="button tiny"
              aria-describedby={message.text ? `msg-${message.id}-text` : undefined}
              onClick={() => setEditing(true)}
            >
              Edit
            </button>
          )}
          {canDelete && (
            <button
              type="button"
              className="button tiny"
              aria-describedby={message.text ? `msg-${message.id}-text` : undefined}
              onClick={() => setConfirmDelete(true)}
            >
              Delete
            </button>
          )}
        </div>
      )}
      {confirmDelete && (
        <ConfirmDialog
          title="Delete this message?"
          description="It is deleted for everyone in the room."
          confirmLabel="Delete message"
          onCancel={() => setConfirmDelete(false)}
          onConfirm={remove}
        />
      )}
    </article>
  );
});

function Thumbnail({
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

function EditBox({ message, onDone }: { message: Message; onDone(): void }) {
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
