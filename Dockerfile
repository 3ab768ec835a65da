# syntax=docker/dockerfile:1
#
# Parley: one image for a single node, a node of a multi-node deployment (REDIS_URL), or a one-host cluster
# (WORKERS=N). See README.md, "Running several nodes", and docker-compose.yml.
#
#   docker build -t parley .
#   docker run -p 3000:3000 -v parley-data:/data parley
#
# The container stops gracefully on `docker stop` (SIGTERM): it drains within SHUTDOWN_TIMEOUT_MS (10 s by default),
# so give it a little longer than that (`docker stop -t 15`, compose `stop_grace_period: 15s`).

ARG NODE_IMAGE=node:20-slim

# ---- build: all dependencies, compile protocol, server and web client, then drop dev dependencies ----------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
    npm_config_fund=false \
    npm_config_audit=false
# Manifests first, so that the dependency layer is reused until they change.
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY server/package.json server/
COPY web/package.json web/
RUN npm ci
COPY tsconfig.base.json ./
COPY packages/protocol packages/protocol
COPY server server
COPY web web
RUN npm run build \
 && npm prune --omit=dev

# ---- runtime: the built files and production dependencies only, as an unprivileged user -----------------------------
FROM ${NODE_IMAGE} AS runtime
# Read before our code runs (server/src/thread-pool.ts START_ENV, docs/CONFIGURATION.md): libuv's pool, 8 = images 1
# + hashes 2 + 5 left for the database; glibc's mmap threshold fixed, so large images' memory goes back.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    UV_THREADPOOL_SIZE=8 \
    GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json /app/package-lock.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/packages/protocol/package.json packages/protocol/
COPY --from=build --chown=root:root /app/packages/protocol/dist packages/protocol/dist
COPY --from=build --chown=root:root /app/server/package.json server/
COPY --from=build --chown=root:root /app/server/dist server/dist
COPY --from=build --chown=root:root /app/web/package.json web/
COPY --from=build --chown=root:root /app/web/dist web/dist
# The code is root's and read-only to the app; only DATA_DIR (SQLite, uploads, a generated dev secret) is writable.
RUN mkdir -p /data/uploads && chown -R node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/api/health',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1 and handles SIGTERM/SIGINT itself (graceful drain); WORKERS=N makes it a cluster primary.
CMD ["node", "server/dist/index.js"]
