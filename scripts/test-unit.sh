#!/usr/bin/env bash
# The fast tier (`make test-unit`): every test that needs no Docker engine, Redis or nginx, run
# by tap with nothing set up around it (no packages, engine, Redis, images or static checks).
#
# The rule that tells the tiers apart: a test that needs Docker, Redis or nginx lives in a
# `test/integration/` folder or in the `e2e/` workspace; every other test needs none of them.
# scripts/test/test-tiers.test.ts holds the unit tier to that. `make test` runs both tiers.
#
# Usage: scripts/test-unit.sh [tap options]     e.g. --grep=... or --reporter=terse
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
LOG_TAG=test-unit

started=$(now_ms)
ensure_node_deps
# Without the run's Redis, a unit test that reaches for it fails at once rather than passing here
# only because another run happens to be up.
unset TEST_REDIS_URL
set +e
npx tap --exclude='**/integration/**' --exclude='e2e/**' "$@"
status=$?
set -e
log "unit tests took $(elapsed "$started")"
exit $status
