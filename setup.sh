#!/usr/bin/env bash
# From nothing to a running Tenancy on this host: checks the prerequisites, writes .env with
# generated secrets, builds the images, starts the compose stack, waits until it is healthy and
# prints the next steps. Safe to run again: an existing .env keeps its values (only missing
# secrets are generated), images rebuild from cache and running services are left alone.
#
# Usage: ./setup.sh [--non-interactive] [--auth dev|token] [--images local|upstream] [--skip-build]
#
#   --auth      login mode written into a new .env. dev (the default for a fresh setup): anyone
#               who reaches the edge may log in as anyone, for local evaluation only; the edge
#               is bound to 127.0.0.1. token: only a backend holding LOGIN_TOKEN may log users in.
#   --images    local: build every image offline from this host's node, nginx and redis-server
#               (no registry needed). upstream: the official node, nginx and redis images.
#               Default: what .env says, else local when the upstream images are not on the
#               engine and this host has those programs, else upstream.
#
# Env: TENANCY_ENV_FILE (default ./.env), COMPOSE_PROJECT_NAME (default: .env's, else tenancy),
#      SETUP_TIMEOUT seconds to wait for health (default 180), SETUP_SKIP_BUILD=1 (as --skip-build).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/lib.sh
LOG_TAG=setup

interactive=1 auth="" images="${SETUP_IMAGES:-}" skip_build="${SETUP_SKIP_BUILD:-}"
[ -t 0 ] || interactive=0
while [ $# -gt 0 ]; do
  case "$1" in
    --non-interactive) interactive=0 ;;
    --auth) auth="${2:-}"; shift ;;
    --images) images="${2:-}"; shift ;;
    --skip-build) skip_build=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see ./setup.sh --help)" ;;
  esac
  shift
done
case "$auth" in "" | dev | token) ;; *) die "--auth is dev or token" ;; esac
case "$images" in "" | local | upstream) ;; *) die "--images is local or upstream" ;; esac

env_file="${TENANCY_ENV_FILE:-.env}"
export TENANCY_ENV_FILE="$env_file"

# Reads KEY's value from the env file (empty when absent or commented out).
env_get() { sed -n "s/^$1=//p" "$env_file" 2>/dev/null | tail -n 1; }
# Sets KEY=VALUE in the env file: replaces the KEY line (or its commented-out form) in place,
# else appends. Values never reach the terminal or a command line.
env_set() {
  local tmp
  tmp="$(mktemp "$env_file.XXXXXX")"
  KEY="$1" VALUE="$2" awk '
    BEGIN { key = ENVIRON["KEY"]; line = key "=" ENVIRON["VALUE"] }
    !done && ($0 ~ "^" key "=" || $0 ~ "^# " key "=") { print line; done = 1; next }
    { print }
    END { if (!done) print line }' "$env_file" >"$tmp"
  chmod 600 "$tmp"
  mv "$tmp" "$env_file"
}
# 32 random bytes as hex: strong, and safe in URLs, YAML and shell.
secret() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

# ---- 1. prerequisites ----
command -v docker >/dev/null 2>&1 ||
  die "the docker command is missing: install Docker Engine (https://docs.docker.com/engine/install/; on Debian: apt-get install docker.io)"
docker_answers ||
  die "no Docker engine answers at ${DOCKER_HOST:-/var/run/docker.sock}: start it (systemctl start docker) or check that you may use its socket"
log "Docker engine $(docker version --format '{{.Server.Version}}')"
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose) separator=-
  log "Docker Compose $(docker compose version --short)"
elif command -v docker-compose >/dev/null 2>&1; then
  compose_cmd=(docker-compose) separator=_
  v1="$(docker-compose version --short)"
  log "only the older docker-compose $v1 is installed: using it (Compose v2, 'docker compose', is recommended)"
  # Profiles and depends_on conditions arrived in 1.28.
  [ "$(printf '%s\n1.28.0\n' "$v1" | sort -V | head -n 1)" = 1.28.0 ] || die "docker-compose $v1 is too old: 1.28 or newer, or Compose v2, is needed"
else
  die "Docker Compose is missing: install the Compose v2 plugin (docker-compose-plugin), or docker-compose 1.28+"
