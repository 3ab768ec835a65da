import cluster from 'node:cluster';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import path from 'node:path';
import { Router, type NextFunction, type Request, type Response } from 'express';
import client from 'prom-client';
import { METRICS_REQUEST, METRICS_RESPONSE } from '../cluster.js';
import { ConfigError } from '../config.js';
import type { AppContext } from '../context.js';
import type { IoServer } from '../realtime/channels.js';
import type { EventMiddleware } from '../realtime/with-ack.js';
import { eventBudgetStats, socketLimitStats, socketStats } from '../realtime/connection.js';
import { rateLimitStats } from '../limits/rate-limits.js';
import { redisStats } from '../scale/stats.js';

/*
 * Prometheus metrics at GET /metrics (text exposition format).
 *
 * One registry per process: a process runs one Parley (tests run several in one process; they read differences).
 * In a `node:cluster` deployment each worker keeps its own registry and /metrics, whichever worker answers it,
 * asks the primary for the sum over all workers (prom-client's AggregatorRegistry), so one scrape sees the host.
 *
 * Who may read it: METRICS_ALLOW, a comma-separated list of addresses and CIDR ranges (IPv4 or IPv6), matched
 * against the TCP peer address (never X-Forwarded-For); `*` lets anyone read. Default: loopback only. Anyone
 * else gets 403. Behind a proxy, do not route /metrics through it (deploy/nginx.conf refuses it); scrape each node
 * directly on its own address and list the scraper in METRICS_ALLOW.
 */

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

/**
 * The counters and histograms others may update. Where they are fed from:
 * - `messagesStored`: every committed INSERT of a message (the message log's listener, see `attachMetrics`): `rate()` of it is
 *   messages per second, by kind (text, image, system);
 * - `socketEventDuration`: every acknowledged client event, from arrival to its ack, by event and outcome;
 * - `dbErrors`: every failed statement (by Sequelize error class; `db.onQueryError`); call `metrics.dbErrors.inc({
 *   type })` for database failures outside a statement (e.g. a failed connection);
 * - `redisErrors`: call `countRedisErrors(client, 'name')` on every Redis client (or `metrics.redisErrors.inc({
 *   client })` in its `error` listener).
 */
export const metrics = {
  connectedSockets: new client.Gauge({
    name: 'parley_connected_sockets',
    help: 'Socket.IO connections open on this process (summed over workers in a cluster)',
    registers: [registry],
  }),
  messagesStored: new client.Counter({
    name: 'parley_messages_stored_total',
    help: 'Messages committed to the database, by kind (rate() of it is messages per second)',
    labelNames: ['kind'] as const,
    registers: [registry],
  }),
  socketEventDuration: new client.Histogram({
    name: 'parley_socket_event_duration_seconds',
    help: 'Time from a client event arriving to its acknowledgement being sent, by event and outcome',
    labelNames: ['event', 'ok'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  }),
  dbErrors: new client.Counter({
    name: 'parley_db_errors_total',
    help: 'Failed database queries, by error class',
    labelNames: ['type'] as const,
    registers: [registry],
  }),
  redisErrors: new client.Counter({
    name: 'parley_redis_errors_total',
    help: 'Errors reported by Redis clients, by client',
    labelNames: ['client'] as const,
    registers: [registry],
  }),
  unknownEvents: new client.Counter({
    name: 'parley_socket_unknown_events_total',
    help: 'Client events with a name the protocol does not have (ignored)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(socketStats.unknownEvents);
    },
  }),
  floodDisconnects: new client.Counter({
    name: 'parley_socket_flood_disconnects_total',
    help: 'Sockets disconnected for flooding',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(socketStats.floodDisconnects);
    },
  }),
  socketsRefused: new client.Counter({
    name: 'parley_socket_handshakes_refused_total',
    help:
      'Handshakes refused for too many sockets, by limit: user / address (MAX_SOCKETS_PER_USER / ' +
      'MAX_SOCKETS_PER_ADDRESS, at the Socket.IO CONNECT), engine_address (engine.io connections held by the ' +
      'address, signed in or not), handshake_rate (SOCKET_HANDSHAKES_PER_ADDRESS_PER_SEC) and cooldown (a user ' +
      'cut off for flooding, SOCKET_FLOOD_COOLDOWN_SEC)',
    labelNames: ['limit'] as const,
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ limit: 'user' }, socketLimitStats.refusedPerUser);
      this.inc({ limit: 'address' }, socketLimitStats.refusedPerAddress);
      this.inc({ limit: 'engine_address' }, socketLimitStats.refusedEngineConnections);
      this.inc({ limit: 'handshake_rate' }, socketLimitStats.refusedHandshakeRate);
      this.inc({ limit: 'cooldown' }, socketLimitStats.refusedCooldown);
    },
  }),
  connectFloodCloses: new client.Counter({
    name: 'parley_socket_connect_flood_closes_total',
    help: 'engine.io connections closed for sending Socket.IO CONNECT packets too fast or several at once',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(socketLimitStats.connectFloodCloses);
    },
  }),
  eventsRefused: new client.Counter({
    name: 'parley_socket_events_refused_total',
    help: 'Client events answered RATE_LIMITED by the per-socket event budget (SOCKET_EVENT_RATE_PER_SEC / _BURST)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(eventBudgetStats.refused);
    },
  }),
  rateLimited: new client.Counter({
    name: 'parley_rate_limited_total',
    help:
      'Requests and events refused RATE_LIMITED by a per-user or per-address limit (limits/rate-limits.ts): ' +
      'the write classes of LIMIT_*, message, authAddress, loginIdentifier, loginAccount, passwordCheck',
    labelNames: ['limit'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [limit, n] of Object.entries(rateLimitStats)) this.inc({ limit }, n);
    },
  }),
  slowDisconnects: new client.Counter({
    name: 'parley_socket_slow_reader_disconnects_total',
    help: 'Sockets cut off for not reading what they were sent (SOCKET_MAX_BUFFERED_BYTES)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(socketLimitStats.slowDisconnects);
    },
  }),
  redisPublishFailures: new client.Counter({
    name: 'parley_redis_publish_failures_total',
    help: 'Broadcasts the Redis adapter could not publish (they reached this node only)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(redisStats.publishFailures);
    },
  }),
  redisReconnects: new client.Counter({
    name: 'parley_redis_reconnects_total',
    help: 'Redis connections restored after being lost',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(redisStats.reconnects);
    },
  }),
};

