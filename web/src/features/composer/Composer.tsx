import { LIMITS } from '../../lib/limits';
import {
  lazy,
  Suspense,
  useCallback,
  useEffect,
  useImperativeHandle,
  useLayoutEffect,
  useRef,
  useState,
  type ClipboardEvent,
  type FormEvent,
  type KeyboardEvent,
  type Ref,
} from 'react';
import { IMAGE_TYPES } from '../../api/upload';
import { Icon } from '../../components/Icon';
import { shortcodeQuery } from '../../lib/emojiText';
import { mentionQuery } from '../../lib/mentions';
import { chatStore } from '../../store/chat';
import { useStore } from '../../store/store';
import { useMe } from '../auth/me';
import { shortcodeSuggestions, useEmojiData } from '../emoji/emojiData';
import { recentEmoji, rememberEmoji } from '../emoji/recent';
import { stopTyping, typingActivity } from '../presence/presenceActions';
import { EmojiSuggestions, type EmojiSuggestion } from './EmojiSuggestions';
import { MentionSuggestions, suggestionsFor, type Suggestion } from './MentionSuggestions';
import { cancelReply, messageUi, startEdit } from '../timeline/messageUi';
import { lastOwnEditable, ReplyBar } from './ReplyBar';
import { sendMessage } from './sendActions';
import { useImageUpload } from './useImageUpload';

export interface ComposerHandle {
  attach(files: File[]): void;
}

/** The picker and its data are loaded when first opened: the first page load does not carry them. */
const EmojiPicker = lazy(() => import('../emoji/EmojiPicker'));

/** Drafts survive switching rooms (not signing out). */
const drafts = new Map<string, string>();

export function clearDrafts(): void {
  drafts.clear();
}
const MAX_HEIGHT = 200;
const WARN_AT = LIMITS.messageTextMax - 500;

/**
 * Writing a message: Enter sends, Shift+Enter starts a new line. An image comes by the button, by pasting or
 * by dropping it on the room; it uploads with a progress bar and goes with the next message.
 */
