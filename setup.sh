#!/usr/bin/env bash
# From nothing to a running Tenancy on this host: installs and starts Docker when it is missing
# (see "Docker" below), writes .env with generated secrets, builds the images, starts the compose
# stack, waits until it is healthy and prints the next steps. Safe to run again: an existing .env
# keeps its values (only missing secrets are generated), images rebuild from cache and running
# services are left alone.
#
# Usage: ./setup.sh [--non-interactive] [--no-install] [--engine-only] [--auth dev|token]
#                   [--images local|upstream] [--skip-build]
#
#   --non-interactive
#               ask nothing (also when stdin is not a terminal): a new .env gets the dev login
#               mode, missing Docker packages are installed.
#   --no-install
#               install nothing: when Docker is missing, print the commands to run and stop.
#   --engine-only
#               stop once the Docker engine answers and Compose is there, after installing and
#               starting them as below; writes no .env and starts no stack.
#   --auth      login mode written into a new .env. dev (the default for a fresh setup): anyone
#               who reaches the edge may log in as anyone, for local evaluation only; the edge
#               is bound to 127.0.0.1, and setup.sh refuses to start the tunnel (the prod profile
#               in COMPOSE_PROFILES) with it unless .env has
#               ALLOW_DEV_LOGIN_ON_PUBLIC_URL=yes-i-understand. token: only a backend holding
#               LOGIN_TOKEN may log users in.
#   --images    local: build every image offline from this host's node, nginx and redis-server
#               (no registry needed). upstream: the official node, nginx and redis images.
#               Default: what .env says, else local when the upstream images are not on the
#               engine and this host has those programs, else upstream.
#
# Docker: when Docker Engine or Compose is missing, on Debian or Ubuntu as root, setup.sh names
# the distribution's packages (docker.io, and docker-compose-v2 or docker-compose-plugin where apt
# has one, else docker-compose), asks, and installs them with apt. When the engine is installed
# but does not answer, it starts it: with systemd where systemd runs (systemctl enable --now
# docker), otherwise as a background dockerd (log /var/log/tenancy-dockerd.log, pid file
# /var/run/docker.pid) that does not start again at boot. On other systems, or not as root, it
# prints the steps to take by hand and stops.
#
# Env: TENANCY_ENV_FILE (default ./.env), COMPOSE_PROJECT_NAME (default: .env's, else tenancy),
#      SETUP_TIMEOUT seconds to wait for health (default 180), SETUP_SKIP_BUILD=1 (as --skip-build),
#      DOCKER_HOST the engine's unix socket (default unix:///var/run/docker.sock). For a dockerd
#      setup.sh starts itself: SETUP_DOCKERD_LOG (default /var/log/tenancy-dockerd.log),
#      SETUP_DOCKERD_PIDFILE (default /var/run/docker.pid), SETUP_DOCKERD_ARGS more dockerd
#      arguments, split on spaces (for example --data-root DIR, for a second engine beside one).
set -euo pipefail
cd "$(dirname "$0")"
. scripts/lib.sh
LOG_TAG=setup

interactive=1 auth="" images="${SETUP_IMAGES:-}" skip_build="${SETUP_SKIP_BUILD:-}" no_install="" engine_only=""
[ -t 0 ] || interactive=0
while [ $# -gt 0 ]; do
  case "$1" in
    --non-interactive) interactive=0 ;;
    --auth) auth="${2:-}"; shift ;;
    --images) images="${2:-}"; shift ;;
    --skip-build) skip_build=1 ;;
    --no-install) no_install=1 ;;
    --engine-only) engine_only=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see ./setup.sh --help)" ;;
  esac
  shift
done
case "$auth" in "" | dev | token) ;; *) die "--auth is dev or token" ;; esac
case "$images" in "" | local | upstream) ;; *) die "--images is local or upstream" ;; esac

env_file="${TENANCY_ENV_FILE:-.env}"

# env_get, env_set (on $env_file) and secret: scripts/lib.sh.

