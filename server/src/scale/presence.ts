import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import { orderKey, type PresenceStore } from '../modules/presence/store.js';
import type { RedisClient } from './redis.js';
import { Script } from './script.js';
import type { ScaleSettings } from './settings.js';

/*
 * Presence shared by every node, in Redis (P = REDIS_KEY_PREFIX):
 *
 *   P:presence:nodes                  SET     ids of the nodes that have registered sockets
 *   P:presence:node:<node>            STRING  "alive": refreshed every heartbeat with a TTL (PRESENCE_NODE_TTL)
 *   P:presence:node:<node>:sockets    HASH    socketId → userId: the node's connected sockets
 *   P:presence:user:<user>            SET     "<node>/<socketId>" of every connected socket of the user, all nodes
 *   P:presence:online                 SET     userIds with at least one socket
 *   P:presence:byname                 ZSET    the same users' order keys (usernameKey, id), all scored 0: what
 *                                             presence:list pages through with ZRANGEBYLEX
 *   P:presence:names                  HASH    userId → order key, for the users in P:presence:online
 *
 * Every change is one Lua script, so "first socket" / "last socket" is decided once, whichever node asks.
 * A node that dies without closing stops refreshing its alive key; every node sweeps every TTL/3, and the sweep
 * (one script) removes each node whose alive key has expired, with its sockets, and returns the users left without
 * any socket. A script runs alone, so with several sweepers exactly one gets each dead node's users and announces
 * them offline. A node that was swept while still alive (paused longer than the TTL, or cut off from Redis) notices
 * at its next heartbeat and re-registers its sockets (resync). After a Redis restart (state lost) every node
 * re-registers the same way.
 */

/** A user's first socket anywhere arrived / last socket anywhere left: the online set and the ordered list. */
const ONLINE_OFFLINE = `
local function wentOnline(p, uid, key)
  redis.call('SADD', p .. ':presence:online', uid)
  if key and key ~= '' then
    redis.call('ZADD', p .. ':presence:byname', 0, key)
    redis.call('HSET', p .. ':presence:names', uid, key)
  end
end
local function wentOffline(p, uid)
  redis.call('SREM', p .. ':presence:online', uid)
  local key = redis.call('HGET', p .. ':presence:names', uid)
  if key then
    redis.call('ZREM', p .. ':presence:byname', key)
    redis.call('HDEL', p .. ':presence:names', uid)
  end
end
`;

const REAP =
  ONLINE_OFFLINE +
  `
local function reap(p, node, offline)
  local socketsKey = p .. ':presence:node:' .. node .. ':sockets'
  local entries = redis.call('HGETALL', socketsKey)
  for i = 1, #entries, 2 do
    local uid = entries[i + 1]
    local ukey = p .. ':presence:user:' .. uid
    if redis.call('SREM', ukey, node .. '/' .. entries[i]) == 1 and redis.call('SCARD', ukey) == 0 then
      wentOffline(p, uid)
      offline[#offline + 1] = uid
    end
  end
  redis.call('DEL', socketsKey, p .. ':presence:node:' .. node)
  redis.call('SREM', p .. ':presence:nodes', node)
end
`;

/** ARGV prefix, node, socketId, userId, orderKey → 1 when it is the user's first socket anywhere. */
const ADD = new Script(
  ONLINE_OFFLINE +
    `
local p, node, sid, uid, key = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
redis.call('SADD', p .. ':presence:nodes', node)
redis.call('HSET', p .. ':presence:node:' .. node .. ':sockets', sid, uid)
local ukey = p .. ':presence:user:' .. uid
if redis.call('SADD', ukey, node .. '/' .. sid) == 1 and redis.call('SCARD', ukey) == 1 then
  wentOnline(p, uid, key)
  return 1
end
return 0
`,
);

