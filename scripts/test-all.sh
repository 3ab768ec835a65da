#!/usr/bin/env bash
# `npm run test:all`: every suite the project has, against every backend it supports.
#
#   1. sqlite      npm test: lint, typecheck, the whole Vitest suite on SQLite
#   2. postgres    the whole Vitest suite again, with TEST_DATABASE_URL pointing at a throwaway PostgreSQL
#   3. redis       `npm run test:redis` with TEST_REDIS_URL (and TEST_DATABASE_URL), once that script exists
#   4. hardening   `npm run test:hardening`: the abuse and fault suite (issue 8), on SQLite, then on PostgreSQL
#   5. browser     `npm run test:browser`, once that script exists (needs /usr/bin/chromium)
#   6. bench       `npm run bench:smoke`: a tiny run of every benchmark, so the harness cannot rot (not timed)
#
# Services are started by scripts/services.sh in a private directory and stopped on exit, whatever happens.
# Without PostgreSQL/Redis installed, a local run says loudly that those suites were SKIPPED; in CI (CI=true)
# missing services are a failure. A failing suite does not stop the later ones: the summary shows them all.
# The last line is always `test:all: N passed, M failed[, K skipped]`.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

IN_CI=false
case "${CI:-}" in true | 1 | yes) IN_CI=true ;; esac

PASSED=()
FAILED=()
SKIPPED=()
T_START=$SECONDS

banner() {
  local line="################################################################################"
  echo >&2
  echo "$line" >&2
  for l in "$@"; do echo "##  $l" >&2; done
  echo "$line" >&2
  echo >&2
}

# The suite running now. It runs in the background and is waited for, so that a signal to this script is acted
# on at once (bash defers traps while a foreground command runs): the suite is stopped, then the services.
CHILD=""
on_signal() {
  if [[ -n "$CHILD" ]]; then
    kill -TERM "$CHILD" 2>/dev/null
    wait "$CHILD" 2>/dev/null
  fi
  exit 130
}
trap on_signal INT TERM

# run_suite NAME COMMAND...: runs one suite, records its result and duration.
run_suite() {
  local name=$1
  shift
  local t0=$SECONDS rc
  echo
  echo "=== test:all: suite '$name': $* ==="
  "$@" &
  CHILD=$!
  wait "$CHILD"
  rc=$?
  CHILD=""
  if ((rc == 0)); then
    PASSED+=("$name")
    echo "=== test:all: suite '$name' PASSED ($((SECONDS - t0))s) ==="
  else
    FAILED+=("$name")
    echo "=== test:all: suite '$name' FAILED ($((SECONDS - t0))s) ===" >&2
  fi
}

skip_suite() {
  local name=$1 why=$2
  if $IN_CI; then
    FAILED+=("$name")
    banner "SUITE '$name' COULD NOT RUN IN CI: $why" "In CI every backend must be tested: this is a failure."
  else
    SKIPPED+=("$name")
    banner "SUITE '$name' WAS SKIPPED: $why" \
      "Nothing was tested against it. Install the missing packages and run again:" \
      "  apt-get install -y postgresql redis-server chromium"
  fi
}

has_npm_script() {
  node -e 'process.exit(require("./package.json").scripts?.[process.argv[1]] ? 0 : 1)' "$1"
}

# ---- 1. lint, typecheck, SQLite ---------------------------------------------------------------------
# Whatever the caller's shell exports, this run is SQLite.
run_suite sqlite env -u TEST_DATABASE_URL -u TEST_REDIS_URL npm test

# ---- services ---------------------------------------------------------------------------------------
# shellcheck source=scripts/services.sh
source "$ROOT/scripts/services.sh"
PARLEY_SERVICES_DIR="$(mktemp -d /tmp/parley-services.XXXXXX)"
export PARLEY_SERVICES_DIR
SERVICES_UP=false
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if $SERVICES_UP; then services_stop; else rm -rf "$PARLEY_SERVICES_DIR"; fi
  exit "$rc"
}
trap cleanup EXIT

MISSING="$(services_missing)"
if [[ -z "$MISSING" ]]; then
  if EXPORTS="$(services_start)"; then
    eval "$EXPORTS"
    SERVICES_UP=true
  else
    MISSING="PostgreSQL/Redis are installed but failed to start (see the messages above)"
  fi
fi

# ---- 2. PostgreSQL ----------------------------------------------------------------------------------
if $SERVICES_UP; then
  run_suite postgres env TEST_DATABASE_URL="$TEST_DATABASE_URL" npx vitest run
else
  skip_suite postgres "$MISSING"
fi

# ---- 3. Redis (several nodes) -----------------------------------------------------------------------
if has_npm_script test:redis; then
  if $SERVICES_UP; then
    run_suite redis env TEST_DATABASE_URL="$TEST_DATABASE_URL" TEST_REDIS_URL="$TEST_REDIS_URL" npm run test:redis
  else
    skip_suite redis "$MISSING"
  fi
else
  echo "test:all: no 'test:redis' script yet: the Redis suite arrives with a later issue"
fi

# ---- 4. hardening ------------------------------------------------------------------------------------
# On SQLite (the default a first user gets); its database-outage case starts a PostgreSQL server of its own. Then
# on PostgreSQL too (the suite holds tests that used to be backbone and real-time tests), minus the 3-minute wait
# of the long-offline client, whose catch-up path is the same on both databases.
if has_npm_script test:hardening; then
  run_suite hardening env -u TEST_DATABASE_URL -u TEST_REDIS_URL npm run test:hardening
  if $SERVICES_UP; then
    run_suite hardening-postgres env -u TEST_REDIS_URL TEST_DATABASE_URL="$TEST_DATABASE_URL" \
      npm run test:hardening -- --exclude '**/offline-3min.hardening.ts'
  else
    skip_suite hardening-postgres "$MISSING"
  fi
fi

# ---- 5. browser -------------------------------------------------------------------------------------
if has_npm_script test:browser; then
  if [[ -x /usr/bin/chromium ]]; then
    run_suite browser npm run test:browser
  else
    skip_suite browser "/usr/bin/chromium is not installed (apt-get install -y chromium)"
  fi
else
  echo "test:all: no 'test:browser' script yet: the browser suite arrives with a later issue"
fi

# ---- 6. benchmark smoke -----------------------------------------------------------------------------
if has_npm_script bench:smoke; then
  if $SERVICES_UP; then
    run_suite bench env BENCH_DATABASE_URL="$TEST_DATABASE_URL" npm run bench:smoke
  else
    run_suite bench npm run bench:smoke
  fi
fi

# ---- summary ----------------------------------------------------------------------------------------
# Services go first, so that the summary is the last thing printed.
if $SERVICES_UP; then
  services_stop
  SERVICES_UP=false
fi
echo
echo "test:all: passed: ${PASSED[*]:-none}; failed: ${FAILED[*]:-none}; skipped: ${SKIPPED[*]:-none} ($((SECONDS - T_START))s)"
if [[ ${#SKIPPED[@]} -gt 0 ]] && ! $IN_CI; then
  banner "NOT EVERYTHING RAN: ${SKIPPED[*]} SKIPPED (see above). Not a complete test run."
fi
# In CI a suite that could not run is counted as failed, never as skipped.
echo "test:all: ${#PASSED[@]} passed, ${#FAILED[@]} failed$( ((${#SKIPPED[@]} > 0)) && echo ", ${#SKIPPED[@]} skipped")"
[[ ${#FAILED[@]} -eq 0 ]]
