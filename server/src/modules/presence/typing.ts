import type { User as UserDto } from '@parley/protocol';
import type { IoServer } from '../../realtime/channels.js';
import { channel } from '../../realtime/channels.js';

/** A typing indicator stops by itself this long after the typist's last refresh. */
export const TYPING_TTL_MS = 5_000;

/**
 * Relays typing to the room (never to the typist's own sockets) as volatile packets: a lost one is harmless and
 * a slow client must not queue them. The server ends an indicator that was not refreshed, so a client that
 * vanished mid-word does not leave "Ana is typing…" on everyone's screen.
 */
export class TypingRelay {
  private timers = new Map<string, NodeJS.Timeout>();

  constructor(private io: IoServer) {}

  set(roomId: string, user: UserDto, isTyping: boolean): void {
    const key = `${roomId}:${user.id}`;
    const running = this.timers.get(key);
    if (running) clearTimeout(running);
    this.timers.delete(key);
    if (isTyping) {
      const timer = setTimeout(() => this.set(roomId, user, false), TYPING_TTL_MS);
      timer.unref();
      this.timers.set(key, timer);
    } else if (!running) {
      // Nothing was showing; do not broadcast a redundant stop.
      return;
    }
    this.io
      .to(channel.room(roomId))
      .except(channel.user(user.id))
      .volatile.emit('typing', { roomId, user, isTyping });
  }

  /** The user's last socket went away: end every indicator they had. */
  clearUser(user: UserDto): void {
    for (const key of [...this.timers.keys()]) {
      if (key.endsWith(`:${user.id}`)) this.set(key.slice(0, key.lastIndexOf(':')), user, false);
    }
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