/** ARGV prefix, node, socketId, userId → 1 when it was the user's last socket anywhere. */
const REMOVE = new Script(
  ONLINE_OFFLINE +
    `
local p, node, sid, uid = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('HDEL', p .. ':presence:node:' .. node .. ':sockets', sid)
local ukey = p .. ':presence:user:' .. uid
if redis.call('SREM', ukey, node .. '/' .. sid) == 1 and redis.call('SCARD', ukey) == 0 then
  wentOffline(p, uid)
  return 1
end
return 0
`,
);

/** ARGV prefix, node, ttlMs → 1 when the node was still registered as alive, 0 when it must resync. */
const HEARTBEAT = new Script(`
local p, node, ttl = ARGV[1], ARGV[2], ARGV[3]
local alive = p .. ':presence:node:' .. node
local existed = redis.call('EXISTS', alive)
redis.call('SET', alive, '1', 'PX', ttl)
redis.call('SADD', p .. ':presence:nodes', node)
return existed
`);

/** ARGV prefix, self → userIds left without a socket by the nodes found dead (and removed). */
const SWEEP = new Script(
  REAP +
    `
local p, self = ARGV[1], ARGV[2]
local offline = {}
for _, node in ipairs(redis.call('SMEMBERS', p .. ':presence:nodes')) do
  if node ~= self and redis.call('EXISTS', p .. ':presence:node:' .. node) == 0 then
    reap(p, node, offline)
  end
end
return offline
`,
);

/** ARGV prefix, node → userIds left without a socket now that this node leaves (graceful shutdown). */
const LEAVE = new Script(
  REAP +
    `
local offline = {}
reap(ARGV[1], ARGV[2], offline)
return offline
`,
);

/**
 * ARGV prefix, node, ttlMs, then socketId, userId, orderKey triples: makes Redis hold exactly these sockets for
 * this node. Returns {usersNowOnline, usersNowOffline}. Additions go first, so a user who only changed sockets is
 * in neither.
 */
const RESYNC = new Script(
  ONLINE_OFFLINE +
    `
local p, node, ttl = ARGV[1], ARGV[2], ARGV[3]
local socketsKey = p .. ':presence:node:' .. node .. ':sockets'
local want, keys = {}, {}
for i = 4, #ARGV, 3 do
  want[ARGV[i]] = ARGV[i + 1]
  keys[ARGV[i + 1]] = ARGV[i + 2]
end
local have = {}
local entries = redis.call('HGETALL', socketsKey)
for i = 1, #entries, 2 do have[entries[i]] = entries[i + 1] end
local cameOnline, nowOffline = {}, {}
for sid, uid in pairs(want) do
  local ukey = p .. ':presence:user:' .. uid
  redis.call('HSET', socketsKey, sid, uid)
  if redis.call('SADD', ukey, node .. '/' .. sid) == 1 and redis.call('SCARD', ukey) == 1 then
    wentOnline(p, uid, keys[uid])
    cameOnline[#cameOnline + 1] = uid
  end
end
for sid, uid in pairs(have) do
  if want[sid] ~= uid then
    redis.call('HDEL', socketsKey, sid)
    local ukey = p .. ':presence:user:' .. uid
    if redis.call('SREM', ukey, node .. '/' .. sid) == 1 and redis.call('SCARD', ukey) == 0 then
      wentOffline(p, uid)
      nowOffline[#nowOffline + 1] = uid
    end
  end
end
redis.call('SET', p .. ':presence:node:' .. node, '1', 'PX', ttl)
redis.call('SADD', p .. ':presence:nodes', node)
return {cameOnline, nowOffline}
`,
);

/** Users whose presence changed without a socket of this node arriving or leaving (sweep, resync, leave). */
export type PresenceChange = (change: {
  online: string[];
  offline: string[];
  cause: string;
}) => Promise<void>;

/**
 * The PresenceStore of a node that shares presence through Redis. It also keeps this node's own sockets in memory:
 * they are the truth it re-registers from, and what it answers with while Redis is unreachable (lists show this
 * node's users only; `isOnline` for anyone else answers UNAVAILABLE, because it decides who may take a guest's name).
 */
