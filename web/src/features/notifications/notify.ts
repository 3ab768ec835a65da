import type { Message, Room } from '@parley/protocol';
import { navigate, roomPath } from '../../app/router';
import { roomTitle } from '../../store/chat';

/** Desktop notifications, once the user allowed them; never for the room they are looking at. */
export function notificationsSupported(): boolean {
  return typeof window !== 'undefined' && 'Notification' in window;
}

export function notificationPermission(): NotificationPermission | 'unsupported' {
  return notificationsSupported() ? Notification.permission : 'unsupported';
}

export async function askNotificationPermission(): Promise<NotificationPermission | 'unsupported'> {
  if (!notificationsSupported()) return 'unsupported';
  return Notification.requestPermission();
}

/** Whether `message` names the user `me` (Message.mentions: resolved by the server, `@room` included). */
export const mentionsMe = (message: Pick<Message, 'mentions'>, me: string | null): boolean =>
  me !== null && (message.mentions ?? []).includes(me);

/**
 * Whether a message (someone else's, in a room we are not looking at) may notify, by the room's level: `all`,
 * `mentions` (only those naming us) or `none`.
 */
export function levelAllows(room: Pick<Room, 'notifications'>, mentioned: boolean): boolean {
  const level = room.notifications ?? 'all';
  return level === 'all' || (level === 'mentions' && mentioned);
}

export function notifyMessage(message: Message, room: Room, mentioned = false): void {
  if (notificationPermission() !== 'granted') return;
  if (!levelAllows(room, mentioned)) return;
  const who = message.author?.displayName ?? 'Someone';
  const where = room.kind === 'direct' ? who : `${who} in #${roomTitle(room)}`;
  const body = message.deleted ? '' : message.text || (message.attachment ? 'sent an image' : '');
  try {
    const n = new Notification(where, { body: body.slice(0, 200), tag: `room-${room.id}` });
    n.onclick = () => {
      window.focus();
      navigate(roomPath(room.id));
      n.close();
    };
  } catch {
    // Some platforms allow notifications only from a service worker; the title count still shows.
  }
}