fi
socket="${DOCKER_HOST:-unix:///var/run/docker.sock}"
[ "${socket#unix://}" != "$socket" ] || die "DOCKER_HOST=$DOCKER_HOST: the supervisor needs the engine's unix socket, not a TCP address"
socket="${socket#unix://}"

# ---- 2. .env ----
created=0
if [ ! -f "$env_file" ]; then
  if [ -z "$auth" ] && [ "$interactive" -eq 1 ]; then
    printf 'Login mode: dev (local evaluation: anyone reaching the edge logs in as anyone) or token? [dev] '
    read -r auth
  fi
  auth="${auth:-dev}"
  case "$auth" in dev | token) ;; *) die "login mode is dev or token" ;; esac
  install -m 600 .env.example "$env_file"
  env_set AUTH_MODE "$auth"
  env_set DEV_AUTH_ENABLED "$([ "$auth" = dev ] && echo true || echo false)"
  created=1
  log "created $env_file from .env.example (mode 600)"
fi
generated=()
for key in ADMIN_TOKEN SUPERVISOR_TOKEN TENANT_NAMESPACE_KEY COOKIE_JWT_SECRET LOGIN_TOKEN REDIS_PASSWORD; do
  [ -n "$(env_get "$key")" ] && continue
  env_set "$key" "$(secret)"
  generated+=("$key")
done
[ ${#generated[@]} -eq 0 ] || log "generated ${generated[*]} in $env_file (not shown; read them there)"

project="${COMPOSE_PROJECT_NAME:-$(env_get COMPOSE_PROJECT_NAME)}"
project="${project:-tenancy}"
[[ "$project" =~ ^[a-z0-9][a-z0-9_-]*$ ]] || die "COMPOSE_PROJECT_NAME=$project: use lowercase letters, digits, - and _"
export COMPOSE_PROJECT_NAME="$project"
[ -n "$(env_get COMPOSE_PROJECT_NAME)" ] || env_set COMPOSE_PROJECT_NAME "$project"

if [ -z "$images" ]; then
  images="$(env_get TENANCY_IMAGES)"
fi
if [ -z "$images" ]; then
  images=upstream
  if ! docker image inspect nginx:1.27-alpine redis:7-alpine >/dev/null 2>&1 &&
    command -v node >/dev/null && command -v nginx >/dev/null && command -v redis-server >/dev/null; then
    images=local
  fi
fi
env_set TENANCY_IMAGES "$images"
if [ "$images" = local ]; then
  env_set NGINX_IMAGE tenancy/nginx:local
  env_set REDIS_IMAGE tenancy/redis:local
elif [ "$(env_get NGINX_IMAGE)" = tenancy/nginx:local ]; then
  env_set NGINX_IMAGE nginx:1.27-alpine
  env_set REDIS_IMAGE redis:7-alpine
fi

# Settings derived from this host and Compose: kept current on every run.
# compose.yaml hands the services the same file (env_file), which it finds through this.
[ "$env_file" = .env ] || env_set TENANCY_ENV_FILE "$(realpath "$env_file")"
replicas="$(env_get API_REPLICAS)"
attach=()
for i in $(seq 1 "${replicas:-1}"); do attach+=("$project${separator}api$separator$i"); done
attach+=("$project${separator}supervisor${separator}1")
env_set TENANT_NETWORK_ATTACH "$(IFS=,; echo "${attach[*]}")"
env_set DOCKER_SOCKET "$socket"
env_set DOCKER_GID "$(stat -c %g "$socket")"

compose() { "${compose_cmd[@]}" --env-file "$env_file" -p "$project" "$@"; }

# ---- 3. images ----
if [ -n "$skip_build" ]; then
  log "skipping the image builds (--skip-build)"
elif [ "$images" = local ]; then
  log "building every image offline from this host's node, nginx and redis-server"
  command -v npm >/dev/null 2>&1 || die "--images local needs Node.js 20.11+ and npm on this host (or use --images upstream)"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=11)?0:1)' ||
    die "--images local needs Node.js 20.11 or newer (found $(node --version)); or use --images upstream"
  # The compilers and the native SQLite addon the images reuse come from the workspace install.
  [ -f node_modules/.package-lock.json ] || { log "installing node dependencies (npm ci)"; npm ci --no-audit --no-fund --loglevel=error; }
  NODE_BASE_IMAGE="$(env_get NODE_BASE_IMAGE)" TENANT_IMAGE="$(env_get TENANT_IMAGE)" \
    API_IMAGE="$(env_get API_IMAGE)" SUPERVISOR_IMAGE="$(env_get SUPERVISOR_IMAGE)" scripts/build-images.sh