/** Counts the `error` events of a Redis client (node-redis or ioredis) in `parley_redis_errors_total`. */
export function countRedisErrors(
  redis: { on(event: 'error', listener: (err: unknown) => void): unknown },
  name: string,
): void {
  redis.on('error', () => metrics.redisErrors.inc({ client: name }));
}

/**
 * Times every acknowledged client event, from its arrival to its ack, by event and outcome: a middleware of the
 * socket event dispatcher (realtime/with-ack.ts), which createApp installs.
 */
export const timeAckedEvent: EventMiddleware = (_socket, event, ack) => {
  if (!ack) return ack;
  const end = metrics.socketEventDuration.startTimer({ event });
  return (r) => {
    end({ ok: String(r.ok === true) });
    ack(r);
  };
};

/**
 * Instruments one Parley: counts its sockets, counts committed messages and failed queries (acknowledged events
 * are timed by the dispatcher, through {@link timeAckedEvent}). Called once by `createApp`, before the server listens.
 */
export function attachMetrics(io: IoServer, ctx: Pick<AppContext, 'db' | 'messages'>): void {
  // Counted as they come and go (one shared listener), so the registry needs no list of the process's servers.
  const gone = () => metrics.connectedSockets.dec();
  io.on('connection', (socket) => {
    // Refused at once (a revocation that landed during the handshake): it was never counted.
    if (!socket.connected) return;
    metrics.connectedSockets.inc();
    socket.on('disconnect', gone);
  });

  ctx.messages.log.onStored((message) => metrics.messagesStored.inc({ kind: message.kind }));

  ctx.db.onQueryError((err) => metrics.dbErrors.inc({ type: err instanceof Error ? err.name : 'unknown' }));
}

/** Loopback: 127.0.0.0/8 and ::1 (IPv4-mapped addresses are matched as IPv4). */
const DEFAULT_ALLOW = '127.0.0.0/8,::1';

/** Who may read /metrics; `null` means anyone. */
export type MetricsAllow = BlockList | null;

