import type { Message, User } from '@parley/protocol';
import { chatStore, type ChatState } from '../../store/chat';
import { currentUser } from '../auth/me';
import { setMe } from '../auth/session';

/**
 * `user:updated`: someone we share a room with (or we, in another tab) changed their display name or avatar.
 * Every place that shows them takes the new User: timelines (authors), member lists, DM peers, the
 * Online list, typing. One pass over what is loaded, done only when someone changes.
 */
export function userUpdated(user: User): void {
  const me = currentUser();
  if (me && me.id === user.id) setMe({ ...me, ...user });
  const same = (u: User | null | undefined) => Boolean(u && u.id === user.id);
  chatStore.set((s) => {
    const patch: Partial<ChatState> = {};
    const timelines = { ...s.timelines };
    let timelinesChanged = false;
    for (const [roomId, t] of Object.entries(s.timelines)) {
      let changed = false;
      const messages = t.messages.map((m): Message => {
        if (!same(m.author)) return m;
        changed = true;
        return { ...m, author: user };
      });
      if (changed) {
        timelines[roomId] = { ...t, messages };
        timelinesChanged = true;
      }
    }
    if (timelinesChanged) patch.timelines = timelines;
    const members = { ...s.members };
    let membersChanged = false;
    for (const [roomId, list] of Object.entries(s.members)) {
      if (!list.some((m) => same(m.user))) continue;
      members[roomId] = list.map((m) => (same(m.user) ? { ...m, user } : m));
      membersChanged = true;
    }
    if (membersChanged) patch.members = members;
    const peerRooms = Object.values(s.rooms).filter((r) => same(r.peer));
    if (peerRooms.length) {
      patch.rooms = { ...s.rooms };
      for (const r of peerRooms) patch.rooms[r.id] = { ...r, peer: user };
    }
    if (s.online[user.id]) patch.online = { ...s.online, [user.id]: user };
    return patch;
  });
}
