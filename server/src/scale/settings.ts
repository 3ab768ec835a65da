import { ConfigError, parseDuration } from '../config.js';

/**
 * Tuning of the scale-out layer (only used when REDIS_URL is set). Read from the environment here rather than in
 * `config.ts` so that the layer stays self-contained; the variables are documented in docs/CONFIGURATION.md.
 *
 * - `REDIS_KEY_PREFIX` (default `parley`): every Redis key and pub/sub channel of one deployment starts with it, so
 *   several deployments (or test runs) can share one Redis.
 * - `PRESENCE_NODE_TTL` (default `15s`, 2s–60s): a node proves it is alive by refreshing a key with this TTL every
 *   TTL/3; every node sweeps every TTL/3. A node that dies without closing drops out of presence, and its users'
 *   subscribers get `presence:changed` (offline) at most TTL + TTL/3 (+ PRESENCE_BATCH_MS) after its last
 *   heartbeat (20 s by default).
 */
export interface ScaleSettings {
  prefix: string;
  nodeTtlMs: number;
  heartbeatMs: number;
  sweepMs: number;
  /** How long start-up waits for Redis before going on without it (clients keep retrying in the background). */
  startupWaitMs: number;
  /**
   * When an outage cannot be filled from the database (see scale/recovery.ts: the delivery log overflowed, or the
   * database was down too when it began), the sockets concerned are asked to reconnect, spread over this window.
   */
  resyncSpreadMs: number;
}

const PREFIX_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

export function scaleSettings(env: NodeJS.ProcessEnv = process.env): ScaleSettings {
  const prefix = env.REDIS_KEY_PREFIX || 'parley';
  if (!PREFIX_RE.test(prefix)) {
    throw new ConfigError(
      'Invalid configuration:\n  REDIS_KEY_PREFIX: 1–64 characters of letters, digits, _ . : -',
    );
  }
  const ttlRaw = env.PRESENCE_NODE_TTL || '15s';
  const ttlSec = parseDuration(ttlRaw);
  if (ttlSec === null || ttlSec < 2 || ttlSec > 60) {
    throw new ConfigError(
      `Invalid configuration:\n  PRESENCE_NODE_TTL: "${ttlRaw}" must be a duration between 2s and 60s`,
    );
  }
  const nodeTtlMs = ttlSec * 1000;
  return {
    prefix,
    nodeTtlMs,
    heartbeatMs: Math.floor(nodeTtlMs / 3),
    sweepMs: Math.floor(nodeTtlMs / 3),
    startupWaitMs: 5_000,
    resyncSpreadMs: 3_000,
  };
}
