#!/usr/bin/env bash
# The benchmarks (`make bench`): each prints its figures, ratios against a baseline measured in
# the same run, and a Markdown block for docs/performance.md. They need the Docker engine, and
# wrk, nginx and redis-server (installed with apt when missing), and the tenant image (built
# offline when missing). Each removes every container, network and volume it made.
#
#   proxy   gateway/bench/proxy.ts: one tenant through nginx directly, through the gateway,
#           configurable-http-proxy, bare @fastify/http-proxy and two gateways (wrk, 50 connections)
#   idle    supervisor/bench/idle.ts: CPU and memory of running tenants with no traffic
#   wake    supervisor/bench/wake.ts: cold and warm wakes through the supervisor's runtime
#   edge    supervisor/bench/wake-edge.ts: stopped and paused wakes through nginx against raw
#           `docker start` / `docker unpause`
#   storm   supervisor/bench/storm.ts: N stopped, then N paused tenants woken at once (N=100),
#           with the start queue and without it
#   boot    supervisor/bench/tenant-boot.ts: a tenant's start from stopped, bundled app against
#           unbundled, in the same image
#   density supervisor/bench/density.ts: 1,000 users with 200 running: the services' memory (compiled),
#           the idle tenants' CPU, the gateway's latency over 200 tenants against 1
#
# Usage: scripts/bench.sh [proxy|idle|wake|edge|boot|storm|density]...   (default: all of them)
# Env:   TENANT_IMAGE (default tenancy/tenant:local); each benchmark's own variables (see its header),
#        e.g. BASELINE_IMAGE=... BASELINE_COUNT=20 for idle.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
LOG_TAG=bench

benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(proxy idle wake edge boot storm density)
export TENANT_IMAGE="${TENANT_IMAGE:-tenancy/tenant:local}"

ensure_commands docker:docker.io wrk:wrk nginx:nginx-light redis-server:redis-server
docker_answers || die "the Docker engine at ${DOCKER_HOST:-the default socket} does not answer"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
if ! docker image inspect "$TENANT_IMAGE" >/dev/null 2>&1; then
  log "$TENANT_IMAGE is missing: building it offline"
  scripts/build-images.sh tenant
fi

run() { npx tsx --conditions=tenancy-source "$@"; }
for bench in "${benches[@]}"; do
  started=$(now_ms)
  log "$bench"
  case "$bench" in
    proxy) run gateway/bench/proxy.ts ${PROXY_ARGS:-} ;;
    idle) run supervisor/bench/idle.ts ${IDLE_ARGS:-} ;;
    wake) run supervisor/bench/wake.ts ${WAKE_ARGS:-} ;;
    edge) run supervisor/bench/wake-edge.ts ${EDGE_ARGS:-} ;;
    boot) run supervisor/bench/tenant-boot.ts ${BOOT_ARGS:-} ;;
    storm) run supervisor/bench/storm.ts ${STORM_ARGS:-} ;;
    # The services as deployed: compiled first.
    density) npm run --silent build && run supervisor/bench/density.ts ${DENSITY_ARGS:-} ;;
    *) die "unknown benchmark $bench (proxy, idle, wake, edge, boot, storm or density)" ;;
  esac
  log "$bench took $(elapsed "$started")"
done
