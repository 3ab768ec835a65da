/**
 * Who is online: a user is online while at least one of their sockets is connected. Kept behind an interface so
 * that several nodes can share it (Redis) in the scale-out issue.
 */
export interface PresenceStore {
  /** Records a socket; true when it is the user's first (the user just came online). */
  add(userId: string, socketId: string): Promise<boolean>;
  /** Forgets a socket; true when it was the user's last (the user just went offline). */
  remove(userId: string, socketId: string): Promise<boolean>;
  isOnline(userId: string): Promise<boolean>;
  /** Which of `userIds` are online. */
  filterOnline(userIds: string[]): Promise<Set<string>>;
  onlineUserIds(): Promise<string[]>;
}

/** One node's presence, in memory. */
export class MemoryPresenceStore implements PresenceStore {
  private sockets = new Map<string, Set<string>>();

  async add(userId: string, socketId: string): Promise<boolean> {
    let set = this.sockets.get(userId);
    const first = !set || set.size === 0;
    if (!set) this.sockets.set(userId, (set = new Set()));
    set.add(socketId);
    return first;
  }

  async remove(userId: string, socketId: string): Promise<boolean> {
    const set = this.sockets.get(userId);
    if (!set || !set.delete(socketId)) return false;
    if (set.size > 0) return false;
    this.sockets.delete(userId);
    return true;
  }

  async isOnline(userId: string): Promise<boolean> {
    return (this.sockets.get(userId)?.size ?? 0) > 0;
  }

  async filterOnline(userIds: string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => (this.sockets.get(id)?.size ?? 0) > 0));
  }

  async onlineUserIds(): Promise<string[]> {
    return [...this.sockets.keys()];
  }
}
