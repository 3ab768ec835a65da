/** Whether the open timeline is scrolled to its end (set by the Timeline; read when a message arrives). */
let atBottom = true;

export function setAtBottom(value: boolean): void {
  atBottom = value;
}

/** The user can see new messages in the open room right now. */
export function isViewing(): boolean {
  return atBottom && document.visibilityState === 'visible';
}
