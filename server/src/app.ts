import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIMITS, routes, type Health } from '@parley/protocol';
import cookieParser from 'cookie-parser';
import cors from 'cors';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { Server } from 'socket.io';
import type { Config } from './config.js';
import type { AppContext } from './context.js';
import { initModels } from './db/models.js';
import { migrate } from './db/migrate.js';
import { openDb } from './db/sequelize.js';
import { UnitOfWork } from './db/unit-of-work.js';
import { AppError } from './errors.js';
import { clientAddress, type TrustFn } from './http/client-address.js';
import { lazyRouter } from './http/lazy.js';
import { originAllowed } from './http/origin.js';
import { attachMetrics, metricsRouter, timeAckedEvent } from './http/metrics.js';
import { apiNotFound, errorHandler } from './http/errors.js';
import { compress, methodNotAllowed, noStore } from './http/conventions.js';
import { serveWebClient } from './http/web-client.js';
import { RateLimits } from './limits/rate-limits.js';
import { createLogger, type Logger } from './logger.js';
import { createArgon2Hasher } from './modules/auth/passwords.js';
import { authRoutes } from './modules/auth/routes.js';
import { MessageLog } from './modules/messages/log.js';
import { messageRoutes } from './modules/messages/routes.js';
import { RoomTurns } from './modules/messages/turns.js';
import { MessageWriter } from './modules/messages/writer.js';
import { searchRoutes } from './modules/search/routes.js';
import { PresenceHub } from './modules/presence/hub.js';
import { MemoryPresenceStore } from './modules/presence/store.js';
import { ensureGeneralRoom } from './modules/rooms/membership.js';
import { roomRoutes } from './modules/rooms/routes.js';
import { uploadRoutes } from './modules/uploads/routes.js';
import { ImageQueue } from './modules/uploads/queue.js';
import { sweepExpired } from './modules/uploads/service.js';
import { FsBlobStore } from './modules/uploads/storage.js';
import { UploadUrls } from './modules/uploads/urls.js';
import { userRoutes } from './modules/users/routes.js';
import { Broadcaster, type IoServer } from './realtime/channels.js';
import { attachRealtime } from './realtime/connection.js';
import { MessageFanout } from './realtime/fanout.js';
import { Revocations } from './realtime/revocations.js';
import { SocketBookkeeping } from './realtime/bookkeeping.js';
import { EngineGuard } from './realtime/handshake.js';
import type { SocketEvents } from './realtime/with-ack.js';
import { allocatorTuned, planThreads, threadPoolSize } from './thread-pool.js';

