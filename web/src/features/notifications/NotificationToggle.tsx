import { useState } from 'react';
import { Icon } from '../../components/Icon';
import { askNotificationPermission, notificationPermission } from './notify';

/** Offers desktop notifications while the browser has not been asked yet. */
export function NotificationToggle() {
  const [permission, setPermission] = useState(notificationPermission());
  if (permission !== 'default') return null;
  return (
    <button
      type="button"
      className="icon-button small"
      aria-label="Enable desktop notifications"
      title="Enable desktop notifications"
      onClick={() => void askNotificationPermission().then(setPermission)}
    >
      <Icon name="bell" size={18} />
    </button>
  );
}
