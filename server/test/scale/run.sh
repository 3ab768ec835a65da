#!/usr/bin/env bash
# `npm run test:redis`: the scale-out suites (server/test/scale/*.scale.ts) against a real PostgreSQL and Redis.
#
#   eval "$(bash scripts/services.sh start)" && npm run test:redis
#
# Both TEST_DATABASE_URL and TEST_REDIS_URL are required. Without them this says loudly that NOTHING was tested
# and exits 0 — except in CI (CI=true), where a suite that cannot run is a failure.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.." || exit 1

missing=()
[[ -n "${TEST_DATABASE_URL:-}" ]] || missing+=(TEST_DATABASE_URL)
[[ -n "${TEST_REDIS_URL:-}" ]] || missing+=(TEST_REDIS_URL)

if ((${#missing[@]} > 0)); then
  line="################################################################################"
  case "${CI:-}" in
    true | 1 | yes)
      {
        echo "$line"
        echo "##  test:redis COULD NOT RUN IN CI: ${missing[*]} not set."
        echo "##  Start the services first: eval \"\$(bash scripts/services.sh start)\""
        echo "$line"
      } >&2
      exit 1
      ;;
  esac
  {
    echo
    echo "$line"
    echo "##  test:redis SKIPPED: ${missing[*]} not set. NOTHING WAS TESTED."
    echo "##  The scale-out suites need a real PostgreSQL and Redis. Run:"
    echo "##    eval \"\$(bash scripts/services.sh start)\" && npm run test:redis"
    echo "$line"
    echo
  } >&2
  exit 0
fi

exec npx vitest run -c server/test/scale/vitest.config.ts "$@"
