import { useRef, useState, type DragEvent } from 'react';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { Icon } from '../../components/Icon';
import { chatStore, roomTitle } from '../../store/chat';
import { useStore } from '../../store/store';
import { useMe } from '../auth/me';
import { Composer, type ComposerHandle } from '../composer/Composer';
import { TypingIndicator } from '../presence/TypingIndicator';
import { Timeline } from '../timeline/Timeline';
import { NotificationMenu } from './NotificationMenu';
import { joinRoom, leaveRoom } from './roomActions';
import { RoomSettingsDialog } from './RoomSettingsDialog';

interface RoomViewProps {
  roomId: string;
  onOpenRooms(): void;
  onOpenMembers(): void;
  membersOpen: boolean;
  /** Opens message search (the contract's control named "Search"). */
  onSearch(): void;
}

/** The open room: header with its actions, the timeline, who is typing, and the composer (or Join). */
export function RoomView({ roomId, onOpenRooms, onOpenMembers, membersOpen, onSearch }: RoomViewProps) {
  const room = useStore(chatStore, (s) => s.rooms[roomId]);
  // The phone's menu button shows the mentions waiting in the other rooms (the sidebar is closed there).
  const mentionsElsewhere = useStore(chatStore, (s) =>
    Object.values(s.rooms).reduce((n, r) => n + (r.isMember && r.id !== roomId ? r.mentionCount : 0), 0),
  );
  const me = useMe();
  const composer = useRef<ComposerHandle>(null);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [dragging, setDragging] = useState(false);
  const [joining, setJoining] = useState(false);
  const [confirmLeave, setConfirmLeave] = useState(false);

  if (!room || !me) {
    return (
      <div className="empty-room" role="status">
        Loading…
      </div>
    );
  }
  const title = roomTitle(room);
  const isOwner = room.ownerId === me.id && room.kind !== 'direct';
  const canLeave = room.isMember && room.kind !== 'direct' && room.name !== 'general';

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    if (!room.isMember) return;
    const files = [...e.dataTransfer.files];
    if (files.length) composer.current?.attach(files);
  };

  return (
    <section
      className={`room${dragging ? ' dragging' : ''}`}
      aria-labelledby="room-title"
      onDragOver={(e) => {
        if (!room.isMember || !e.dataTransfer.types.includes('Files')) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <header className="room-header">
        <button
          type="button"
          className="icon-button only-narrow"
          aria-label={mentionsElsewhere ? `Open rooms (${mentionsElsewhere} mentions)` : 'Open rooms'}
          onClick={onOpenRooms}
        >
          <Icon name="menu" />
          {mentionsElsewhere > 0 && (
            <span className="badge mention-badge menu-badge" aria-hidden="true">
              @{mentionsElsewhere > 99 ? '99+' : mentionsElsewhere}
            </span>
          )}
        </button>
        <div className="room-heading">
          <h1 id="room-title">
            {room.kind !== 'direct' && (
              <span className="room-icon" aria-hidden="true">
                <Icon name={room.kind === 'private' ? 'lock' : 'hash'} size={18} />
              </span>
            )}
            <span className="truncate">{title}</span>
          </h1>
          {room.description && <p className="room-description truncate">{room.description}</p>}
        </div>
        <div className="room-actions">
          {room.isMember && <NotificationMenu room={room} />}
          {canLeave && (
            <button
              type="button"
              className="button small"
              // A private room cannot be rejoined without its owner: asked first. A public one can, so it is not.
              onClick={() => (room.kind === 'private' ? setConfirmLeave(true) : void leaveRoom(room.id))}
            >
              Leave
            </button>
          )}
          {isOwner && (
            <button
              type="button"
              className="icon-button"
              aria-label="Room settings"
              title="Room settings"
              onClick={() => setSettingsOpen(true)}
            >
              <Icon name="settings" />
            </button>
          )}
          <button
            type="button"
            className="icon-button"
            aria-label="Search"
            title="Search messages (Ctrl+K)"
            aria-keyshortcuts="Control+K Meta+K"
            onClick={onSearch}
          >
            <Icon name="search" />
          </button>
          <button
            type="button"
            className="icon-button members-toggle"
            aria-label={`Members (${room.memberCount})`}
            aria-expanded={membersOpen}
            aria-controls="members-panel"
            onClick={onOpenMembers}
          >
            <Icon name="users" />
            <span className="count" aria-hidden="true">
              {room.memberCount}
            </span>
          </button>
        </div>
      </header>

      <Timeline roomId={room.id} title={title} />
      <TypingIndicator roomId={room.id} />

      {room.isMember ? (
        <Composer
          ref={composer}
          roomId={room.id}
          placeholder={`Message ${room.kind === 'direct' ? title : `#${title}`}`}
        />
      ) : (
        <div className="join-bar">
          <p>
            You are looking at <strong>#{title}</strong>. Join to post messages.
          </p>
          <button
            type="button"
            className="button primary"
            disabled={joining}
            onClick={() => {
              setJoining(true);
              void joinRoom(room.id).finally(() => setJoining(false));
            }}
          >
            Join
          </button>
        </div>
      )}
      {dragging && (
        <div className="drop-hint" aria-hidden="true">
          Drop an image to attach it
        </div>
      )}
      {settingsOpen && <RoomSettingsDialog room={room} onClose={() => setSettingsOpen(false)} />}
      {confirmLeave && (
        <ConfirmDialog
          title={`Leave #${title}?`}
          description="It is a private room: you can come back only if its owner adds you again."
          confirmLabel="Leave room"
          onCancel={() => setConfirmLeave(false)}
          onConfirm={() => {
            setConfirmLeave(false);
            void leaveRoom(room.id);
          }}
        />
      )}
    </section>
  );
}
