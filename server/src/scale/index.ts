import type { Message as MessageDto } from '@parley/protocol';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { Config } from '../config.js';
import type { AppContext } from '../context.js';
import type { Logger } from '../logger.js';
import { presentUser } from '../modules/users/presenter.js';
import type { IoServer } from '../realtime/channels.js';
import { deliverSingly, type LocalNamespace } from '../realtime/fanout.js';
import { acceptRemote, DeliveryLog, remoteMessages, type RemoteMessage } from './deliveries.js';
import { RedisPresenceStore, type PresenceChange } from './presence.js';
import { GapRecovery } from './recovery.js';
import { RedisConnections, redactedUrl } from './redis.js';
import { scaleSettings, type ScaleSettings } from './settings.js';

export { redisStats } from './redis.js';

/**
 * Several nodes behind one address (REDIS_URL set): the Socket.IO Redis adapter carries every broadcast and every
 * `socketsJoin` / `socketsLeave` / `disconnectSockets` to all nodes; presence lives in Redis, and so do the rate
 * limits, which `createApp` builds on `redis.cmd` (limits/rate-limits.ts).
 * `createApp` builds it before the context, installs the adapter, and calls `attach` once the context exists.
 */
export interface ScaleOut {
  settings: ScaleSettings;
  redis: RedisConnections;
  presence: RedisPresenceStore;
  adapter: ReturnType<typeof createShardedAdapter>;
  /** The `message:new` this node delivered, for the gap fill after an outage (the Broadcaster records them). */
  deliveries: DeliveryLog;
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
  // Sharded pub/sub (Redis ≥ 7), one channel per namespace ("static"): see docs/DECISIONS.md.
  const sharded = createShardedAdapter(redis.cmd, redis.sub, {
    channelPrefix: `${settings.prefix}:sio`,
    subscriptionMode: 'static',
  });
  const deliveries = new DeliveryLog();
  let recovery: GapRecovery | null = null;
  // Each `message:new` from another node is recorded as it is delivered here, and one this node's sockets already
  // got from a gap fill is not delivered twice (scale/recovery.ts). `onMessage` is the adapter's documented entry
  // for what other nodes publish; the decoration only reads the message and lets it through or not.
  // A `function`: Socket.IO calls it with `new`.
  const adapter = function (nsp: unknown) {
    const a = sharded(nsp);
    const hook = a as unknown as { uid: string; onMessage(m: RemoteMessage, offset?: string): void };
    const onMessage = hook.onMessage.bind(a);
    hook.onMessage = (message, offset) => {
      const remote = message.uid !== hook.uid;
      if (remote && !acceptRemote(deliveries, message)) return;
      onMessage(message, offset);
      // A batch reached the sockets that opted in; this node's others get its messages one by one (fanout.ts).
      const ours = remote && message.nsp === (nsp as { name: string }).name;
      const batch = ours ? remoteMessages(message)?.batch : null;
      if (batch) {
        const room = message.data!.opts!.rooms![0]!;
        deliverSingly(nsp as LocalNamespace, room, batch.messages as MessageDto[]);
      }
    };
    deliveries.watch(a);
    a.on('create-room', (name: string) => recovery?.roomCreated(name));
    return a;
  } as typeof sharded;
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

  return {
    settings,
    redis,
    presence,
    adapter,
    deliveries,

    attach(io, ctx) {
      const announce: PresenceChange = async ({ online, offline, cause }) => {
        if (closed && cause !== 'leave') return;
        await announcePresence(io, ctx, online, offline).catch((err: unknown) =>
          log.error({ err, cause }, 'presence announcement failed'),
        );
      };
      presence.start(announce);
      const gaps = new GapRecovery(io, ctx, deliveries, log, {
        ready: () => redis.ready(),
        cmdReady: () => redis.cmd.isReady,
        resyncSpreadMs: settings.resyncSpreadMs,
      });
      recovery = gaps;
      io.on('messages:unpublished', (report) => void gaps.onReport(report));
      redis.onLost(() => gaps.lost());
      redis.onPublishFailed((payload) => gaps.publishFailed(payload));
      if (!redis.ready()) gaps.lost();
      redis.onRecovered((which) => {
        if (closed) return;
        if (which === 'cmd') {
          // Redis may have restarted empty: register this node's sockets again.
          void presence.resync('redis connection restored');
          gaps.reportUnpublished();
        }
        // No socket is disconnected: once both connections are up, revoked sessions are ended, room subscriptions
        // fixed and the messages this node's sockets missed are delivered from the database (scale/recovery.ts).
        if (redis.ready()) void gaps.recovered();
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
      recovery?.close();
      await presence.drain();
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