else
  log "building from the upstream images (this pulls node, nginx and redis)"
  compose build api supervisor
  compose --profile build-only build tenant-base-build
  compose pull gateway redis
fi

# ---- 4. start and wait ----
step=$(now_ms)
compose up -d --no-build --remove-orphans
timeout="${SETUP_TIMEOUT:-180}"
deadline=$(($(date +%s) + timeout))
while :; do
  states="$(compose ps -q | xargs -r docker inspect --format '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}')"
  pending="$(grep -v ' healthy$' <<<"$states" || true)"
  [ -n "$states" ] && [ -z "$pending" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    compose ps >&2
    while read -r name _; do
      log "last lines of ${name#/}:"
      docker logs --tail 20 "${name#/}" >&2 2>&1 || true
    done <<<"$pending"
    die "not healthy after ${timeout}s: ${pending//$'\n'/, }"
  fi
  sleep 1
done
log "stack healthy in $(elapsed "$step")"

# ---- 5. next steps ----
port="$(env_get EDGE_PORT)" port="${port:-8080}"
bind="$(env_get EDGE_BIND)" bind="${bind:-127.0.0.1}"
mode="$(env_get AUTH_MODE)" mode="${mode:-token}"
host="$([ "$bind" = 0.0.0.0 ] && echo 127.0.0.1 || echo "$bind")"
base="http://$host:$port"
# Prints its arguments as the lines of a box on stderr; the longest line sets the width, so the
# right border lines up whatever $base and $env_file are.
box() {
  local line width=0 rule
  for line in "$@"; do [ "${#line}" -le "$width" ] || width=${#line}; done
  rule=$(printf '─%.0s' $(seq 1 $((width + 4))))
  printf '\n  ┌%s┐\n' "$rule" >&2
  for line in "$@"; do printf '  │  %s%*s  │\n' "$line" $((width - ${#line})) '' >&2; done
  printf '  └%s┘\n' "$rule" >&2
}
if [ "$mode" = dev ]; then
  box "AUTH_MODE=dev: POST /auth/login trusts whatever the client sends." \
    "Anyone who reaches $base can log in as any user." \
    "For local evaluation only. Before exposing it: AUTH_MODE=token (or access)" \
    "and DEV_AUTH_ENABLED=false in $env_file, then make up."
  [ "$bind" = 127.0.0.1 ] || log "WARNING: dev login mode with EDGE_BIND=$bind: other machines can log in as anyone"
  [ -z "$(env_get TUNNEL_TOKEN)" ] || log "WARNING: dev login mode with a TUNNEL_TOKEN: do not start the prod profile like this"
  login_auth="" token_hint=""
else
  log "AUTH_MODE=$mode: only a backend holding LOGIN_TOKEN (in $env_file) may log users in"
  login_auth=" -H \"Authorization: Bearer \$LOGIN_TOKEN\""
fi
# A command for the reader to run, not a value: the $(...) stays literal.
# shellcheck disable=SC2016
[ "$mode" = dev ] || token_hint=$(printf '\n  LOGIN_TOKEN=$(sed -n "s/^LOGIN_TOKEN=//p" %s)' "$env_file")
[ "$created" -eq 0 ] || log "configuration: $env_file (edit it, then make up)"
cat <<EOF

Tenancy is running at $base (project $project, Compose: ${compose_cmd[*]}).

Try the flow with curl and a cookie jar:
$token_hint
  curl -c jar -b jar -X POST $base/auth/login$login_auth -H 'content-type: application/json' \\
    -d '{"user_id":"alice","email":"alice@example.com","plan":"free","onboarding_completed":true}'
  curl -c jar -b jar -X POST $base/warmup -H 'content-type: application/json' -d '{"user_id":"alice"}'
  curl -c jar -b jar -X POST $base/chat -H 'content-type: application/json' -d '{"message":"Hello!"}'

Then: make tenants (list tenants), make logs, make down. In a browser: $base
EOF
