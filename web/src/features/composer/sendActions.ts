import type { Attachment, Message, ReplyTo } from '@parley/protocol';
import { LIMITS } from '../../lib/limits';
import { asApiError, describeError } from '../../api/errors';
import { newClientId } from '../../lib/ids';
import { addMessages, chatStore, updateTimeline, type PendingMessage } from '../../store/chat';
import { emitAck, isConnected } from '../../socket/connection';

/*
 * Optimistic sending. A message shows at once as pending with a clientId; the server's copy replaces it
 * (whichever of the ack and the broadcast comes first). Offline, it waits and goes out on reconnect; a resend
 * with the same clientId is idempotent on the server, so a send whose ack was lost cannot appear twice.
 */

/** Which attempt of each pending message is the current one: late answers to older attempts are ignored. */
const attempts = new Map<string, number>();

export function sendMessage(
  roomId: string,
  text: string,
  attachment: Attachment | null = null,
  previewUrl: string | null = null,
  replyTo: Message | null = null,
): void {
  const pending: PendingMessage = {
    clientId: newClientId(),
    roomId,
    text,
    attachment,
    previewUrl,
    status: 'sending',
    error: null,
    createdAt: new Date().toISOString(),
    ...(replyTo ? { replyTo: quoteOf(replyTo) } : {}),
  };
  updateTimeline(roomId, (t) => ({ pending: [...t.pending, pending] }));
  void deliver(pending);
}

/** The quote a reply shows of its parent (what the server will send back as `replyTo`). */
export function quoteOf(m: Message): ReplyTo {
  return {
    id: m.id,
    author: m.author,
    text: m.deleted ? '' : m.text.slice(0, LIMITS.replyQuoteMax),
    deleted: m.deleted,
  };
}

function setPending(p: PendingMessage, patch: Partial<PendingMessage>): void {
  updateTimeline(p.roomId, (t) => ({
    pending: t.pending.map((x) => (x.clientId === p.clientId ? { ...x, ...patch } : x)),
  }));
}

async function deliver(p: PendingMessage): Promise<void> {
  const attempt = (attempts.get(p.clientId) ?? 0) + 1;
  attempts.set(p.clientId, attempt);
  if (!isConnected()) return; // Sent by flushPending() when the socket is back.
  try {
    const { message } = await emitAck(
      'message:send',
      {
        roomId: p.roomId,
        clientId: p.clientId,
        ...(p.text ? { text: p.text } : {}),
        ...(p.attachment ? { attachmentId: p.attachment.id } : {}),
        ...(p.replyTo ? { replyToId: p.replyTo.id } : {}),
      },
      15_000,
    );
    addMessages(p.roomId, [message]);
    attempts.delete(p.clientId);
  } catch (err) {
    if (attempts.get(p.clientId) !== attempt) return;
    const e = asApiError(err);
    // Lost with the connection: it goes out again on reconnect.
    if ((e.code === 'NETWORK' || e.code === 'TIMEOUT') && !isConnected()) return;
    setPending(p, { status: 'failed', error: sendErrorText(e, p) });
  }
}

function sendErrorText(err: ReturnType<typeof asApiError>, p: PendingMessage): string {
  if (err.code === 'VALIDATION_ERROR' && p.text.trim().length > LIMITS.messageTextMax) {
    return `Too long: ${p.text.trim().length} characters, ${LIMITS.messageTextMax} at most.`;
  }
  if (err.code === 'RATE_LIMITED') return 'You are sending messages too fast. Wait a moment, then retry.';
  if (err.code === 'TIMEOUT') return 'The server did not answer.';
  return describeError(err);
}

/** Every message still waiting goes out (after a reconnect). */
export function flushPending(): void {
  for (const t of Object.values(chatStore.get().timelines)) {
    for (const p of t.pending) if (p.status === 'sending') void deliver(p);
  }
}

export function retryPending(p: PendingMessage): void {
  setPending(p, { status: 'sending', error: null });
  void deliver({ ...p, status: 'sending', error: null });
}

export function discardPending(p: PendingMessage): void {
  attempts.delete(p.clientId);
  if (p.previewUrl) URL.revokeObjectURL(p.previewUrl);
  updateTimeline(p.roomId, (t) => ({ pending: t.pending.filter((x) => x.clientId !== p.clientId) }));
}
