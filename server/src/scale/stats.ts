/**
 * Counters for the metrics endpoint and tests. Apart from the Redis client, so that a node without REDIS_URL never
 * loads it (cold start).
 */
export const redisStats = {
  /** Adapter publishes that Redis refused or never got (the broadcast reached this node's sockets only). */
  publishFailures: 0,
  /** Times a connection came back after it was lost. */
  reconnects: 0,
  /** `error` events by connection: `cmd` (commands and publishes) and `sub` (subscriptions). */
  errors: { cmd: 0, sub: 0 },
};
