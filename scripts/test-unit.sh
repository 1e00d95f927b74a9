#!/usr/bin/env bash
# The fast tier (`make test-unit`): every test that needs no Docker engine, Redis or nginx, run
# by tap with nothing set up around it (no packages, engine, Redis, images or static checks).
#
# The rule that tells the tiers apart: a test that needs Docker, Redis or nginx lives in a
# `test/integration/` folder or in the `e2e/` workspace; every other test needs none of them.
# scripts/test/test-tiers.test.ts holds the unit tier to that. `make test` runs both tiers.
#
# The tier runs in a few processes, not one per file: each `scripts/unit-tier/<group>.group.ts`
# runs a part's test files one after another (scripts/unit-tier/run-group.ts says why and how
# that stays honest). `make test` runs every file in its own process.
#
# Usage: scripts/test-unit.sh [tap options]            e.g. --grep=... or --reporter=terse
#        scripts/test-unit.sh FILE... [tap options]    only those files, each in its own process
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
LOG_TAG=test-unit

started=$(now_ms)
ensure_node_deps
# Without the run's Redis, a unit test that reaches for it fails at once rather than passing here
# only because another run happens to be up.
unset TEST_REDIS_URL
named_files=0
for arg in "$@"; do [ -e "$arg" ] && named_files=1; done
set +e
if [ $named_files -eq 1 ]; then
  npx tap --exclude='**/integration/**' --exclude='e2e/**' "$@"
else
  npx tap scripts/unit-tier/*.group.ts "$@"
fi
status=$?
set -e
log "unit tests took $(elapsed "$started")"
exit $status
