import type { Message } from '@parley/protocol';
import { createStore } from '../../store/store';

/*
 * What the timeline and the composer share about messages being acted on: the message being answered (the bar
 * above the composer) and the one being edited (↑ in the composer opens it, the message's menu too).
 */
export interface MessageUiState {
  /** roomId → the message the next send answers. */
  replying: Record<string, Message | undefined>;
  /** The message whose text is open for editing; `fromComposer` sends focus back there when it closes. */
  editing: { id: string; fromComposer: boolean } | null;
}

export const messageUi = createStore<MessageUiState>({ replying: {}, editing: null });

/** Answer `m` with the next message of its room (and put the caret in the composer). */
export function startReply(m: Message): void {
  messageUi.set((s) => ({ replying: { ...s.replying, [m.roomId]: m } }));
  requestAnimationFrame(() => document.getElementById('composer-input')?.focus());
}

export function cancelReply(roomId: string): void {
  messageUi.set((s) => (s.replying[roomId] ? { replying: { ...s.replying, [roomId]: undefined } } : {}));
}

export function startEdit(id: string, fromComposer = false): void {
  messageUi.set({ editing: { id, fromComposer } });
}

/** Closes the edit box; focus goes back to where the edit started (the composer, or the message). */
export function endEdit(): void {
  const e = messageUi.get().editing;
  if (!e) return;
  messageUi.set({ editing: null });
  requestAnimationFrame(() => {
    if (e.fromComposer) document.getElementById('composer-input')?.focus();
    else document.querySelector<HTMLElement>(`[data-message-id="${e.id}"]`)?.focus();
  });
}

export function resetMessageUi(): void {
  messageUi.set({ replying: {}, editing: null });
}
