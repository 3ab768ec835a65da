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

export function notifyMessage(message: Message, room: Room): void {
  if (notificationPermission() !== 'granted') return;
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
