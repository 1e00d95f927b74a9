#!/usr/bin/env bash
# The one test command (`make test`). On a fresh Debian machine, as root, with only Node and npm,
# it installs what it needs, brings up real infrastructure, builds the images offline, runs every
# test and removes everything it created, even when tests fail.
#
#   Docker  DOCKER_HOST or the default socket if an engine answers there; otherwise its own
#           dockerd (data root and socket in a temporary folder), stopped at the end.
#   Redis   TEST_REDIS_URL if given; otherwise its own redis-server on a free 127.0.0.1 port.
#   nginx   the nginx binary, started by the tests that need it on their own ports.
#   Images  built offline every run; TEST_SKIP_IMAGE_BUILD=1 reuses the existing ones.
#
# Usage: scripts/test.sh                 lint, typecheck and every test
#        scripts/test.sh FILE...         only the given test files (tap arguments)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
LOG_TAG=test

started=$(now_ms)
run_dir="$(mktemp -d /tmp/tenancy-test.XXXXXX)"
export TENANCY_TEST_RUN="run-$(date +%Y%m%d%H%M%S)-$$"
own_dockerd_pid=""
own_redis_pid=""

cleanup() {
  local status=$?
  set +e
  if docker_answers; then
    local label="dev.tenancy.test-run=$TENANCY_TEST_RUN"
    docker ps -aq --filter "label=$label" | xargs -r docker rm -f -v >/dev/null
    docker network ls -q --filter "label=$label" | xargs -r docker network rm >/dev/null
    docker volume ls -q --filter "label=$label" | xargs -r docker volume rm -f >/dev/null
    log "removed every container, network and volume labelled $label"
  fi
  stop_test_engines
  if [ -n "$own_redis_pid" ]; then kill "$own_redis_pid" 2>/dev/null; wait "$own_redis_pid" 2>/dev/null; fi
  if [ -n "$own_dockerd_pid" ]; then
    kill "$own_dockerd_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$own_dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$own_dockerd_pid" 2>/dev/null
  fi
  rm -rf "$run_dir" 2>/dev/null
  log "total time $(elapsed "$started")"
  exit $status
}
# Tests that need an engine they may restart start private dockerds in /tmp/tenancy-engine-<run id>-*
# and stop them at teardown; a test killed at its timeout never gets there. Stops what is left of
# this run's (processes naming the folder, then its mounts and the folder), leaving other runs' alone.
stop_test_engines() {
  local dir pids
  for dir in /tmp/tenancy-engine-"$TENANCY_TEST_RUN"-*; do
    [ -d "$dir" ] || continue
    pids=$(pgrep -f -- "$dir" || true)
    if [ -n "$pids" ]; then
      kill $pids 2>/dev/null
      for _ in $(seq 1 100); do pgrep -f -- "$dir" >/dev/null || break; sleep 0.2; done
      pkill -9 -f -- "$dir" 2>/dev/null
    fi
    awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$dir"
    log "stopped a test engine its test left behind: $dir"
  done
  # The two-node swarm lab's engines run in network namespaces of their own (swarm-lab.ts);
  # deleting a namespace deletes the veth in it.
  for dir in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -- "^tenancy-swarm-$TENANCY_TEST_RUN-" || true); do
    ip netns delete "$dir" && log "deleted a network namespace its test left behind: $dir"
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. System packages, only those missing.
ensure_commands docker:docker.io redis-server:redis-server nginx:nginx-light curl:curl chromium:chromium
# The compose stack test needs Compose: v2 when the docker CLI has it, else Debian's docker-compose.
docker compose version >/dev/null 2>&1 || ensure_commands docker-compose:docker-compose

# 2. Node dependencies and tap's plugin build, when out of date.
ensure_node_deps

# 3. Static checks (skipped for a focused run that names test files): lint, format and types.
checks_status=0
if [ $# -eq 0 ]; then
  step=$(now_ms)
  npm run --silent lint || checks_status=1
  npm run --silent typecheck || checks_status=1
  log "lint and typecheck took $(elapsed "$step")$([ $checks_status -eq 0 ] || echo ': FAILED')"
fi

# 4. Docker engine.
if docker_answers; then
  log "using the Docker engine at ${DOCKER_HOST:-the default socket}"
else
  [ -z "${DOCKER_HOST:-}" ] || die "DOCKER_HOST=$DOCKER_HOST does not answer"
  ensure_commands dockerd:docker.io
  step=$(now_ms)
  mkdir -p "$run_dir/docker"
  export DOCKER_HOST="unix://$run_dir/docker/docker.sock"
  dockerd --data-root "$run_dir/docker/data" --exec-root "$run_dir/docker/exec" \
    --pidfile "$run_dir/docker/dockerd.pid" --host "$DOCKER_HOST" \
    >"$run_dir/docker/dockerd.log" 2>&1 &
  own_dockerd_pid=$!
  wait_for docker_answers 60 || { tail -20 "$run_dir/docker/dockerd.log" >&2; die "dockerd did not start"; }
  log "started own dockerd in $(elapsed "$step") (log: $run_dir/docker/dockerd.log)"
fi

# 5. Redis.
if [ -n "${TEST_REDIS_URL:-}" ]; then
  log "using Redis at the given TEST_REDIS_URL"
else
  port=$(free_port)
  mkdir -p "$run_dir/redis"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$run_dir/redis" --save '' --appendonly no \
    --logfile "$run_dir/redis/redis.log" &
  own_redis_pid=$!
  export TEST_REDIS_URL="redis://127.0.0.1:$port"
  wait_for "redis-cli -p $port ping" 10 || die "redis-server did not start"
  log "started own redis-server on 127.0.0.1:$port"
fi

# 6. Images, offline.
step=$(now_ms)
export NODE_BASE_IMAGE="${NODE_BASE_IMAGE:-tenancy/node-base:local}"
export TENANT_IMAGE="${TENANT_IMAGE:-tenancy/tenant:local}"
if [ -n "${TEST_SKIP_IMAGE_BUILD:-}" ]; then
  docker image inspect "$TENANT_IMAGE" >/dev/null 2>&1 || die "TEST_SKIP_IMAGE_BUILD is set but $TENANT_IMAGE does not exist"
  log "using the existing images (TEST_SKIP_IMAGE_BUILD)"
else
  scripts/build-images.sh
  log "image builds took $(elapsed "$step")"
fi

# 7. Every test. tap's summary becomes the plain "N passed, N failed" line CI reads.
step=$(now_ms)
set +e
npx tap "$@" 2>&1 | tee "$run_dir/tap.log"
tap_status=${PIPESTATUS[0]}
set -e
summary=$(grep -E '^# \{ total: [0-9]+' "$run_dir/tap.log" | tail -n 1)
total=$(sed -E 's/.*total: ([0-9]+).*/\1/' <<<"$summary")
failed=$(grep -oE 'fail: [0-9]+' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
skipped=$(grep -oE 'skip: [0-9]+' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
log "tests took $(elapsed "$step")"
echo "tests: $((${total:-0} - failed - skipped)) passed, ${failed} failed, ${skipped} skipped"
[ "$checks_status" -eq 0 ] || { log "lint or typecheck failed (see above)"; exit 1; }
exit "$tap_status"
