#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis for the test suites, on 127.0.0.1 only, in a temp directory.
#
#   eval "$(bash scripts/services.sh start)"   # starts (or reuses) them; prints `export TEST_DATABASE_URL=…` lines
#   bash scripts/services.sh env               # prints the exports of the running services again
#   bash scripts/services.sh status            # exit 0 when both answer
#   bash scripts/services.sh stop              # stops them and deletes their files
#
# Or sourced, for a script that owns the services for its own lifetime:
#   source scripts/services.sh; services_start && trap services_stop EXIT
#
# State lives in $PARLEY_SERVICES_DIR (default /tmp/parley-services-<uid>), so `start` twice reuses what runs and
# `stop` finds it. PostgreSQL prefers port 5433 and Redis 6390; a busy port moves on to the next free one.
# As root, PostgreSQL runs as the `postgres` user (initdb refuses root). The cluster is for tests only: fsync is
# off, which loses nothing when a Parley process crashes (the OS still has the writes), only on power loss.
# Messages for humans go to stderr; stdout carries only the export lines.
# Overrides: PGBIN (a PostgreSQL bin directory), PG_ROOT (where versioned installs live), REDIS_SERVER (the binary),
# PG_PORT_PREFERRED, REDIS_PORT_PREFERRED.

PARLEY_SERVICES_DIR="${PARLEY_SERVICES_DIR:-/tmp/parley-services-$(id -u)}"

_svc_log() { echo "services: $*" >&2; }

