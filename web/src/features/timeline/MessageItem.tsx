import type { Attachment, Message, Room, User } from '@parley/protocol';
import { memo, useState, type KeyboardEvent } from 'react';
import { Avatar } from '../../components/Avatar';
import { formatFull, formatTime } from '../../lib/time';
import { useStore } from '../../store/store';
import { useMe } from '../auth/me';
import { ReactionChips } from '../reactions/ReactionChips';
import { openDm } from '../rooms/roomActions';
import { MessageActions } from './MessageActions';
import { EditBox, Thumbnail } from './MessageParts';
import { MessageText } from './MessageText';
import { messageUi, startEdit, startReply } from './messageUi';
import { ReplyQuote } from './ReplyQuote';
import { useLongPress } from './useLongPress';

export { PendingItem } from './MessageParts';

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
  /** The message a search result (or a reply's quote) jumped to. */
  highlighted?: boolean;
  onOpenImage(a: Attachment): void;
}

/**
 * One message: an `article` with its author's name (visually hidden when grouped), the message it answers, its
 * text and its reactions. It takes focus (the log's arrow keys move between messages); then R replies, E edits
 * your own, Enter opens its menu. A long press on a phone opens the menu too.
 */
export const MessageItem = memo(function MessageItem({
  message,
  continued,
  room,
  highlighted = false,
  onOpenImage,
}: MessageItemProps) {
  const me = useMe();
  const editing = useStore(messageUi, (s) => s.editing?.id === message.id);
  const [menuOpen, setMenuOpen] = useState(false);
  // Not from a reaction chip (its own long press shows who reacted) nor the edit box.
  const press = useLongPress<HTMLElement>((el) => {
    if (editing) return;
    el.focus({ preventScroll: true });
    setMenuOpen(true);
  }, '.reaction-chip, textarea, .menu, .emoji-picker');
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
  const can = {
    canReact: Boolean(room?.isMember) && !message.deleted,
    canEdit: mine && !message.deleted,
    canDelete: !message.deleted && (mine || owner),
  };

  const onKeyDown = (e: KeyboardEvent<HTMLElement>) => {
    // Only with the message itself focused: typing in its edit box or a control inside is not a shortcut.
    if (e.target !== e.currentTarget || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key === 'r' && can.canReact) {
      e.preventDefault();
      startReply(message);
    } else if (key === 'e' && can.canEdit && message.text) {
      e.preventDefault();
      startEdit(message.id);
    } else if (e.key === 'Enter' || e.key === 'ContextMenu' || (e.key === 'F10' && e.shiftKey)) {
      e.preventDefault();
      setMenuOpen(true);
    }
  };

  return (
    <article
      className={`message${continued ? ' continued' : ''}${mine ? ' mine' : ''}${highlighted ? ' highlighted' : ''}${mentionsMe ? ' mentions-me' : ''}${menuOpen ? ' menu-open' : ''}`}
      data-message-id={message.id}
      aria-current={highlighted ? 'true' : undefined}
      tabIndex={-1}
      onKeyDown={onKeyDown}
      {...press.handlers}
      onClickCapture={(e) => {
        // The click a long press's release brings must not also press what was under the finger.
        if (press.consumeLongPress()) e.stopPropagation();
      }}
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
        {message.replyTo && !message.deleted && (
          <ReplyQuote roomId={message.roomId} quote={message.replyTo} />
        )}
        {message.deleted ? (
          <p className="message-text deleted-text">This message was deleted.</p>
        ) : editing ? (
          <EditBox message={message} />
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
        {!message.deleted && <ReactionChips message={message} canReact={can.canReact} />}
      </div>
      {!editing && (
        <MessageActions message={message} can={can} menuOpen={menuOpen} setMenuOpen={setMenuOpen} />
      )}
    </article>
  );
});
