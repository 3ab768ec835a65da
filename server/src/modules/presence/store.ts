import { createRequire } from 'node:module';
import type sortedBtree from 'sorted-btree';

// sorted-btree is CommonJS with its class as `exports.default`; required, so that Node and Vitest agree.
const BTree = (createRequire(import.meta.url)('sorted-btree') as typeof sortedBtree).default;

/**
 * Who is online: a user is online while at least one of their sockets is connected. Kept behind an interface so
 * that several nodes can share it (Redis) in the scale-out issue.
 */
export interface PresenceStore {
  /**
   * Records a socket; true when it is the user's first (the user just came online). `nameKey` is the user's
   * `usernameKey`: online users are listed in its order.
   */
  add(userId: string, socketId: string, nameKey: string): Promise<boolean>;
  /** Forgets a socket; true when it was the user's last (the user just went offline). */
  remove(userId: string, socketId: string): Promise<boolean>;
  isOnline(userId: string): Promise<boolean>;
  /** Which of `userIds` are online. */
  filterOnline(userIds: string[]): Promise<Set<string>>;
  /**
   * Up to `count` online users in (usernameKey, id) order, strictly after the order key `after`: the order keys
   * (see `orderKey`). O(log N + count), whatever the number of users online.
   */
  onlinePage(count: number, after?: string): Promise<string[]>;
}

/**
 * The position of an online user in the list: `usernameKey`, a space (below every character a username may hold)
 * and the id padded to 20 digits, so that plain string order is (usernameKey, id) order. Redis keeps the same
 * strings in a sorted set read with ZRANGEBYLEX.
 */
export const orderKey = (nameKey: string, userId: string): string => `${nameKey} ${userId.padStart(20, '0')}`;

/** The user id inside an order key. */
export const userIdOfKey = (key: string): string => String(Number(key.slice(key.lastIndexOf(' ') + 1)));

/** One node's presence, in memory. */
export class MemoryPresenceStore implements PresenceStore {
  private sockets = new Map<string, Set<string>>();
  /** userId → order key, and the order keys sorted: the online list, for paging. */
  private keys = new Map<string, string>();
  private ordered = new BTree<string, true>();

  async add(userId: string, socketId: string, nameKey: string): Promise<boolean> {
    let set = this.sockets.get(userId);
    const first = !set || set.size === 0;
    if (!set) this.sockets.set(userId, (set = new Set()));
    set.add(socketId);
    if (first) {
      const key = orderKey(nameKey, userId);
      this.keys.set(userId, key);
      this.ordered.set(key, true);
    }
    return first;
  }

  async remove(userId: string, socketId: string): Promise<boolean> {
    const set = this.sockets.get(userId);
    if (!set || !set.delete(socketId)) return false;
    if (set.size > 0) return false;
    this.sockets.delete(userId);
    const key = this.keys.get(userId);
    if (key !== undefined) this.ordered.delete(key);
    this.keys.delete(userId);
    return true;
  }

  async isOnline(userId: string): Promise<boolean> {
    return (this.sockets.get(userId)?.size ?? 0) > 0;
  }

  async filterOnline(userIds: string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => (this.sockets.get(id)?.size ?? 0) > 0));
  }

  async onlinePage(count: number, after?: string): Promise<string[]> {
    const page: string[] = [];
    for (const [key] of this.ordered.entries(after)) {
      if (key === after) continue;
      page.push(key);
      if (page.length >= count) break;
    }
    return page;
  }
}