export class RedisPresenceStore implements PresenceStore {
  readonly nodeId = `${os.hostname().slice(0, 40)}:${process.pid}:${randomBytes(4).toString('hex')}`;
  /** socketId → userId, this node only. */
  private sockets = new Map<string, string>();
  /** userId → number of this node's sockets. */
  private localUsers = new Map<string, number>();
  /** userId → order key, for this node's users (re-registered by resync). */
  private localKeys = new Map<string, string>();
  private timers: NodeJS.Timeout[] = [];
  private draining = false;
  private resyncing: Promise<void> | null = null;
  private resyncAgain = false;
  private lastWarn = 0;
  private changed: PresenceChange = async () => {};

  constructor(
    private redis: RedisClient,
    private settings: ScaleSettings,
    private logger: Logger,
  ) {}

  private get p(): string {
    return this.settings.prefix;
  }

  /** Registers this node, then heartbeats and sweeps until `drain`. */
  start(onChange: PresenceChange): void {
    this.changed = onChange;
    void this.resync('start');
    const every = (ms: number, fn: () => Promise<void>) => {
      const t = setInterval(() => void fn(), ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.settings.heartbeatMs, () => this.heartbeat());
    every(this.settings.sweepMs, () => this.sweep());
  }

  async add(userId: string, socketId: string, nameKey: string): Promise<boolean> {
    const localFirst = !this.localUsers.has(userId);
    const key = orderKey(nameKey, userId);
    if (!this.sockets.has(socketId)) {
      this.sockets.set(socketId, userId);
      this.localUsers.set(userId, (this.localUsers.get(userId) ?? 0) + 1);
      this.localKeys.set(userId, key);
    }
    // Leaving: the node announces its users itself (`drain`); a late arrival is not announced.
    if (this.draining) return false;
    if (!this.redis.isReady) return localFirst;
    try {
      return (await ADD.runInOrder(this.redis, [], [this.p, this.nodeId, socketId, userId, key])) === 1;
    } catch (err) {
      this.warn(err, 'add');
      // Registered at the next resync (after Redis is back); meanwhile this node's own view decides.
      return localFirst;
    }
  }

  async remove(userId: string, socketId: string): Promise<boolean> {
    if (this.sockets.get(socketId) !== userId) return false;
    this.sockets.delete(socketId);
    const left = (this.localUsers.get(userId) ?? 1) - 1;
    if (left > 0) this.localUsers.set(userId, left);
    else {
      this.localUsers.delete(userId);
      this.localKeys.delete(userId);
    }
    if (this.draining) return false;
    if (!this.redis.isReady) return left === 0;
    try {
      return (await REMOVE.runInOrder(this.redis, [], [this.p, this.nodeId, socketId, userId])) === 1;
    } catch (err) {
      this.warn(err, 'remove');
      return left === 0;
    }
  }

  async isOnline(userId: string): Promise<boolean> {
    if (this.localUsers.has(userId)) return true;
    try {
      if (!this.redis.isReady) throw new Error('redis is not connected');
      return (await this.redis.sIsMember(`${this.p}:presence:online`, userId)) === 1;
    } catch (err) {
      this.warn(err, 'isOnline');
      throw new AppError('UNAVAILABLE', 'Presence is unavailable right now; try again in a moment');
    }
  }

  async filterOnline(userIds: string[]): Promise<Set<string>> {
    if (!userIds.length) return new Set();
    if (this.redis.isReady) {
      try {
        const flags = await this.redis.smIsMember(`${this.p}:presence:online`, userIds);
        return new Set(userIds.filter((_, i) => Number(flags[i]) === 1));
      } catch (err) {
        this.warn(err, 'filterOnline');
      }
    }
    return new Set(userIds.filter((id) => this.localUsers.has(id)));
  }

  async onlinePage(count: number, after?: string): Promise<string[]> {
    if (this.redis.isReady) {
      try {
        return await this.redis.zRangeByLex(`${this.p}:presence:byname`, after ? `(${after}` : '-', '+', {
          LIMIT: { offset: 0, count },
        });
      } catch (err) {
        this.warn(err, 'onlinePage');
      }
    }
    // Redis unreachable: this node's own users (a few thousand at most), sorted here.
    return [...this.localKeys.values()]
      .filter((k) => after === undefined || k > after)
      .sort()
      .slice(0, count);
  }

  /**
   * Makes Redis hold exactly this node's sockets (at start, after Redis came back, after this node was swept).
   * The snapshot is taken and the script queued in the same tick, on the connection every add/remove uses, so an
   * add or remove issued later runs after it and one issued earlier before it: nothing is double-counted.
   */
  resync(cause: string): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      // Yield first: a run that returns at once would clear `resyncing` before it is assigned, and block every
      // later resync (a node started while Redis was down never registered its sockets).
      await Promise.resolve();
      try {
        do {
          this.resyncAgain = false;
          if (this.draining || !this.redis.isReady) return;
          const args: string[] = [this.p, this.nodeId, String(this.settings.nodeTtlMs)];
          for (const [sid, uid] of this.sockets) args.push(sid, uid, this.localKeys.get(uid) ?? '');
          const [online, offline] = (await RESYNC.runInOrder(this.redis, [], args)) as [string[], string[]];
          if (online.length || offline.length || cause !== 'start')
            this.logger.info(
              { cause, sockets: this.sockets.size, online: online.length, offline: offline.length },
              'presence re-registered with redis',
            );
          if (online.length || offline.length) await this.changed({ online, offline, cause });
        } while (this.resyncAgain);
      } catch (err) {
        this.warn(err, 'resync');
      } finally {
        this.resyncing = null;
      }
    })();
    return this.resyncing;
  }

  /** Refreshes this node's alive key; when it had vanished (swept, or Redis restarted), re-registers. */
  async heartbeat(): Promise<void> {
    if (this.draining || !this.redis.isReady) return;
    try {
      const existed = await HEARTBEAT.runInOrder(
        this.redis,
        [],
        [this.p, this.nodeId, this.settings.nodeTtlMs],
      );
      if (existed !== 1) await this.resync('heartbeat found this node unregistered');
    } catch (err) {
      this.warn(err, 'heartbeat');
    }
  }

  /** Removes nodes whose alive key expired; announces the users they leave without a socket. */
  async sweep(): Promise<void> {
    if (this.draining || !this.redis.isReady) return;
    try {
      const offline = (await SWEEP.run(this.redis, [], [this.p, this.nodeId])) as string[];
      if (offline.length) {
        this.logger.warn({ users: offline.length }, 'presence: swept a node that stopped heartbeating');
        await this.changed({ online: [], offline, cause: 'sweep' });
      }
    } catch (err) {
      this.warn(err, 'sweep');
    }
  }

  /**
   * Graceful shutdown, before the sockets are closed: stops heartbeating, removes this node and announces the
   * users it leaves without a socket (the sockets' own departures are then not announced again).
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.resyncing;
    if (!this.redis.isReady) return;
    try {
      const offline = (await LEAVE.runInOrder(this.redis, [], [this.p, this.nodeId])) as string[];
      if (offline.length) await this.changed({ online: [], offline, cause: 'leave' });
    } catch (err) {
      this.warn(err, 'leave');
    }
  }

  /** For tests and metrics: this node's sockets. */
  localSocketCount(): number {
    return this.sockets.size;
  }

  private warn(err: unknown, op: string): void {
    const now = Date.now();
    if (now - this.lastWarn < 10_000) return;
    this.lastWarn = now;
    this.logger.warn({ err, op }, 'redis presence failed; using this node’s own view meanwhile');
  }
}