/** Parses METRICS_ALLOW. Throws ConfigError naming the variable on a bad entry. */
export function parseMetricsAllow(value: string | undefined): MetricsAllow {
  const spec = value?.trim() || DEFAULT_ALLOW;
  if (spec === '*') return null;
  const list = new BlockList();
  for (const raw of spec.split(',')) {
    const entry = raw.trim();
    if (!entry) continue;
    const [addr = '', bits, extra] = entry.split('/');
    const type = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : null;
    const prefix = bits === undefined ? null : Number(bits);
    if (
      !type ||
      extra !== undefined ||
      (prefix !== null && (!Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv4' ? 32 : 128)))
    ) {
      throw new ConfigError(
        `Invalid configuration:\n  METRICS_ALLOW: "${entry}" is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1, or * for anyone)`,
      );
    }
    if (prefix === null) list.addAddress(addr, type);
    else list.addSubnet(addr, prefix, type);
  }
  return list;
}

/** Whether `address` (a socket's remoteAddress) may read the metrics. */
export function metricsAllowed(allow: MetricsAllow, address: string | undefined): boolean {
  if (allow === null) return true;
  if (!address) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return allow.check(mapped[1]!, 'ipv4');
  return isIPv4(address) ? allow.check(address, 'ipv4') : isIPv6(address) && allow.check(address, 'ipv6');
}

/** Whether this process is a worker of `node:cluster` whose primary aggregates metrics (see cluster.ts). */
const inCluster = () => cluster.isWorker && typeof process.send === 'function';

if (cluster.isWorker) {
  // Answers the primary's requests for this worker's metrics (prom-client's cluster protocol).
  new client.AggregatorRegistry();
  client.AggregatorRegistry.setRegistries([registry]);
}

interface MetricsResponse {
  type: typeof METRICS_RESPONSE;
  id: number;
  text?: string;
  contentType?: string;
  error?: string;
}

let nextRequestId = 0;

/** Asks the primary for the metrics of every worker, summed. */
function clusterMetrics(timeoutMs = 8_000): Promise<{ text: string; contentType: string }> {
  const id = ++nextRequestId;
  return new Promise((resolve, reject) => {
    const onMessage = (msg: unknown) => {
      const m = msg as Partial<MetricsResponse> | null;
      if (m?.type !== METRICS_RESPONSE || m.id !== id) return;
      done();
      if (m.error !== undefined || m.text === undefined) reject(new Error(m.error ?? 'no metrics'));
      else resolve({ text: m.text, contentType: m.contentType ?? registry.contentType });
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error('the cluster primary did not answer'));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
    };
    process.on('message', onMessage);
    process.send!({ type: METRICS_REQUEST, id }, (err: Error | null) => {
      if (err) {
        done();
        reject(err);
      }
    });
  });
}

/** The one spelling metrics are served at. */
export const METRICS_PATH = '/metrics';

/**
 * The metrics path in any spelling: exactly, or in other letter case, with trailing, doubled or dot segments or
 * percent-encoded letters (`/METRICS`, `/metrics/`, `//metrics`, `/%6detrics`), or a path below it. Express's own
 * routing is case-insensitive and ignores a trailing slash, and a proxy rule written for `/metrics` alone lets the
 * other spellings through.
 */
export function isMetricsPath(rawPath: string): boolean {
  let p = rawPath;
  try {
    p = decodeURIComponent(rawPath);
  } catch {
    // A malformed escape: compare the raw path.
  }
  p = path.posix.normalize(p.toLowerCase()).replace(/\/+$/, '');
  return p === METRICS_PATH || p.startsWith(`${METRICS_PATH}/`);
}

/** Set by every reverse proxy we know of (deploy/nginx.conf sets the first two); a direct scrape has none. */
const PROXY_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

/**
 * GET /metrics for the addresses METRICS_ALLOW (default: loopback) lets in, at exactly that path.
 * Any other spelling of it answers 404, whoever asks; so does a request that came through a proxy: the TCP peer is
 * then the proxy, whose address METRICS_ALLOW may well cover (a compose network), not the client's.
 */
export function metricsRouter(opts: { allow?: MetricsAllow } = {}): Router {
  const allow = opts.allow !== undefined ? opts.allow : parseMetricsAllow(process.env.METRICS_ALLOW);
  const router = Router();
  router.use(async (req: Request, res: Response, next: NextFunction) => {
    // req.path is the raw path, case and escapes as sent.
    if (!isMetricsPath(req.path)) return next();
    res.setHeader('Cache-Control', 'no-store');
    if (req.path !== METRICS_PATH || PROXY_HEADERS.some((h) => req.headers[h] !== undefined)) {
      res.status(404).json({ error: { code: 'NOT_FOUND', message: 'Not found' } });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      res.status(405).json({ error: { code: 'METHOD_NOT_ALLOWED', message: 'Metrics are read with GET' } });
      return;
    }
    if (!metricsAllowed(allow, req.socket.remoteAddress)) {
      res.status(403).json({
        error: {
          code: 'FORBIDDEN',
          message: 'Metrics are served to loopback and to the addresses in METRICS_ALLOW only',
        },
      });
      return;
    }
    try {
      const { text, contentType } = inCluster()
        ? await clusterMetrics()
        : { text: await registry.metrics(), contentType: registry.contentType };
      res.status(200).type(contentType).send(text);
    } catch (err) {
      res.status(503).json({
        error: { code: 'UNAVAILABLE', message: `Metrics could not be collected: ${(err as Error).message}` },
      });
    }
  });
  return router;
}
