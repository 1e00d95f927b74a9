#!/usr/bin/env bash
# Host mode for development (`make dev`): the supervisor, the gateway and nginx run as processes
# on this machine, from the TypeScript sources, against this machine's Docker engine and a Redis.
# Ctrl-C stops all three; tenant containers keep running and are adopted at the next start.
#
#   Config   .env when it exists (./setup.sh writes one), otherwise development defaults; secrets
#            not set there are generated once into .build/dev/secrets.env.
#   Login    AUTH_MODE=dev unless .env says otherwise: anyone may sign in as anyone. Local only.
#   Redis    REDIS_URL when it answers, otherwise a redis-server of its own (persistence on)
#            with its data in .build/dev/redis.
#   Edge     nginx on 127.0.0.1:${EDGE_PORT:-8080} with the same template as the compose stack.
#   Images   built offline (scripts/build-images.sh) when TENANT_IMAGE is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
LOG_TAG=dev

dev_dir="$PWD/.build/dev"
mkdir -p "$dev_dir"/{redis,logs,nginx/conf,nginx/logs,nginx/tmp}

# 1. Configuration: .env, then generated secrets, then host-mode defaults.
set -a
# shellcheck disable=SC1091
[ ! -f .env ] || . ./.env
secrets="$dev_dir/secrets.env"
if [ ! -f "$secrets" ]; then
  umask 077
  {
    for name in ADMIN_TOKEN SUPERVISOR_TOKEN TENANT_NAMESPACE_KEY COOKIE_JWT_SECRET TENANT_LABEL_KEY; do
      echo "$name=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')"
    done
  } >"$secrets"
  umask 022
  log "generated development secrets in $secrets"
fi
for name in ADMIN_TOKEN SUPERVISOR_TOKEN TENANT_NAMESPACE_KEY COOKIE_JWT_SECRET TENANT_LABEL_KEY; do
  [ -n "${!name:-}" ] || eval "$(grep "^$name=" "$secrets")"
  # A secrets file from before this secret existed: add it.
  if [ -z "${!name:-}" ]; then
    echo "$name=$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')" >>"$secrets"
    eval "$(grep "^$name=" "$secrets")"
  fi
done
AUTH_MODE="${AUTH_MODE:-dev}"
[ "$AUTH_MODE" != dev ] || DEV_AUTH_ENABLED=true
EDGE_PORT="${EDGE_PORT:-8080}"
SUPERVISOR_HOST=127.0.0.1
SUPERVISOR_PORT="${SUPERVISOR_PORT:-4010}"
GATEWAY_HOST=127.0.0.1
GATEWAY_PORT="${GATEWAY_PORT:-3000}"
SUPERVISOR_URL="http://127.0.0.1:$SUPERVISOR_PORT"
PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://localhost:$EDGE_PORT}"
DATABASE_PATH="$dev_dir/tenancy.db"
BACKUP_DIR="$dev_dir/backups"
# In host mode the gateway and the supervisor reach tenants through the host's address on each
# tenant's bridge (which the supervisor's network filter keeps tenants from connecting to).
TENANT_NETWORK_ATTACH=
TENANCY_INSTANCE="${TENANCY_INSTANCE:-tenancy-dev}"
TENANT_IMAGE="${TENANT_IMAGE:-tenancy/tenant:local}"
# Disk quotas loop-mount a filesystem per tenant, which needs root; a developer's own account
# runs without them (the supervisor says so at start, loudly).
if [ "$(id -u)" != 0 ] && [ -z "${UNSAFE_TENANT_DISK_UNBOUNDED:-}" ]; then
  UNSAFE_TENANT_DISK_UNBOUNDED=true
  log "not root: tenant disks are not bounded in this dev run (disk quotas need root for loop mounts)"
fi
# So does the network filter (iptables) that keeps tenants off services listening on all of the
# host's addresses.
if [ "$(id -u)" != 0 ] && [ -z "${UNSAFE_TENANT_HOST_REACHABLE:-}" ]; then
  UNSAFE_TENANT_HOST_REACHABLE=true
  log "not root: tenants can reach services listening on all of this host's addresses in this dev run (the network filter needs root)"
fi
set +a

