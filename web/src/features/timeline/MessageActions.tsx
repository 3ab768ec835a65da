import type { Message } from '@parley/protocol';
import { useCallback, useRef, useState } from 'react';
import { describeError } from '../../api/errors';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { Icon } from '../../components/Icon';
import { setNotice } from '../../store/chat';
import { AddReactionButton, ReactionPicker } from '../reactions/ReactionChips';
import { canAddReaction } from '../reactions/reactionLogic';
import { MessageMenu, type MenuItem } from './MessageMenu';
import { startEdit, startReply } from './messageUi';
import { deleteMessage } from './timelineActions';

/** The address that opens the room at this message (ChatApp reads `around`, as a search result's jump does). */
export const messageLink = (m: Pick<Message, 'roomId' | 'id'>): string =>
  `${location.origin}/rooms/${m.roomId}?around=${m.id}`;

export async function copyLink(m: Message): Promise<void> {
  try {
    await navigator.clipboard.writeText(messageLink(m));
    setNotice('Link to the message copied.');
  } catch {
    setNotice('Could not copy the link: the browser did not allow it.');
  }
}

export interface MessageAbilities {
  canReact: boolean;
  canEdit: boolean;
  canDelete: boolean;
}

/**
 * The toolbar a message shows on hover and focus (React, Reply, Edit, Delete, and "More actions" with all of
 * them and Copy link). Kept in the tab order (hidden by opacity only) so that a keyboard reaches each.
 */
export function MessageActions({
  message,
  can,
  menuOpen,
  setMenuOpen,
}: {
  message: Message;
  can: MessageAbilities;
  menuOpen: boolean;
  setMenuOpen(open: boolean): void;
}) {
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [picking, setPicking] = useState(false);
  const menuButton = useRef<HTMLButtonElement>(null);
  const describedBy = message.text ? `msg-${message.id}-text` : undefined;
  const closePicker = useCallback(() => {
    setPicking(false);
    menuButton.current?.focus();
  }, []);
  const remove = () => {
    setConfirmDelete(false);
    deleteMessage(message).catch((err: unknown) => setNotice(`Not deleted: ${describeError(err)}`));
  };

  const items: MenuItem[] = [];
  if (can.canReact) {
    items.push({ label: 'Reply', onSelect: () => startReply(message) });
    if (canAddReaction(message.reactions ?? []))
      items.push({ label: 'Add reaction', onSelect: () => setPicking(true) });
  }
  if (can.canEdit && message.text) items.push({ label: 'Edit', onSelect: () => startEdit(message.id) });
  if (can.canDelete) items.push({ label: 'Delete', danger: true, onSelect: () => setConfirmDelete(true) });
  if (!message.deleted) items.push({ label: 'Copy link', onSelect: () => void copyLink(message) });
  if (!items.length) return null;

  return (
    <>
      <div className={`message-actions${menuOpen || picking ? ' open' : ''}`}>
        {can.canReact && (
          <>
            <AddReactionButton message={message} />
            <button
              type="button"
              className="icon-button small"
              aria-label="Reply"
              title="Reply (R)"
              aria-describedby={describedBy}
              onClick={() => startReply(message)}
            >
              <Icon name="reply" size={16} />
            </button>
          </>
        )}
        {can.canEdit && message.text && (
          <button
            type="button"
            className="button tiny"
            title="Edit (E)"
            aria-describedby={describedBy}
            onClick={() => startEdit(message.id)}
          >
            Edit
          </button>
        )}
        {can.canDelete && (
          <button
            type="button"
            className="button tiny"
            aria-describedby={describedBy}
            onClick={() => setConfirmDelete(true)}
          >
            Delete
          </button>
        )}
        <MessageMenu
          items={items}
          open={menuOpen}
          onOpenChange={setMenuOpen}
          describedBy={describedBy}
          buttonRef={menuButton}
        />
        {picking && <ReactionPicker message={message} onClose={closePicker} anchor={menuButton} />}
      </div>
      {confirmDelete && (
        <ConfirmDialog
          title="Delete this message?"
          description="It is deleted for everyone in the room."
          confirmLabel="Delete message"
          onCancel={() => setConfirmDelete(false)}
          onConfirm={remove}
        />
      )}
    </>
  );
}
