/*
 * Parley's own variables are never inherited from the environment the tests or benchmarks run in: a child server
 * gets exactly the settings its caller names. No imports, so the benchmark harness can use it cheaply.
 */
const PARLEY_ENV =
  /^(NODE_ENV|PORT|HOST|DATA_DIR|DATABASE_URL|REDIS_URL|JWT_SECRET|ACCESS_TOKEN_TTL|REFRESH_TOKEN_TTL|ALLOW_GUESTS|CORS_ORIGINS|UPLOAD_.*|RATE_LIMIT_.*|LOGIN_MAX_FAILURES|MESSAGE_.*|TLS_.*|LOG_LEVEL|TRUST_PROXY|SQLITE_DRIVER|PASSWORD_HASH_.*|IMAGE_.*|UV_THREADPOOL_SIZE|MALLOC_.*|GLIBC_TUNABLES|MAX_SOCKETS_.*|SOCKET_.*|REDIS_KEY_PREFIX|PRESENCE_NODE_TTL|WORKERS|SHUTDOWN_TIMEOUT_MS|METRICS_.*|TEST_.*)$/;

/** The environment a child starts from: this process's, minus anything that configures Parley. */
export const cleanEnv = (): Record<string, string> =>
  Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => e[1] !== undefined && !PARLEY_ENV.test(e[0]),
    ),
  );
