import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { Config } from '../config.js';
import type { AppContext } from '../context.js';
import type { Logger } from '../logger.js';
import { presentUser } from '../modules/users/presenter.js';
import type { IoServer } from '../realtime/channels.js';
import { RedisPresenceStore, type PresenceChange } from './presence.js';
import { RedisRateLimitStore } from './rate-limit.js';
import { RedisConnections, redactedUrl } from './redis.js';
import { scaleSettings, type ScaleSettings } from './settings.js';

export { redisStats } from './redis.js';

/**
 * Several nodes behind one address (REDIS_URL set): the Socket.IO Redis adapter carries every broadcast and every
 * `socketsJoin` / `socketsLeave` / `disconnectSockets` to all nodes; presence and rate limits live in Redis.
 * `createApp` builds it before the context, installs the adapter, and calls `attach` once the context exists.
 */
export interface ScaleOut {
  settings: ScaleSettings;
  redis: RedisConnections;
  presence: RedisPresenceStore;
  limits: RedisRateLimitStore;
  adapter: ReturnType<typeof createShardedAdapter>;
  /** Starts presence heartbeats and sweeps and the recovery after a Redis outage. */
  attach(io: IoServer, ctx: AppContext): void;
  /** `checks.realtime` of /api/health: both connections up and a PING answered within a second. */
  health(): Promise<'ok' | 'fail'>;
  /** Graceful shutdown, before sockets are closed: this node leaves presence and announces who went offline. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export async function startScaleOut(
  config: Config,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ScaleOut> {
  const settings = scaleSettings(env);
  const redisUrl = config.redisUrl!;
  const log = logger.child({ module: 'scale' });
  const redis = new RedisConnections(redisUrl, log);
  await redis.connect(settings.startupWaitMs);
  const presence = new RedisPresenceStore(redis.cmd, settings, log);
  const limits = new RedisRateLimitStore(redis.cmd, settings.prefix, log);
  // Sharded pub/sub (Redis ≥ 7), one channel per namespace ("static"): see docs/DECISIONS.md.
  const adapter = createShardedAdapter(redis.cmd, redis.sub, {
    channelPrefix: `${settings.prefix}:sio`,
    subscriptionMode: 'static',
  });
  log.info(
    {
      redis: redactedUrl(redisUrl),
      node: presence.nodeId,
      prefix: settings.prefix,
      nodeTtlMs: settings.nodeTtlMs,
    },
    'scale-out: sharing broadcasts, presence and rate limits through redis',
  );

  let closed = false;
  const scheduled = new WeakSet<object>();

  return {
    settings,
    redis,
    presence,
    limits,
    adapter,

    attach(io, ctx) {
      const announce: PresenceChange = async ({ online, offline, cause }) => {
        if (closed && cause !== 'leave') return;
        await announcePresence(io, ctx, online, offline).catch((err: unknown) =>
          log.error({ err, cause }, 'presence announcement failed'),
        );
      };
      presence.start(announce);
      redis.onRecovered((which) => {
        if (closed) return;
        if (which === 'cmd') {
          // Redis may have restarted empty: register this node's sockets again.
          void presence.resync('redis connection restored');
          return;
        }
        // The subscriber was cut off: broadcasts from other nodes in that time never reached this node's sockets,
        // and room joins/leaves and logouts made elsewhere may not have been applied to them. Each socket is made
        // to reconnect (spread over a few seconds): its handshake re-checks the session and re-subscribes its
        // rooms from the database, and the client fills the gap with `messages:fetch {after}`. The transport is
        // closed (after flushing what it holds), so clients see "transport close" and reconnect by themselves —
        // after a server-side `disconnect()` ("io server disconnect") Socket.IO clients would not.
        const sockets = [...io.of('/').sockets.values()].filter((s) => !scheduled.has(s));
        if (!sockets.length) return;
        log.warn(
          { sockets: sockets.length },
          'redis subscription restored: asking local sockets to reconnect',
        );
        for (const socket of sockets) {
          scheduled.add(socket);
          const t = setTimeout(
            () => {
              if (!closed && socket.connected) socket.conn.close();
            },
            Math.floor(Math.random() * settings.resyncSpreadMs),
          );
          t.unref();
        }
      });
    },

    async health() {
      return (await redis.ping(1_000)) ? 'ok' : 'fail';
    },

    async drain() {
      await presence.drain();
    },

    async close() {
      closed = true;
      await presence.drain();
      limits.close();
      await redis.close();
    },
  };
}

/**
 * Presence changes no local socket event caused (a swept node, a re-registration, this node leaving), handed to
 * the presence hub like any arrival or departure: it tells their subscribers, on every node. Users who went
 * offline get `lastSeenAt` now, so a guest's name is held for the usual time after its node vanished.
 */
async function announcePresence(
  io: IoServer,
  ctx: AppContext,
  online: string[],
  offline: string[],
): Promise<void> {
  const at = new Date();
  if (offline.length) {
    await ctx.models.User.update({ lastSeenAt: at }, { where: { id: offline.map(Number) } });
    ctx.presenceHub.changed({ offline: offline.map((userId) => ({ userId, at })) });
  }
  if (online.length) {
    const users = await ctx.models.User.findAll({ where: { id: online.map(Number) } });
    ctx.presenceHub.changed({ online: users.map(presentUser) });
  }
}