export function Composer({
  roomId,
  placeholder,
  ref,
}: {
  roomId: string;
  placeholder: string;
  ref?: Ref<ComposerHandle>;
}) {
  const [text, setText] = useState(() => drafts.get(roomId) ?? '');
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const { upload, problem, setProblem, attach, clear, take } = useImageUpload();

  useImperativeHandle(ref, () => ({ attach }), [attach]);

  // The `@` autocomplete: the partial name before the caret, matched against the room's members.
  const me = useMe();
  const members = useStore(chatStore, (s) => s.members[roomId]);
  const room = useStore(chatStore, (s) => s.rooms[roomId]);
  const replying = useStore(messageUi, (s) => s.replying[roomId]);
  const [caret, setCaret] = useState<number | null>(null);
  const [active, setActive] = useState(0);
  const [dismissed, setDismissed] = useState<number | null>(null);
  const query = caret === null ? null : mentionQuery(text, caret);
  const suggestions: Suggestion[] =
    query && query.start !== dismissed
      ? suggestionsFor(members, query.query, {
          meId: me?.id ?? null,
          offerRoom: Boolean(room && room.kind !== 'direct' && me && room.ownerId === me.id),
        })
      : [];
  const showList = suggestions.length > 0;

  // The `:sho` autocomplete: emoji whose shortcode starts with what follows the colon (the data loads on the way).
  const colon = caret === null || showList ? null : shortcodeQuery(text, caret);
  const emojiData = useEmojiData(colon !== null);
  const emojiItems: EmojiSuggestion[] =
    colon && colon.start !== dismissed && emojiData
      ? shortcodeSuggestions(emojiData, colon.query, recentEmoji())
      : [];
  const [pickerOpen, setPickerOpen] = useState(false);
  const emojiButton = useRef<HTMLButtonElement>(null);

  const listKind = showList ? 'mention' : emojiItems.length > 0 ? 'emoji' : null;
  const listLength = showList ? suggestions.length : emojiItems.length;
  const listId = `${listKind ?? 'mention'}s-${roomId}`;
  const activeIndex = Math.min(active, Math.max(0, listLength - 1));

  /** Replaces text[start, end) by `insert` and puts the caret after it. */
  const replace = (start: number, end: number, insert: string) => {
    const at = start + insert.length;
    setText(text.slice(0, start) + insert + text.slice(end));
    setCaret(at);
    setActive(0);
    requestAnimationFrame(() => {
      input.current?.focus();
      input.current?.setSelectionRange(at, at);
    });
  };
  const pick = (s: Suggestion) => {
    if (query && caret !== null) replace(query.start, caret, `@${s.username} `);
  };
  const pickEmoji = (s: EmojiSuggestion) => {
    if (!colon || caret === null) return;
    rememberEmoji(s.entry.emoji);
    replace(colon.start, caret, `${s.entry.emoji} `);
  };
  const insertEmoji = (emoji: string) => {
    setPickerOpen(false);
    const ta = input.current;
    replace(ta?.selectionStart ?? text.length, ta?.selectionEnd ?? text.length, emoji);
  };
  const closePicker = useCallback(() => {
    setPickerOpen(false);
    emojiButton.current?.focus();
  }, []);
  const trackCaret = () => setCaret(input.current?.selectionStart ?? null);

  useEffect(() => {
    drafts.set(roomId, text);
  }, [roomId, text]);

  useEffect(() => () => stopTyping(), []);

  useLayoutEffect(() => {
    const ta = input.current;
    if (!ta) return;
    ta.style.height = 'auto';
    ta.style.height = `${Math.min(ta.scrollHeight, MAX_HEIGHT)}px`;
  }, [text]);

  const length = text.trim().length;
  const tooLong = length > LIMITS.messageTextMax;

  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    const body = text.trim();
    if (upload?.status === 'uploading') {
      setError('Wait for the image to finish uploading.');
      return;
    }
    if (!body && upload?.status !== 'ready') return;
    if (tooLong) {
      setError(`Too long: ${length} characters, ${LIMITS.messageTextMax} at most.`);
      return;
    }
    const image = take();
    sendMessage(roomId, body, image?.attachment ?? null, image?.previewUrl ?? null, replying ?? null);
    cancelReply(roomId);
    setText('');
    setError(null);
    setProblem(null);
    stopTyping();
    input.current?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (listKind && !e.nativeEvent.isComposing) {
      const n = listLength;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setActive((activeIndex + (e.key === 'ArrowDown' ? 1 : n - 1)) % n);
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        if (listKind === 'mention') pick(suggestions[activeIndex]!);
        else pickEmoji(emojiItems[activeIndex]!);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        setDismissed(listKind === 'mention' ? query!.start : colon!.start);
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && replying) {
      e.preventDefault();
      cancelReply(roomId);
    } else if (e.key === 'ArrowUp' && !text && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      // As in Slack: ↑ in an empty box edits your last message here.
      const last = lastOwnEditable(chatStore.get().timelines[roomId]?.messages ?? [], me?.id ?? null);
      if (last) {
        e.preventDefault();
        startEdit(last.id, true);
      }
    }
  };

  const onPaste = (e: ClipboardEvent<HTMLTextAreaElement>) => {
    const files = [...e.clipboardData.files].filter((f) => f.type.startsWith('image/'));
    if (files.length) {
      e.preventDefault();
      attach(files);
    }
  };

  const shownError = error ?? problem;
  return (
    <form className="composer" onSubmit={submit}>
      {upload && (
        <div className="attachment-preview">
          <img src={upload.previewUrl} alt="" width={56} height={56} />
          <div className="attachment-info">
            <span className="truncate">{upload.name}</span>
            {upload.status === 'uploading' ? (
              <progress
                max={100}
                value={Math.round(upload.progress * 100)}
                aria-label={`Uploading ${upload.name}`}
              />
            ) : (
              <span className="muted">Ready to send</span>
            )}
          </div>
          <button
            type="button"
            className="icon-button small"
            aria-label="Remove image"
            onClick={() => clear()}
          >
            <Icon name="x" size={16} />
          </button>
        </div>
      )}
      {replying && <ReplyBar message={replying} />}
      <div className="composer-error" role="alert">
        {shownError}
      </div>
      {listKind === 'mention' && (
        <MentionSuggestions id={listId} items={suggestions} active={activeIndex} onPick={pick} />
      )}
      {listKind === 'emoji' && (
        <EmojiSuggestions id={listId} items={emojiItems} active={activeIndex} onPick={pickEmoji} />
      )}
      {pickerOpen && (
        <Suspense
          fallback={
            <p className="emoji-picker emoji-status" role="status">
              Loading emoji…
            </p>
          }
        >
          <EmojiPicker onPick={insertEmoji} onClose={closePicker} />
        </Suspense>
      )}
      <p className="sr-only" aria-live="polite">
        {listKind === 'mention'
          ? `${listLength} ${listLength === 1 ? 'person' : 'people'} to mention`
          : listKind === 'emoji'
            ? `${listLength} emoji`
            : ''}
      </p>
      <div className="composer-row">
        <button
          type="button"
          className="icon-button"
          aria-label="Attach image"
          title="Attach image (or paste or drop one)"
          onClick={() => fileInput.current?.click()}
        >
          <Icon name="paperclip" />
        </button>
        <button
          ref={emojiButton}
          type="button"
          className="icon-button"
          aria-label="Emoji"
          title="Emoji (or type : and a name)"
          aria-haspopup="dialog"
          aria-expanded={pickerOpen}
          data-emoji-toggle=""
          onClick={() => setPickerOpen((open) => !open)}
        >
          <Icon name="smile" />
        </button>
        <input
          ref={fileInput}
          type="file"
          accept={IMAGE_TYPES.join(',')}
          hidden
          onChange={(e) => {
            attach([...(e.target.files ?? [])]);
            e.target.value = '';
          }}
        />
        <textarea
          ref={input}
          id="composer-input"
          className="composer-input"
          aria-label="Message"
          aria-invalid={tooLong || undefined}
          aria-autocomplete="list"
          aria-controls={listKind ? listId : undefined}
          aria-activedescendant={listKind ? `${listId}-${activeIndex}` : undefined}
          placeholder={placeholder}
          rows={1}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            setCaret(e.target.selectionStart);
            setActive(0);
            if (error) setError(null);
            if (e.target.value.trim()) typingActivity(roomId);
            else stopTyping();
          }}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
          onBlur={() => stopTyping()}
          onSelect={trackCaret}
          onClick={trackCaret}
          enterKeyHint="send"
        />
        <button
          type="submit"
          className="send-button"
          aria-label="Send"
          title="Send (Enter)"
          disabled={(!text.trim() && upload?.status !== 'ready') || upload?.status === 'uploading'}
        >
          <Icon name="send" />
        </button>
      </div>
      {length > WARN_AT && (
        <p className={`char-count${tooLong ? ' over' : ''}`} aria-live="polite">
          {length} / {LIMITS.messageTextMax}
        </p>
      )}
    </form>
  );
}
