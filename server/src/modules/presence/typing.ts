import type { User as UserDto } from '@parley/protocol';
import type { IoServer } from '../../realtime/channels.js';
import { channel } from '../../realtime/channels.js';

/** A typing indicator stops by itself this long after the typist's last refresh. */
export const TYPING_TTL_MS = 5_000;

/**
 * Relays typing to the room (never to the typist's own sockets) as volatile packets: a lost one is harmless and
 * a slow client must not queue them. The server ends an indicator that was not refreshed, so a client that
 * vanished mid-word does not leave "Ana is typing…" on everyone's screen. Indicators are kept per typist, with
 * the typist as last shown, so that ending them all when the user goes offline needs no look-up.
 */
export class TypingRelay {
  /** userId → roomId → the running indicator. */
  private typists = new Map<string, Map<string, { timer: NodeJS.Timeout; user: UserDto }>>();

  constructor(private io: IoServer) {}

  set(roomId: string, user: UserDto, isTyping: boolean): void {
    let rooms = this.typists.get(user.id);
    const running = rooms?.get(roomId);
    if (running) {
      clearTimeout(running.timer);
      rooms!.delete(roomId);
    }
    if (isTyping) {
      const timer = setTimeout(() => this.set(roomId, user, false), TYPING_TTL_MS);
      timer.unref();
      if (!rooms) this.typists.set(user.id, (rooms = new Map()));
      rooms.set(roomId, { timer, user });
    } else {
      if (rooms && !rooms.size) this.typists.delete(user.id);
      // Nothing was showing; do not broadcast a redundant stop.
      if (!running) return;
    }
    this.io
      .to(channel.room(roomId))
      .except(channel.user(user.id))
      .volatile.emit('typing', { roomId, user, isTyping });
  }

  /** The user's last socket went away: end every indicator they had. */
  clearUser(userId: string): void {
    const rooms = this.typists.get(userId);
    if (!rooms) return;
    for (const [roomId, { user }] of [...rooms]) this.set(roomId, user, false);
  }

  close(): void {
    for (const rooms of this.typists.values()) for (const { timer } of rooms.values()) clearTimeout(timer);
    this.typists.clear();
  }
}