# ---- 0. dev login never goes out through the tunnel ----
# AUTH_MODE=dev signs anyone in as anyone; the prod profile starts cloudflared, which puts the
# edge on the internet. Refuse the pair before anything is installed or started. The gateway
# itself refuses dev login on a PUBLIC_BASE_URL that is not loopback, but a tunnel in front of a
# localhost URL is invisible to it. The mode is the env file's (a new one gets --auth, default
# dev); the profiles are what Compose will read (the environment, else the env file).
planned_auth="$(if [ -f "$env_file" ]; then env_get AUTH_MODE; else echo "${auth:-dev}"; fi)"
profiles="${COMPOSE_PROFILES:-$(env_get COMPOSE_PROFILES)}"
case ",${profiles// /}," in
  *,prod,* | *,\*,*)
    if [ "$planned_auth" = dev ] && [ "$(env_get ALLOW_DEV_LOGIN_ON_PUBLIC_URL)" != yes-i-understand ]; then
      die "refusing to start the Cloudflare tunnel (COMPOSE_PROFILES=$profiles) with AUTH_MODE=dev: anyone on the internet could sign in as anyone. Use AUTH_MODE=token (or access) in $env_file, or leave prod out of COMPOSE_PROFILES. Only if you truly mean it: ALLOW_DEV_LOGIN_ON_PUBLIC_URL=yes-i-understand in $env_file"
    fi
    ;;
esac

# ---- 1. prerequisites: Docker Engine and Compose, installed and started when missing ----
socket="${DOCKER_HOST:-unix:///var/run/docker.sock}"
[ "${socket#unix://}" != "$socket" ] || die "DOCKER_HOST=$DOCKER_HOST: the supervisor needs the engine's unix socket, not a TCP address"
socket="${socket#unix://}"
is_root=0 sudo="sudo "
[ "$(id -u)" -ne 0 ] || is_root=1 sudo=""

has_compose() { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }
# dockerd lives in /usr/sbin, which is often not on a user's PATH.
has_dockerd() { command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || [ -x /usr/bin/dockerd ]; }
# Debian, Ubuntu and their derivatives: os-release's ID or ID_LIKE, and apt.
is_debian_like() {
  command -v apt-get >/dev/null 2>&1 || return 1
  # shellcheck disable=SC1091 # the host's file, read in a subshell
  case " $(. /etc/os-release 2>/dev/null && echo "${ID:-} ${ID_LIKE:-}") " in
    *" debian "* | *" ubuntu "*) return 0 ;;
  esac
  return 1
}
# Prints the first of the packages apt can install (one with a candidate version): Compose's package
# name depends on the release (docker-compose-v2 on Ubuntu, docker-compose-plugin from Docker's
# own repository, docker-compose on Debian, where it is Compose v2 since trixie).
first_installable() {
  local available pkg
  # One apt-cache call for all of them (each takes a while): the names that have a candidate.
  available="$(apt-cache policy "$@" 2>/dev/null |
    awk '/^[^ ]/ { name = $1; sub(/:$/, "", name) } /^ +Candidate:/ && $2 != "(none)" { print name }')"
  for pkg in "$@"; do
    if grep -qxF "$pkg" <<<"$available"; then
      echo "$pkg"
      return 0
    fi
  done
  return 1
}

need_engine=0 need_compose=0
command -v docker >/dev/null 2>&1 || need_engine=1
# The CLI alone (a remote engine's client) is enough only while its engine answers.
[ "$need_engine" -eq 1 ] || has_dockerd || docker_answers || need_engine=1
has_compose || need_compose=1
if [ $((need_engine + need_compose)) -gt 0 ]; then
  case "$need_engine$need_compose" in
    11) what="Docker Engine and Docker Compose are" ;;
    10) what="Docker Engine is" ;;
    *) what="Docker Compose is" ;;
  esac
  if ! is_debian_like; then
    log "error: $what not installed, and setup.sh installs them only on Debian or Ubuntu. To do it by hand:"
    cat >&2 <<EOF

  1. Install Docker Engine and Docker Compose v2 for this system: https://docs.docker.com/engine/install/
  2. Start the engine and have it start at boot: ${sudo}systemctl enable --now docker
  3. Check both: docker version && docker compose version
  4. Run ./setup.sh again.