export interface ParleyApp {
  app: Express;
  io: IoServer;
  server: http.Server | https.Server;
  ctx: AppContext;
  /** Every socket's client events: middlewares added here see each handled event first (metrics, shutdown). */
  socketEvents: SocketEvents;
  /** Starts listening; resolves with the bound port (useful with PORT=0). */
  listen(port?: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** The built web client, whether running from server/src (tests, dev) or server/dist. */
const WEB_DIST = path.resolve(here, '../../web/dist');
/** How long the server keeps an idle HTTP keep-alive connection (see createApp). */
const HTTP_KEEP_ALIVE_MS = 65_000;

/**
 * The composition root: opens and migrates the database, wires stores, services, routes and Socket.IO.
 * `index.ts` only reads the environment and listens; tests call this with their own config on port 0.
 */
export async function createApp(
  config: Config,
  opts: {
    logger?: Logger;
    /** A cluster worker (cluster.ts): WebSocket only, as a long-polling session's requests could reach any worker. */
    websocketOnly?: boolean;
    /** The built web client to serve (default: web/dist); tests pass a fixture. */
    webDist?: string;
  } = {},
): Promise<ParleyApp> {
  const logger = opts.logger ?? createLogger(config.logLevel);
  const db = await openDb(config.databaseUrl, logger, { sqliteDriver: config.sqliteDriver });
  await migrate(db, logger);
  const models = initModels(db.sequelize);

  const app = express();
  const server = config.tls
    ? https.createServer(
        { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) },
        app,
      )
    : http.createServer(app);
  // Node closes an idle keep-alive connection after 5 s. A client that reuses it just then (browsers, undici and
  // Playwright keep theirs longer) gets ECONNRESET on a request the server never saw. Outliving the usual client
  // and proxy idle timeouts (60 s) makes the client the one that closes; the headers timeout must stay above it.
  server.keepAliveTimeout = HTTP_KEEP_ALIVE_MS;
  server.headersTimeout = HTTP_KEEP_ALIVE_MS + 1000;
  // Read at each handshake, so it follows the `trust proxy` setting made below.
  const addressOf = (req: http.IncomingMessage) => clientAddress(req, app.get('trust proxy fn') as TrustFn);
  const engineGuard = new EngineGuard(config, addressOf);
  const io: IoServer = new Server(server, {
    maxHttpBufferSize: LIMITS.socketPacketMaxBytes,
    // An engine connection that has not joined the namespace by then is closed (default 45 s; see handshake.ts).
    connectTimeout: config.socketConnectTimeoutSec * 1000,
    perMessageDeflate: false,
    ...(opts.websocketOnly ? { transports: ['websocket' as const] } : {}),
    cors: config.corsOrigins.length ? { origin: config.corsOrigins, credentials: true } : undefined,
    // Checked before any Socket.IO work: a foreign page cannot open a socket with a user's credentials.
    // Then the per-address connection count and rate, before any Socket.IO work either.
    allowRequest: (req, cb) =>
      originAllowed(config, req) ? engineGuard.allowRequest(req, cb) : cb(null, false),
  });
  // REDIS_URL: nodes share broadcasts (Redis adapter), presence and rate limits through Redis (server/src/scale).
  // Loaded only then: the Redis client is a tenth of a second of a single node's cold start.
  const scale = config.redisUrl
    ? await (await import('./scale/index.js')).startScaleOut(config, logger)
    : null;
  if (scale) io.adapter(scale.adapter);
  // Before attachRealtime: its handshake middleware must come first (see Revocations).
  const revocations = new Revocations(io, logger);
  const limits = new RateLimits(
    config,
    scale ? { redis: scale.redis.cmd, prefix: scale.settings.prefix } : undefined,
  );
  const store = new FsBlobStore(path.join(config.dataDir, 'uploads'));
  await store.init();
  // libuv's pool is shared by images, hashing and the database: the first two never take all of it (T1, T2).
  const threads = planThreads(threadPoolSize(), {
    images: config.imageConcurrency,
    hashes: config.passwordHashConcurrency,
  });
  logger.info({ ...threads, allocatorTuned: allocatorTuned() }, 'thread pool shared out');
  const uow = new UnitOfWork(db, logger);
  // The writer needs the finished context (limits, uploads, broadcasts): set right below.
  const messages = { log: new MessageLog(db, uow, new RoomTurns(uow)) } as AppContext['messages'];
  const ctx: AppContext = {
    config,
    logger,
    db,
    models,
    uow,
    messages,
    presence: scale?.presence ?? new MemoryPresenceStore(),
    presenceHub: new PresenceHub(io, config.presenceBatchMs, logger),
    limits,
    rt: new Broadcaster(io, new MessageFanout(io, scale?.deliveries)),
    revocations,
    bookkeeping: new SocketBookkeeping(),
    passwords: createArgon2Hasher(config.passwordHashMemoryKib, threads.hashes),
    uploads: { store, urls: new UploadUrls(config.jwtSecret), images: new ImageQueue(threads.images) },
  };
  messages.writer = new MessageWriter(ctx);
  await ensureGeneralRoom(ctx);
  const realtime = attachRealtime(io, ctx, addressOf);
  realtime.events.use(timeAckedEvent);
  engineGuard.attach(io);
  attachMetrics(io, ctx);
  if (scale) ctx.presenceHub.shareAcrossNodes();
  scale?.attach(io, ctx);
  const sweeper = startSweeper(ctx);

  if (config.trustProxy) app.set('trust proxy', config.trustProxy);
  app.disable('x-powered-by');
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:', 'blob:'],
          // The page talks to its own origin only (REST and Socket.IO): CSP Level 3 'self' covers ws:/wss: of the
          // same host. Scheme-only `ws: wss:` would let an injected script send data to any host.
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          frameAncestors: ["'none'"],
        },
      },
    }),
  );
  app.use(compress());
  app.use('/api', noStore);
  app.use(
    '/api',
    cors({
      origin: (origin, cb) => cb(null, origin === undefined ? false : config.corsOrigins.includes(origin)),
      credentials: true,
    }),
  );
  app.use(
    '/api',
    express.json({ limit: LIMITS.jsonBodyMaxBytes, type: ['application/json', 'application/*+json'] }),
  );
  app.use('/api', (req: Request, _res: Response, next: NextFunction) => {
    // A body we cannot read is refused rather than silently treated as empty.
    const type = req.headers['content-type'];
    if (
      req.method !== 'GET' &&
      req.method !== 'DELETE' &&
      type &&
      !/json|multipart\/form-data/i.test(type) &&
      Number(req.headers['content-length'] ?? 1) > 0
    ) {
      return next(new AppError('UNSUPPORTED_MEDIA_TYPE', 'Send JSON (Content-Type: application/json)'));
    }
    next();
  });
  app.use('/api/auth', cookieParser());
  app.use('/api/auth', async (req: Request, res: Response, next: NextFunction) => {
    try {
      await limits.take('authAddress', req.ip ?? '');
      next();
    } catch (err) {
      next(err);
    }
  });

  const api = express.Router();
  authRoutes(api, ctx);
  userRoutes(api, ctx);
  roomRoutes(api, ctx);
  messageRoutes(api, ctx);
  searchRoutes(api, ctx);
  uploadRoutes(api, ctx);
  // Not through `mount`, which always answers the route's 200: a failing check must answer 503.
  api.get(routes.health.path, async (_req: Request, res: Response, next: NextFunction) => {
    try {
      const [database, realtime] = await Promise.all([
        db.sequelize
          .query('SELECT 1')
          .then(() => 'ok' as const)
          .catch(() => 'fail' as const),
        scale ? scale.health() : ('ok' as const),
      ]);
      const status = database === 'ok' && realtime === 'ok' ? ('ok' as const) : ('fail' as const);
      const body: Health = { status, checks: { database, realtime } };
      res.status(status === 'ok' ? 200 : 503).json(body);
    } catch (err) {
      next(err);
    }
  });
  app.use(api);
  app.use(methodNotAllowed());
  app.use('/api', apiNotFound);
  // The API documents are generated from the schemas at the first request for them, not at start.
  app.use(
    '/docs',
    lazyRouter(async () => {
      const [docs, events] = await Promise.all([import('./http/docs.js'), import('./http/asyncapi.js')]);
      return express.Router().use(docs.docsRouter(), events.asyncApiRouter());
    }),
  );
  app.use(metricsRouter());
  serveWebClient(app, opts.webDist ?? WEB_DIST);
  app.use(errorHandler(logger));

  const listen = (port = config.port, host = config.host) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(sweeper);
      // Before the sockets go: this node leaves shared presence and announces whom it leaves offline.
      await scale?.drain();
      // What waits for the other nodes (this node's users going offline) is sent before the adapter closes.
      ctx.presenceHub.close();
      realtime.close();
      // This node's sockets only: through the Redis adapter a plain disconnectSockets would end every node's.
      io.local.disconnectSockets(true);
      await new Promise<void>((resolve) => io.close(() => resolve()));
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
      await scale?.close();
      await db.close();
    })());

  return { app, io, server, ctx, socketEvents: realtime.events, listen, close };
}

/** Sweeps expired uploads now and every 10 minutes; a failed sweep is logged and retried next time. */
function startSweeper(ctx: AppContext): NodeJS.Timeout {
  const run = () =>
    sweepExpired(ctx).catch((err: unknown) => ctx.logger.error({ err }, 'upload sweep failed'));
  void run();
  const timer = setInterval(run, 10 * 60_000);
  timer.unref();
  return timer;
}
