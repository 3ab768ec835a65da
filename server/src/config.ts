import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** Thrown when the environment is wrong; `index.ts` prints it and exits, naming the variable. */
export class ConfigError extends Error {}

/** Parses `15m`, `30d`, `2h`, `45s` or a bare number of seconds into seconds. */
export function parseDuration(value: string): number | null {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(value.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return n * unit > 0 ? n * unit : null;
}

const duration = z.string().transform((v, ctx) => {
  const seconds = parseDuration(v);
  if (seconds === null) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration like 15m, 30d, 2h or 3600` });
    return z.NEVER;
  }
  return seconds;
});
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => ['true', '1', 'yes'].includes(v));
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
/** `N/duration`: N actions per window, e.g. `10/1h`, `20/4s`, `30/600`. */
const rate = z.string().transform((v, ctx) => {
  const m = /^\s*(\d+)\s*\/\s*(\S+)\s*$/.exec(v);
  const points = m ? Number(m[1]) : 0;
  const durationSec = m ? parseDuration(m[2]!) : null;
  if (!points || durationSec === null) {
    ctx.addIssue({ code: 'custom', message: `"${v}" is not a limit like 10/1h, 20/4s or 30/600` });
    return z.NEVER;
  }
  return { points, durationSec };
});

/**
 * Per-user limits by class of write (issue 13), each `points` per `durationSec` in a fixed window, shared by all
 * nodes through Redis when REDIS_URL is set. Refused writes answer 429 RATE_LIMITED with `Retry-After` (REST) or an
 * ack RATE_LIMITED with `retryAfter` (socket). Documented in docs/CONFIGURATION.md.
 */
export const WRITE_LIMITS = {
  /** POST /api/chatrooms. */
  roomCreate: { env: 'LIMIT_ROOM_CREATE', default: '10/1h' },
  /** PATCH and DELETE /api/chatrooms/:id (rename, description, kind, delete). */
  roomUpdate: { env: 'LIMIT_ROOM_UPDATE', default: '30/10m' },
  /** Membership changes: join and leave (REST and socket), an owner adding or removing a member, notification levels. */
  membership: { env: 'LIMIT_MEMBERSHIP', default: '60/10m' },
  /** Message edits and deletes (REST and socket): the message limit's size (MESSAGE_BURST per burst/rate s). */
  messageEdit: { env: 'LIMIT_MESSAGE_EDIT', default: '20/4s' },
  /** PATCH /api/users/me (display name, avatar). */
  profile: { env: 'LIMIT_PROFILE', default: '30/10m' },
  /** Attempts to change one's email (each one can answer EMAIL_TAKEN: an oracle, so as tight as sign-ins). */
  emailChange: { env: 'LIMIT_EMAIL_CHANGE', default: '10/15m' },
  /** POST /api/uploads. */
  upload: { env: 'LIMIT_UPLOAD', default: '30/1m' },
  /** POST /api/dms (each new one announces a room to the peer). */
  dmOpen: { env: 'LIMIT_DM_OPEN', default: '60/10m' },
  /** `room:read` read markers: cheap, but each is a write. */
  readMarker: { env: 'LIMIT_READ_MARKER', default: '120/1m' },
  /** `typing` indicators (each one is relayed to the room). */
  typing: { env: 'LIMIT_TYPING', default: '30/10s' },
  /** GET /api/search: a read, but an index walk each (issue 14); generous for search-as-you-type. */
  search: { env: 'LIMIT_SEARCH', default: '120/1m' },
} as const;
export type WriteLimitClass = keyof typeof WRITE_LIMITS;
export interface RateSpec {
  points: number;
  durationSec: number;
}
const rateOr = (fallback: string) => rate.prefault(fallback);
const writeLimitEnv = Object.fromEntries(
  Object.values(WRITE_LIMITS).map((l) => [l.env, rateOr(l.default)]),
) as Record<(typeof WRITE_LIMITS)[WriteLimitClass]['env'], ReturnType<typeof rateOr>>;

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^(sqlite:|postgres:\/\/|postgresql:\/\/)/, 'must start with sqlite: or postgres://')
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis://')
    .optional(),
  JWT_SECRET: z.string().optional(),
  ACCESS_TOKEN_TTL: duration.prefault('15m'),
  REFRESH_TOKEN_TTL: duration.prefault('30d'),
  ALLOW_GUESTS: bool.default(true),
  CORS_ORIGINS: z.string().default(''),
  UPLOAD_MAX_BYTES: int(1024).default(5 * 1024 * 1024),
  UPLOAD_TTL_HOURS: int(1).default(168),
  RATE_LIMIT_AUTH_PER_MIN: int(1).default(60),
  LOGIN_MAX_FAILURES: int(1).default(10),
  MESSAGE_RATE_PER_SEC: z.coerce.number().positive().default(5),
  MESSAGE_BURST: int(1).default(20),
  TLS_CERT_FILE: z.string().optional(),
  TLS_KEY_FILE: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Extensions beyond the contract (documented in docs/CONFIGURATION.md).
  TRUST_PROXY: z.string().default(''),
  SQLITE_DRIVER: z.enum(['appthreat', 'sqlite3']).default('appthreat'),
  PASSWORD_HASH_MEMORY_KIB: int(8192).default(19456),
  MAX_SOCKETS_PER_USER: int(1).default(20),
  MAX_SOCKETS_PER_ADDRESS: int(1).default(200),
  SOCKET_MAX_BUFFERED_BYTES: int(16 * 1024).default(4 * 1024 * 1024),
  SOCKET_FLOOD_COOLDOWN_SEC: int(0, 3600).default(10),
  PRESENCE_BATCH_MS: int(10, 60_000).default(1000),
  SOCKET_EVENT_RATE_PER_SEC: z.coerce.number().positive().default(30),
  SOCKET_EVENT_BURST: int(1).default(60),
  SOCKET_HANDSHAKES_PER_ADDRESS_PER_SEC: z.coerce.number().positive().default(20),
  SOCKET_CONNECT_TIMEOUT_SEC: int(1, 300).default(10),
  // Issue 13 (thread pool and files): docs/CONFIGURATION.md, server/src/thread-pool.ts.
  UPLOAD_MAX_PIXELS: int(1_000_000, 100_000_000).default(40_000_000),
  IMAGE_CONCURRENCY: int(1, 64).default(1),
  PASSWORD_HASH_CONCURRENCY: int(1, 64).default(2),
  ...writeLimitEnv,
});

export type Env = z.infer<typeof EnvSchema>;

/** The validated configuration the app is built from; tests construct it with `testConfig`. */
export interface Config {
  env: Env['NODE_ENV'];
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string;
  redisUrl: string | null;
  jwtSecret: string;
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;
  allowGuests: boolean;
  corsOrigins: string[];
  uploadMaxBytes: number;
  uploadTtlHours: number;
  rateLimitAuthPerMin: number;
  loginMaxFailures: number;
  messageRatePerSec: number;
  messageBurst: number;
  tls: { certFile: string; keyFile: string } | null;
  logLevel: Env['LOG_LEVEL'];
  trustProxy: string;
  sqliteDriver: Env['SQLITE_DRIVER'];
  passwordHashMemoryKib: number;
  /** Sockets one user may hold open on this node; the next handshake is refused RATE_LIMITED. */
  maxSocketsPerUser: number;
  /** Sockets one client address (after TRUST_PROXY) may hold open on this node. */
  maxSocketsPerAddress: number;
  /** Bytes queued for a socket that does not read; above this it is cut off. */
  socketMaxBufferedBytes: number;
  /** After its socket was cut off for flooding, the user's new handshakes are refused this long (0: never). */
  socketFloodCooldownSec: number;
  /** A socket receives at most one `presence:changed` per this many milliseconds. */
  presenceBatchMs: number;
  /**
   * Per-socket event budget: refilled at this rate, up to `socketEventBurst` at once. The guard never applies less
   * than the message limits allow (see realtime/event-budget.ts `effectiveEventBudget`).
   */
  socketEventRatePerSec: number;
  socketEventBurst: number;
  /**
   * New engine.io connections one client address may open per second on this node, after a burst of
   * MAX_SOCKETS_PER_ADDRESS (everyone behind one NAT reconnecting after a restart).
   */
  socketHandshakesPerAddressPerSec: number;
  /** An engine.io connection that has not completed a Socket.IO CONNECT within this is closed. */
  socketConnectTimeoutSec: number;
  /** Images with more pixels (all frames together) are refused before they are decoded. */
  uploadMaxPixels: number;
  /** Images decoded at once by this process, at most (thread-pool.ts may lower it to keep threads for the DB). */
  imageConcurrency: number;
  /** Password hashes at once, at most (lowered the same way). */
  passwordHashConcurrency: number;
  /** Per-user write limits by class (LIMIT_*; see WRITE_LIMITS). */
  writeLimits: Record<WriteLimitClass, RateSpec>;
}

const MIN_SECRET_BYTES = 32;

/** Reads and validates the environment. Throws ConfigError naming the variable at fault. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const raw = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  if ((e.TLS_CERT_FILE === undefined) !== (e.TLS_KEY_FILE === undefined)) {
    throw new ConfigError('Invalid configuration:\n  TLS_CERT_FILE and TLS_KEY_FILE must be set together');
  }
  const dataDir = path.resolve(e.DATA_DIR);
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    dataDir,
    databaseUrl: e.DATABASE_URL ?? `sqlite:${path.join(dataDir, 'parley.db')}`,
    redisUrl: e.REDIS_URL ?? null,
    jwtSecret: resolveJwtSecret(e.JWT_SECRET, e.NODE_ENV, dataDir, e.REDIS_URL !== undefined),
    accessTokenTtlSec: e.ACCESS_TOKEN_TTL,
    refreshTokenTtlSec: e.REFRESH_TOKEN_TTL,
    allowGuests: e.ALLOW_GUESTS,
    corsOrigins: e.CORS_ORIGINS.split(',')
      .map((o) => o.trim().replace(/\/$/, ''))
      .filter(Boolean),
    uploadMaxBytes: e.UPLOAD_MAX_BYTES,
    uploadTtlHours: e.UPLOAD_TTL_HOURS,
    rateLimitAuthPerMin: e.RATE_LIMIT_AUTH_PER_MIN,
    loginMaxFailures: e.LOGIN_MAX_FAILURES,
    messageRatePerSec: e.MESSAGE_RATE_PER_SEC,
    messageBurst: e.MESSAGE_BURST,
    tls: e.TLS_CERT_FILE && e.TLS_KEY_FILE ? { certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE } : null,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    sqliteDriver: e.SQLITE_DRIVER,
    passwordHashMemoryKib: e.PASSWORD_HASH_MEMORY_KIB,
    maxSocketsPerUser: e.MAX_SOCKETS_PER_USER,
    maxSocketsPerAddress: e.MAX_SOCKETS_PER_ADDRESS,
    socketMaxBufferedBytes: e.SOCKET_MAX_BUFFERED_BYTES,
    socketFloodCooldownSec: e.SOCKET_FLOOD_COOLDOWN_SEC,
    presenceBatchMs: e.PRESENCE_BATCH_MS,
    socketEventRatePerSec: e.SOCKET_EVENT_RATE_PER_SEC,
    socketEventBurst: e.SOCKET_EVENT_BURST,
    socketHandshakesPerAddressPerSec: e.SOCKET_HANDSHAKES_PER_ADDRESS_PER_SEC,
    socketConnectTimeoutSec: e.SOCKET_CONNECT_TIMEOUT_SEC,
    uploadMaxPixels: e.UPLOAD_MAX_PIXELS,
    imageConcurrency: e.IMAGE_CONCURRENCY,
    passwordHashConcurrency: e.PASSWORD_HASH_CONCURRENCY,
    writeLimits: Object.fromEntries(
      Object.entries(WRITE_LIMITS).map(([name, l]) => [name, e[l.env]]),
    ) as Record<WriteLimitClass, RateSpec>,
  };
}

/**
 * Production must be given a strong secret. Elsewhere a secret is generated once and kept in DATA_DIR so that
 * tokens survive restarts without any setup.
 */
function resolveJwtSecret(
  given: string | undefined,
  nodeEnv: Env['NODE_ENV'],
  dataDir: string,
  severalNodes: boolean,
): string {
  if (given !== undefined) {
    if (Buffer.byteLength(given) < MIN_SECRET_BYTES) {
      throw new ConfigError(
        `Invalid configuration:\n  JWT_SECRET: must be at least ${MIN_SECRET_BYTES} bytes`,
      );
    }
    return given;
  }
  // Every node must sign and verify with the same key; one generated per node would make tokens fail elsewhere.
  if (severalNodes) {
    throw new ConfigError(
      `Invalid configuration:\n  JWT_SECRET: required when REDIS_URL is set (every node must share it; at least ${MIN_SECRET_BYTES} bytes)`,
    );
  }
  if (nodeEnv === 'production') {
    throw new ConfigError(
      `Invalid configuration:\n  JWT_SECRET: required when NODE_ENV=production (at least ${MIN_SECRET_BYTES} bytes)`,
    );
  }
  const file = path.join(dataDir, 'jwt-secret');
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    if (Buffer.byteLength(kept) >= MIN_SECRET_BYTES) return kept;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}