EOF
    exit 1
  fi
  # On a fresh system apt's package lists are empty: fill them before choosing package names.
  if [ "$is_root" -eq 1 ] && [ -z "$no_install" ] && ! first_installable docker.io >/dev/null; then
    log "reading the distribution's package lists to find the Docker packages (apt-get update)"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  fi
  # As ensure_commands pairs: command:package.
  pairs=()
  if [ "$need_engine" -eq 1 ]; then
    pairs+=("$(command -v docker >/dev/null 2>&1 && echo dockerd || echo docker):docker.io")
    # dockerd checks registries' certificates against these; docker.io only recommends them, and
    # ensure_commands installs without recommends.
    [ -f /etc/ssl/certs/ca-certificates.crt ] || pairs+=(update-ca-certificates:ca-certificates)
  fi
  [ "$need_compose" -eq 0 ] ||
    pairs+=("docker-compose:$(first_installable docker-compose-v2 docker-compose-plugin docker-compose || echo docker-compose)")
  packages=("${pairs[@]#*:}")
  manual_steps() {
    printf '\n  %sapt-get update\n  %sapt-get install -y %s\n  ./setup.sh\n\n' "$sudo" "$sudo" "${packages[*]}" >&2
  }
  log "$what not installed; the distribution's packages: ${packages[*]}"
  if [ -n "$no_install" ]; then
    log "error: not installing them (--no-install). To do it by hand:"
    manual_steps
    exit 1
  fi
  if [ "$is_root" -eq 0 ]; then
    log "error: installing them needs root: run sudo ./setup.sh, or do it by hand:"
    manual_steps
    exit 1
  fi
  if [ "$interactive" -eq 1 ]; then
    printf 'Install %s with apt now? [Y/n] ' "${packages[*]}"
    read -r answer || answer=n
    case "$answer" in
      "" | [yY] | [yY][eE][sS]) ;;
      *) log "error: not installing them. To do it by hand:"; manual_steps; exit 1 ;;
    esac
  fi
  step=$(now_ms)
  ensure_commands "${pairs[@]}"
  log "installed ${packages[*]} in $(elapsed "$step")"
fi

if ! docker_answers; then
  if [ "$is_root" -eq 0 ]; then
    log "error: no Docker engine answers at $socket. Either it is not running, or you may not use its socket:"
    cat >&2 <<EOF

  To start it (setup.sh does that when run as root):
    sudo systemctl enable --now docker      # where systemd runs; else: sudo ./setup.sh
  To use its socket as $(id -un): run setup.sh as root, or join the docker group (members are
  root in effect), then log in again:
    sudo usermod -aG docker $(id -un)

EOF
    exit 1
  fi
  step=$(now_ms)
  default_socket=0
  [ "$socket" != /var/run/docker.sock ] && [ "$socket" != /run/docker.sock ] || default_socket=1
  if [ -d /run/systemd/system ] && [ "$default_socket" -eq 1 ]; then
    log "no Docker engine answers at $socket: starting it with systemd (systemctl enable --now docker)"
    systemctl enable --now docker >&2 || die "systemctl could not start docker: see journalctl -u docker"
    wait_for docker_answers 60 || die "the Docker engine does not answer 60 s after systemctl started it: see journalctl -u docker"
  else
    pidfile="${SETUP_DOCKERD_PIDFILE:-/var/run/docker.pid}"
    dockerd_log="${SETUP_DOCKERD_LOG:-/var/log/tenancy-dockerd.log}"
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
      log "a dockerd runs (pid $pid in $pidfile) but does not answer at $socket yet: waiting for it"
    else
      args=()
      # Settings /etc/docker/daemon.json may also hold are passed only when they differ from
      # dockerd's defaults: dockerd refuses a setting given both ways.
      [ "$default_socket" -eq 1 ] || args+=(--host "unix://$socket")
      [ -z "${SETUP_DOCKERD_PIDFILE:-}" ] || args+=(--pidfile "$pidfile")
      read -r -a extra <<<"${SETUP_DOCKERD_ARGS:-}"
      args+=("${extra[@]}")
      mkdir -p "$(dirname "$socket")" "$(dirname "$dockerd_log")"
      log "no Docker engine answers at $socket ($([ -d /run/systemd/system ] && echo "not systemd's socket" || echo "no systemd here")): starting dockerd in the background"
      # In a session of its own, so that Ctrl-C on setup.sh leaves it running, and with none of
      # setup.sh's stdio, so that whoever reads setup.sh's output does not wait for dockerd's end.
      # Without job control the child leads no process group: setsid runs dockerd in place, and
      # $! is dockerd's pid.
      setsid dockerd "${args[@]}" </dev/null >>"$dockerd_log" 2>&1 &
      pid=$!
      log "dockerd is pid $pid: log $dockerd_log, pid file $pidfile; it does not start again at boot (run ./setup.sh after one)"
    fi
    # Done as soon as it answers, or as soon as it exits.
    wait_for "docker_answers || ! kill -0 $pid" 60 || true
    if ! docker_answers; then
      tail -n 20 "$dockerd_log" >&2 2>/dev/null || true
      die "dockerd does not answer at $socket$(kill -0 "$pid" 2>/dev/null && echo " after 60 s" || echo ": it exited"); see $dockerd_log"
    fi
  fi
  log "the Docker engine answers after $(elapsed "$step")"