pids=()
cleanup() {
  local status=$?
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  log "stopped (tenant containers keep running; the next start adopts them)"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 2. Prerequisites.
docker_answers || die "no Docker engine answers at ${DOCKER_HOST:-the default socket}: start dockerd first"
command -v nginx >/dev/null || die "nginx is missing: apt-get install nginx-light"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$EDGE_PORT" "$SUPERVISOR_PORT" "$GATEWAY_PORT"; do
  port_free "$port" || die "port $port on 127.0.0.1 is taken (set EDGE_PORT, SUPERVISOR_PORT or GATEWAY_PORT)"
done
if ! docker image inspect "$TENANT_IMAGE" >/dev/null 2>&1; then
  TENANT_IMAGE="$TENANT_IMAGE" scripts/build-images.sh tenant
fi

# 3. Redis.
redis_answers() { [ "$(timeout 2 redis-cli -u "$1" ping 2>/dev/null)" = PONG ]; }
if [ -n "${REDIS_URL:-}" ] && redis_answers "$REDIS_URL"; then
  log "using Redis at REDIS_URL"
else
  command -v redis-server >/dev/null || die "no Redis answers and redis-server is missing: apt-get install redis-server"
  redis_port=$(free_port)
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dev_dir/redis" --appendonly yes \
    --logfile "$dev_dir/logs/redis.log" &
  pids+=($!)
  export REDIS_URL="redis://127.0.0.1:$redis_port"
  wait_for "redis_answers $REDIS_URL" 10 || die "redis-server did not start (see $dev_dir/logs/redis.log)"
  log "started redis-server on 127.0.0.1:$redis_port (data in $dev_dir/redis)"
fi

# 4. The services, from source. Their JSON logs go to the terminal and to .build/dev/logs.
run_service() {
  local name=$1
  node --conditions=tenancy-source --import=tsx "$name/src/server.ts" > >(tee -a "$dev_dir/logs/$name.log") 2>&1 &
  pids+=($!)
}
run_service supervisor
wait_for "curl -fsS $SUPERVISOR_URL/health" 30 || die "the supervisor did not start (see $dev_dir/logs/supervisor.log)"
run_service gateway
wait_for "curl -fsS http://127.0.0.1:$GATEWAY_PORT/health" 30 || die "the gateway did not start (see $dev_dir/logs/gateway.log)"

# 5. nginx, with the compose stack's template.
npx tsx scripts/render-nginx.ts --standalone "$dev_dir/nginx" "127.0.0.1:$EDGE_PORT" "127.0.0.1:$GATEWAY_PORT"
nginx -p "$dev_dir/nginx" -c "$dev_dir/nginx/conf/nginx.conf" -t -q
nginx -p "$dev_dir/nginx" -c "$dev_dir/nginx/conf/nginx.conf" &
pids+=($!)
wait_for "curl -fsS http://127.0.0.1:$EDGE_PORT/health" 10 || die "nginx did not start (see $dev_dir/nginx/logs)"

[ "$AUTH_MODE" != dev ] || log "AUTH_MODE=dev: anyone can sign in as anyone. For local development only."
cat <<EOF

  Tenancy runs in host mode at http://127.0.0.1:$EDGE_PORT  (Ctrl-C stops it)

  Browser:  open http://127.0.0.1:$EDGE_PORT/ and sign in with any user id
  curl:     curl -c jar -b jar -H 'content-type: application/json' \\
              -d '{"user_id":"alice","email":"alice@example.com","plan":"free","onboarding_completed":true}' \\
              http://127.0.0.1:$EDGE_PORT/auth/login
            curl -c jar -b jar -H 'content-type: application/json' -d '{"user_id":"alice"}' http://127.0.0.1:$EDGE_PORT/warmup
            curl -c jar -b jar -H 'content-type: application/json' -d '{"message":"Hello!"}' http://127.0.0.1:$EDGE_PORT/chat
  Admin:    ADMIN_TOKEN=\$(grep ^ADMIN_TOKEN= $secrets | cut -d= -f2-) \\
              SUPERVISOR_URL=$SUPERVISOR_URL npx tsx supervisor/src/cli/admin-cli.ts list

EOF
wait -n "${pids[@]}"
die "a service stopped; see $dev_dir/logs"
