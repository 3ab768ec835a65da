import type { ReplyTo } from '@parley/protocol';
import { describeError } from '../../api/errors';
import { setNotice } from '../../store/chat';
import { firstLine } from './quotes';
import { jumpToMessage } from './timelineActions';

/** What a quote shows of its parent: its first line, or what it was when it had no text. */
export function quoteText(q: Pick<ReplyTo, 'text' | 'deleted'>): string {
  if (q.deleted) return 'Original message deleted';
  return firstLine(q.text) || 'Image';
}

/** Opens the parent in context (the same jump search results use), and puts focus on it. */
export function goToParent(roomId: string, parentId: string): void {
  jumpToMessage(roomId, parentId)
    .then(() =>
      requestAnimationFrame(() => {
        const el = document.querySelector<HTMLElement>(`[data-message-id="${parentId}"]`);
        el?.focus({ preventScroll: true });
        // Already highlighted by an earlier jump, the timeline does not move again by itself.
        el?.scrollIntoView({ block: 'center' });
      }),
    )
    .catch((err: unknown) => setNotice(`Could not open the original message: ${describeError(err)}`));
}

/**
 * The message a reply answers, above the reply's text: its author and its start (one or two lines), a button that
 * opens it in context; "Original message deleted" once it is gone.
 */
export function ReplyQuote({ roomId, quote }: { roomId: string; quote: ReplyTo }) {
  const author = quote.author?.displayName ?? 'Someone';
  if (quote.deleted) {
    return (
      <p className="reply-quote deleted">
        <span className="sr-only">In reply to: </span>
        Original message deleted
      </p>
    );
  }
  const text = quoteText(quote);
  return (
    <button
      type="button"
      className="reply-quote"
      aria-label={`In reply to ${author}: ${text}. Show the original message`}
      onClick={() => goToParent(roomId, quote.id)}
    >
      <span className="reply-author">{author}</span>{' '}
      <span className="reply-text">{quote.text.trim() || text}</span>
    </button>
  );
}