fi
engine_version="$(docker version --format '{{.Server.Version}}')"
log "Docker engine $engine_version"
# CVE-2024-29018: engines before 26.0 (25.0.5 on the 25 line) forward DNS from internal networks.
# The supervisor makes that harmless (tenants without egress get no upstream resolver); say so.
if [ "$(printf '%s\n26.0.0\n' "${engine_version%%[-+]*}" | sort -V | head -n 1)" != 26.0.0 ]; then
  log "engine $engine_version forwards DNS from internal networks (CVE-2024-29018): the supervisor gives tenants without egress no upstream resolver, so it is safe to use; an engine that blocks it itself needs Docker 26.0 or newer"
fi
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
  die "Docker Compose is missing: install Compose v2 (docker-compose-v2 or docker-compose-plugin), or docker-compose 1.28+"
fi
[ -z "$engine_only" ] || { log "the Docker engine and Compose are ready: stopping here (--engine-only)"; exit 0; }

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
for key in ADMIN_TOKEN SUPERVISOR_TOKEN TENANT_NAMESPACE_KEY COOKIE_JWT_SECRET TENANT_LABEL_KEY LOGIN_TOKEN REDIS_PASSWORD; do
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
replicas="$(env_get API_REPLICAS)"
attach=()
for i in $(seq 1 "${replicas:-1}"); do attach+=("$project${separator}api$separator$i"); done
attach+=("$project${separator}supervisor${separator}1")
env_set TENANT_NETWORK_ATTACH "$(IFS=,; echo "${attach[*]}")"
# Per-tenant disk quotas: the supervisor mounts one filesystem per tenant under TENANT_DISK_DIR
# through a short-lived privileged helper container (nsenter into the host's mount namespace), and
# sees those mounts through its bind of the folder with rslave propagation, which needs the folder
# on a shared mount (docs/operations.md, "Disk quotas").
disk_dir="$(env_get TENANT_DISK_DIR)"
disk_dir="${disk_dir:-/var/lib/tenancy-disks}"
case "$disk_dir" in /*) ;; *) die "TENANT_DISK_DIR=$disk_dir: use an absolute path (the engine and the supervisor see it the same way)" ;; esac
env_set TENANT_DISK_DIR "$disk_dir"
if [ -z "$(env_get TENANT_DISK_HELPER_IMAGE)" ] || [ "$(env_get TENANT_DISK_HELPER_IMAGE)" = tenancy/disk-helper:local ]; then
  # The upstream supervisor image (Debian) has nsenter; the offline one gets a helper of its own.
  if [ "$images" = local ]; then
    env_set TENANT_DISK_HELPER_IMAGE tenancy/disk-helper:local
  else
    supervisor_image="$(env_get SUPERVISOR_IMAGE)"
    env_set TENANT_DISK_HELPER_IMAGE "${supervisor_image:-tenancy/supervisor:local}"
  fi
fi
ensure_shared_mount() {
  case "$(findmnt -no PROPAGATION --target "$disk_dir" 2>/dev/null)" in
    shared*) return 0 ;;
  esac
  if [ "$is_root" != 1 ]; then
    log "error: $disk_dir must be on a shared mount (the supervisor sees tenant filesystems through it),"
    log "       and making it one needs root: run sudo ./setup.sh, or once per boot:"
    log "         sudo mkdir -p $disk_dir && sudo mount --bind $disk_dir $disk_dir && sudo mount --make-rshared $disk_dir"
    exit 1
  fi
  # A bind of the folder onto itself, made shared: the rest of the host's mounts stay as they are.
  mountpoint -q "$disk_dir" || mount --bind "$disk_dir" "$disk_dir"
  mount --make-rshared "$disk_dir"
  log "made $disk_dir a shared mount (a bind onto itself) for the tenant disks; after a reboot, run ./setup.sh again"
}
[ "$is_root" != 1 ] || mkdir -p "$disk_dir"
[ -d "$disk_dir" ] || die "$disk_dir does not exist: create it (sudo mkdir -p $disk_dir) or run sudo ./setup.sh"
ensure_shared_mount
if [ "$(env_get UNSAFE_TENANT_DISK_UNBOUNDED)" = true ]; then
  log "warning: tenant disks are not bounded (UNSAFE_TENANT_DISK_UNBOUNDED=true in $env_file):"
  log "         a tenant can fill this host's disk; remove the line to enforce the plans' diskMb"
fi
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