# The PostgreSQL server binaries: $PGBIN, else version 15 under $PG_ROOT (default /usr/lib/postgresql), else the
# newest there, else a pg_ctl on PATH with its siblings (resolved through symlinks).
PG_ROOT="${PG_ROOT:-/usr/lib/postgresql}"
REDIS_SERVER="${REDIS_SERVER:-redis-server}"
_svc_pg_complete() { [[ -x "$1/pg_ctl" && -x "$1/initdb" && -x "$1/psql" && -x "$1/pg_isready" && -x "$1/postgres" ]]; }
_svc_pgbin() {
  if [[ -n "${PGBIN:-}" ]] && _svc_pg_complete "$PGBIN"; then echo "$PGBIN"; return 0; fi
  if _svc_pg_complete "$PG_ROOT/15/bin"; then echo "$PG_ROOT/15/bin"; return 0; fi
  local d
  d=$(ls -d "$PG_ROOT"/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [[ -n "$d" ]] && _svc_pg_complete "$d"; then echo "$d"; return 0; fi
  if [[ "$PG_ROOT" == /usr/lib/postgresql ]] && command -v pg_ctl >/dev/null 2>&1; then
    d=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
    if _svc_pg_complete "$d"; then echo "$d"; return 0; fi
  fi
  return 1
}

# Why the services cannot run here (empty when they can).
services_missing() {
  local missing=()
  _svc_pgbin >/dev/null || missing+=("PostgreSQL server binaries (apt-get install -y postgresql)")
  command -v "$REDIS_SERVER" >/dev/null 2>&1 || missing+=("redis-server (apt-get install -y redis-server)")
  if [[ ${#missing[@]} -gt 0 ]]; then
    local out="${missing[0]}" m
    for m in "${missing[@]:1}"; do out+="; $m"; done
    echo "$out"
  fi
}

_svc_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

_svc_free_port() {
  local p=$1 last=$(($1 + 200))
  while ((p < last)); do
    if _svc_port_free "$p"; then echo "$p"; return 0; fi
    p=$((p + 1))
  done
  return 1
}

# Runs a PostgreSQL binary as the cluster's owner.
_svc_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

_svc_exports() {
  # shellcheck disable=SC1091
  source "$PARLEY_SERVICES_DIR/state"
  echo "export TEST_DATABASE_URL=postgres://app:app@127.0.0.1:$PG_PORT/app"
  echo "export TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"
}

_svc_redis_ping() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]
  else
    # No redis-cli: speak the protocol by hand.
    local reply
    reply=$(
      exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
      printf 'PING\r\n' >&3
      IFS= read -r -t 2 line <&3
      echo "$line"
    ) 2>/dev/null
    [[ "$reply" == +PONG* ]]
  fi
}

services_status() {
  [[ -f "$PARLEY_SERVICES_DIR/state" ]] || return 1
  local PG_PORT REDIS_PORT PGBIN_USED
  # shellcheck disable=SC1091
  source "$PARLEY_SERVICES_DIR/state"
  _svc_pg "$PGBIN_USED/pg_ctl" -D "$PARLEY_SERVICES_DIR/pg/data" status >/dev/null 2>&1 || return 1
  _svc_pg "$PGBIN_USED/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || return 1
  _svc_redis_ping "$REDIS_PORT" || return 1
}

services_stop() {
  local dir="$PARLEY_SERVICES_DIR"
  [[ -d "$dir" ]] || return 0
  local PG_PORT="" REDIS_PORT="" PGBIN_USED=""
  # shellcheck disable=SC1091
  [[ -f "$dir/state" ]] && source "$dir/state"
  if [[ -f "$dir/pg/data/postmaster.pid" ]]; then
    local pgbin="${PGBIN_USED:-$(_svc_pgbin)}"
    _svc_pg "$pgbin/pg_ctl" -D "$dir/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      _svc_log "PostgreSQL in $dir did not stop cleanly (see $dir/pg/pg.log)"
  fi
  if [[ -f "$dir/redis.pid" ]]; then
    local pid
    pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      local deadline=$((SECONDS + 10))
      while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && _svc_log "Redis (pid $pid) did not stop"
    fi
  fi
  rm -rf "$dir"
  _svc_log "stopped and removed $dir"
}

# Starts both services, or reuses them when they already answer. Prints the export lines on stdout.
services_start() {
  if services_status; then
    _svc_log "already running (state in $PARLEY_SERVICES_DIR)"
    _svc_exports
    return 0
  fi
  # Anything left from an earlier run that no longer answers is cleared first.
  [[ -f "$PARLEY_SERVICES_DIR/state" ]] && services_stop
  local why
  why=$(services_missing)
  if [[ -n "$why" ]]; then
    _svc_log "cannot start: missing $why"
    return 2
  fi
  if ! _svc_start_inner; then
    _svc_log "start failed; cleaning up"
    [[ -f "$PARLEY_SERVICES_DIR/pg/pg.log" ]] && tail -n 20 "$PARLEY_SERVICES_DIR/pg/pg.log" >&2
    [[ -f "$PARLEY_SERVICES_DIR/redis.log" ]] && tail -n 20 "$PARLEY_SERVICES_DIR/redis.log" >&2
    services_stop
    return 1
  fi
  _svc_exports
}

_svc_start_inner() {
  local dir="$PARLEY_SERVICES_DIR" pgbin pg_port redis_port
  pgbin=$(_svc_pgbin) || return 1
  pg_port=$(_svc_free_port "${PG_PORT_PREFERRED:-5433}") || { _svc_log "no free port for PostgreSQL"; return 1; }
  redis_port=$(_svc_free_port "${REDIS_PORT_PREFERRED:-6390}") || { _svc_log "no free port for Redis"; return 1; }
  mkdir -p "$dir/pg" || return 1
  chmod 755 "$dir"
  printf 'PG_PORT=%s\nREDIS_PORT=%s\nPGBIN_USED=%s\n' "$pg_port" "$redis_port" "$pgbin" >"$dir/state"
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir/pg" || return 1; fi

  local t0=$SECONDS
  _svc_pg "$pgbin/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    _svc_pg "$pgbin/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; return 1; }
  _svc_pg "$pgbin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/pg.log" -w -t 60 \
    -o "-k $dir/pg -p $pg_port -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
    start >/dev/null || return 1
  _svc_pg "$pgbin/psql" -X -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE USER app PASSWORD 'app' SUPERUSER" -c "CREATE DATABASE app OWNER app" >/dev/null || return 1
  _svc_log "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port ($((SECONDS - t0))s)"

  "$REDIS_SERVER" --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >/dev/null || return 1
  local deadline=$((SECONDS + 15))
  until _svc_redis_ping "$redis_port"; do
    ((SECONDS < deadline)) || { _svc_log "Redis did not answer on $redis_port"; return 1; }
    sleep 0.1
  done
  _svc_log "Redis $("$REDIS_SERVER" --version | grep -o 'v=[0-9.]*' | cut -c3-) on 127.0.0.1:$redis_port"
}

# Run as a command (not sourced).
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -uo pipefail
  case "${1:-}" in
    start)
      # A start interrupted half-way leaves nothing behind.
      trap 'services_stop; exit 130' INT TERM
      services_start
      ;;
    stop) services_stop ;;
    status)
      if services_status; then _svc_log "running"; _svc_exports; else _svc_log "not running"; exit 1; fi
      ;;
    env) services_status && _svc_exports ;;
    *)
      echo "usage: $0 start|stop|status|env" >&2
      exit 64
      ;;
  esac
fi
