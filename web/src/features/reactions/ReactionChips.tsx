import type { Message, Reaction } from '@parley/protocol';
import {
  lazy,
  Suspense,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type CSSProperties,
  type RefObject,
} from 'react';
import { Icon } from '../../components/Icon';
import { chatStore } from '../../store/chat';
import { useStore } from '../../store/store';
import { myId, useMe } from '../auth/me';
import { useLongPress } from '../timeline/useLongPress';
import { setReaction } from './reactionActions';
import { canAddReaction, hasReacted, reactionEmoji, reactionLabel, reactionTooltip } from './reactionLogic';
import { useReactionNames, type NameOf } from './reactionNames';

const EmojiPicker = lazy(() => import('../emoji/EmojiPicker'));

/** Names of the people the client knows in a room: its members, the authors it holds, whoever is online. */
function useNameOf(roomId: string): NameOf {
  const names = useReactionNames();
  const members = useStore(chatStore, (s) => s.members[roomId]);
  const messages = useStore(chatStore, (s) => s.timelines[roomId]?.messages);
  const online = useStore(chatStore, (s) => s.online);
  return useMemo(() => names.lookup({ members, messages, online }), [names, members, messages, online]);
}

function Chip({ message, reaction }: { message: Message; reaction: Reaction }) {
  const me = useMe();
  const nameOf = useNameOf(message.roomId);
  const [showWho, setShowWho] = useState(false);
  const mine = hasReacted(reaction, me?.id ?? null);
  const tip = reactionTooltip(reaction, me?.id ?? null, nameOf);
  const tipId = `reaction-${message.id}-${reaction.emoji}`;
  // A long press on a phone shows who reacted (there is no hover there) instead of toggling.
  const press = useLongPress<HTMLButtonElement>(() => setShowWho(true));
  useEffect(() => {
    if (!showWho) return;
    const hide = () => setShowWho(false);
    document.addEventListener('pointerdown', hide);
    return () => document.removeEventListener('pointerdown', hide);
  }, [showWho]);
  return (
    <span className={`reaction-chip-wrap${showWho ? ' show-who' : ''}`}>
      <button
        type="button"
        className={`reaction-chip${mine ? ' mine' : ''}`}
        aria-pressed={mine}
        aria-label={reactionLabel(reaction, me?.id ?? null)}
        aria-describedby={tipId}
        {...press.handlers}
        onClick={() => {
          if (press.consumeLongPress()) return;
          void setReaction(message, reaction.emoji, !mine);
        }}
        onBlur={() => setShowWho(false)}
      >
        <span aria-hidden="true">{reaction.emoji}</span>
        <span className="reaction-count" aria-hidden="true">
          {reaction.count}
        </span>
      </button>
      <span role="tooltip" id={tipId} className="reaction-tooltip">
        {tip}
      </span>
    </span>
  );
}

/**
 * Open the emoji picker to react; the button says when a message holds all the distinct emoji it may (the
 * server's limit), rather than letting the pick fail.
 */
export function AddReactionButton({
  message,
  className = 'icon-button small',
  onOpened,
}: {
  message: Message;
  className?: string;
  onOpened?(): void;
}) {
  const [open, setOpen] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const full = !canAddReaction(message.reactions ?? []);
  const close = useCallback(() => {
    setOpen(false);
    button.current?.focus();
  }, []);
  return (
    <span className="add-reaction">
      <button
        ref={button}
        type="button"
        className={className}
        aria-label="Add reaction"
        title={full ? 'This message has 20 different reactions already' : 'Add reaction'}
        aria-disabled={full || undefined}
        aria-haspopup="dialog"
        aria-expanded={open}
        data-emoji-toggle=""
        onClick={() => {
          if (full) return;
          setOpen((o) => !o);
          onOpened?.();
        }}
      >
        <Icon name="smile" size={16} />
      </button>
      {open && <ReactionPicker message={message} onClose={close} anchor={button} />}
    </span>
  );
}

/** Where a popup fixed to the viewport goes next to `anchor`: below it, or above it in the lower half. */
function placeBy(anchor: HTMLElement | null): CSSProperties {
  if (!anchor) return {};
  const r = anchor.getBoundingClientRect();
  const right = Math.max(8, window.innerWidth - r.right);
  return r.top > window.innerHeight / 2
    ? { right, bottom: Math.max(8, window.innerHeight - r.top + 4) }
    : { right, top: r.bottom + 4 };
}

/**
 * The shared emoji picker, picking a reaction (recently used first, as in the composer). Fixed to the viewport
 * beside what opened it: a popup inside the timeline's scroller would be clipped at its edges.
 */
export function ReactionPicker({
  message,
  onClose,
  anchor,
}: {
  message: Message;
  onClose(): void;
  anchor: RefObject<HTMLElement | null>;
}) {
  const [place, setPlace] = useState<CSSProperties>({});
  useLayoutEffect(() => setPlace(placeBy(anchor.current)), [anchor]);
  return (
    <div className="reaction-picker-frame" style={place}>
      <Suspense
        fallback={
          <p className="emoji-picker emoji-status reaction-picker" role="status">
            Loading emoji…
          </p>
        }
      >
        <EmojiPicker
          className="reaction-picker"
          onPick={(emoji) => {
            onClose();
            // Picking one we already gave keeps it (as Discord does); its chip takes it back.
            const mine = message.reactions?.some(
              (r) => r.emoji === reactionEmoji(emoji) && hasReacted(r, myId()),
            );
            if (!mine) void setReaction(message, emoji, true);
          }}
          onClose={onClose}
        />
      </Suspense>
    </div>
  );
}

/** A message's reactions as toggle chips (emoji and count), then "Add reaction". */
export function ReactionChips({ message, canReact }: { message: Message; canReact: boolean }) {
  const reactions = message.reactions ?? [];
  if (!reactions.length) return null;
  return (
    <div className="reactions" role="group" aria-label="Reactions">
      {reactions.map((r) =>
        canReact ? (
          <Chip key={r.emoji} message={message} reaction={r} />
        ) : (
          <span key={r.emoji} className="reaction-chip" title={`${r.count} reacted with ${r.emoji}`}>
            {r.emoji} {r.count}
          </span>
        ),
      )}
      {canReact && <AddReactionButton message={message} className="reaction-chip add" />}
    </div>
  );
}
