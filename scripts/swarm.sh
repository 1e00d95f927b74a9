#!/usr/bin/env bash
# Deploys Tenancy on a Docker Swarm (stack.yaml), or removes it: what ./setup.sh is to compose.
#
# Usage: scripts/swarm.sh up|down
#
# Settings come from the environment, then from the env file (TENANCY_ENV_FILE, default .env,
# the file ./setup.sh writes; the environment wins):
#   SWARM_MANAGER   Docker host of a manager (DOCKER_HOST syntax: unix://, tcp://, ssh://user@host);
#                   default: the engine this shell's docker talks to. Everything is deployed there.
#   SWARM_HOSTS     Docker hosts of every node (space- or comma-separated), to load the images
#                   into when there is no registry; default: SWARM_MANAGER only.
#   SWARM_REGISTRY  A registry prefix (registry.example:5000/tenancy): the images are tagged and
#                   pushed there and the nodes pull them; SWARM_HOSTS is then not needed.
#   SWARM_STACK     The stack's name (default tenancy).
#   SWARM_ENDPOINT_MODE  vip (default: Swarm's virtual IPs, which need IPVS in the nodes' kernels)
#                   or dnsrr (the tasks' own addresses; nginx is restarted when the api replicas change).
#   DOCKER_SOCKET   The Docker socket on the supervisor's node (default /var/run/docker.sock).
#   SWARM_NODE_ENGINES, SWARM_NODE_TLS_DIR: as the supervisor reads them (docs/operations.md);
#                   the TLS folder (on this machine) becomes three Swarm secrets, and unix://
#                   engines are bound into the supervisor's container at the same path.
# The images are the ones on this shell's engine (scripts/build-images.sh builds them offline):
# API_IMAGE, SUPERVISOR_IMAGE, NGINX_IMAGE, REDIS_IMAGE, TENANT_IMAGE as in .env.
#
# `up` (again, after a change: it updates in place): generates the secrets .env lacks (as
# setup.sh does), makes a Swarm secret of each (and configs of the nginx files) named with a hash
# of its content, distributes the images, labels the manager tenancy.data and tenancy.edge when no
# node has these labels, deploys, and waits until every service runs. `down` removes the stack
# and its secrets and configs; tenant services, volumes and networks are kept (as `make down`).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. scripts/lib.sh
export LOG_TAG=swarm

action="${1:-}"
case "$action" in up | down) ;; *) die "usage: scripts/swarm.sh up|down" ;; esac

env_file="${TENANCY_ENV_FILE:-.env}"
[ -f "$env_file" ] || install -m 600 .env.example "$env_file"
# env_set and secret (on $env_file): scripts/lib.sh.
# Exports the file's KEY=VALUE lines (not evaluated: values are taken literally) that the
# environment does not already set: `docker stack deploy` reads ${VARIABLE}s from its environment.
load_env_file() {
  local line key
  while IFS= read -r line || [ -n "$line" ]; do
    [[ "$line" =~ ^([A-Z_][A-Z0-9_]*)=(.*)$ ]] || continue
    key="${BASH_REMATCH[1]}"
    [ -n "${!key+set}" ] || export "$key=${BASH_REMATCH[2]}"
  done <"$env_file"
}
load_env_file

stack="${SWARM_STACK:-tenancy}"
[[ "$stack" =~ ^[a-z0-9][a-z0-9_-]*$ ]] || die "SWARM_STACK=$stack: use lowercase letters, digits, - and _"
manager=(docker)
[ -z "${SWARM_MANAGER:-}" ] || manager=(docker -H "$SWARM_MANAGER")
# Marks the secrets and configs this script makes, so `down` finds them.
owner="dev.tenancy.swarm-stack=$stack"

# Makes Swarm object $1 (secret|config) for variable name $2 from stdin, named
# <stack>_<name>_<12 hex of its sha256>, unless it exists; prints the name. Swarm never updates a
# secret in place: a new value is a new name, and the deploy moves the services to it.
swarm_object() {
  local kind="$1" key="$2" tmp hash name
  tmp="$(mktemp)"
  cat >"$tmp"
  hash="$(sha256sum "$tmp" | cut -c1-12)"
  name="${stack}_$(tr '[:upper:]' '[:lower:]' <<<"$key")_$hash"
  if ! "${manager[@]}" "$kind" inspect "$name" >/dev/null 2>&1; then
    "${manager[@]}" "$kind" create --label "$owner" --label "${STACK_LABEL:-dev.tenancy.stack=tenancy}" \
      "$name" "$tmp" >/dev/null || { rm -f "$tmp"; die "could not create $kind $name"; }
  fi
  rm -f "$tmp"
  printf '%s' "$name"
}

down() {
  log "removing stack $stack"
  "${manager[@]}" stack rm "$stack" >/dev/null
  # The secrets and configs are in use until the services' tasks are gone.
  wait_for "[ -z \"\$(${manager[*]} service ls -q --filter label=com.docker.stack.namespace=$stack)\" ]" 120 ||
    die "the stack's services are still there after 2 minutes"
  wait_for "[ -z \"\$(${manager[*]} ps -q --filter label=com.docker.stack.namespace=$stack)\" ]" 120 || true
  local kind ids
  for kind in secret config; do
    ids="$("${manager[@]}" "$kind" ls -q --filter "label=$owner")"
    # shellcheck disable=SC2086
    [ -z "$ids" ] || "${manager[@]}" "$kind" rm $ids >/dev/null
  done
  log "stack $stack removed (tenant services, volumes and networks are kept)"
}

# The image names the stack uses: loaded on every node, or pushed to the registry and renamed.
distribute_images() {
  local var image hosts host id
  export API_IMAGE="${API_IMAGE:-tenancy/gateway:local}" SUPERVISOR_IMAGE="${SUPERVISOR_IMAGE:-tenancy/supervisor:local}"
  export NGINX_IMAGE="${NGINX_IMAGE:-nginx:1.27-alpine}" REDIS_IMAGE="${REDIS_IMAGE:-redis:7-alpine}"
  export TENANT_IMAGE="${TENANT_IMAGE:-tenancy/tenant:local}"
  for var in API_IMAGE SUPERVISOR_IMAGE NGINX_IMAGE REDIS_IMAGE TENANT_IMAGE; do
    docker image inspect "${!var}" >/dev/null 2>&1 ||
      die "$var=${!var} is not on this engine: scripts/build-images.sh builds it (or docker pull it)"
  done
  if [ -n "${SWARM_REGISTRY:-}" ]; then
    for var in API_IMAGE SUPERVISOR_IMAGE NGINX_IMAGE REDIS_IMAGE TENANT_IMAGE; do
      image="${SWARM_REGISTRY%/}/${!var##*/}"
      docker tag "${!var}" "$image"
      log "pushing $image"
      docker push --quiet "$image" >/dev/null
      export "$var=$image"
    done
    return 0
  fi
  hosts="${SWARM_HOSTS:-${SWARM_MANAGER:-}}"
  for host in ${hosts//,/ }; do
    for var in API_IMAGE SUPERVISOR_IMAGE NGINX_IMAGE REDIS_IMAGE TENANT_IMAGE; do
      id="$(docker image inspect --format '{{.Id}}' "${!var}")"
      [ "$(docker -H "$host" image inspect --format '{{.Id}}' "${!var}" 2>/dev/null)" != "$id" ] || continue
      log "loading ${!var} on $host"
      docker save "${!var}" | docker -H "$host" load --quiet >/dev/null
    done
  done
}

# Labels the manager's own node $1=true unless some node already has that label.
label_default_node() {
  local label="$1" node
  for node in $("${manager[@]}" node ls -q); do
    [ "$("${manager[@]}" node inspect --format "{{index .Spec.Labels \"$label\"}}" "$node")" != true ] || return 0
  done
  node="$("${manager[@]}" info --format '{{.Swarm.NodeID}}')"
  "${manager[@]}" node update --label-add "$label=true" "$node" >/dev/null
  log "labelled this manager ($node) $label=true"
}

# The overlay on stack.yaml for what only some deployments have: the TLS client certificate of
# tcp:// node engines (three secrets) and unix:// node engines (bound at the same path).
write_override() {
  local file="$1" entry url pem tls=() binds=()
  for entry in ${SWARM_NODE_ENGINES//,/ }; do
    url="${entry#*=}"
    [[ "$url" != unix://* ]] || binds+=("${url#unix://}")
  done
  if [ -n "${SWARM_NODE_TLS_DIR:-}" ]; then
    for pem in ca cert key; do
      [ -f "$SWARM_NODE_TLS_DIR/$pem.pem" ] || die "SWARM_NODE_TLS_DIR: no $pem.pem in $SWARM_NODE_TLS_DIR"
      tls+=("$(swarm_object secret "node_tls_$pem" <"$SWARM_NODE_TLS_DIR/$pem.pem")")
    done
  fi
  {
    echo 'version: "3.8"'
    echo 'services:'
    echo '  supervisor:'
    if [ ${#binds[@]} -gt 0 ]; then
      echo '    volumes:'
      for entry in "${binds[@]}"; do printf '      - { type: bind, source: "%s", target: "%s" }\n' "$entry" "$entry"; done
    fi
    if [ ${#tls[@]} -gt 0 ]; then
      echo '    environment:'
      echo '      SWARM_NODE_TLS_DIR: /run/secrets'
      echo '    secrets:'
      for pem in ca cert key; do printf '      - { source: node_tls_%s, target: %s.pem }\n' "$pem" "$pem"; done
      echo 'secrets:'
      printf '  node_tls_ca: { external: true, name: "%s" }\n' "${tls[0]}"
      printf '  node_tls_cert: { external: true, name: "%s" }\n' "${tls[1]}"
      printf '  node_tls_key: { external: true, name: "%s" }\n' "${tls[2]}"
    fi
  } >"$file"
}

# Waits until every service of the stack runs all its replicas; prints those that do not.
wait_converged() {
  local deadline=$(($(date +%s) + ${SWARM_WAIT:-300})) pending service
  for (( ; ; )); do
    pending="$("${manager[@]}" service ls --filter "label=com.docker.stack.namespace=$stack" \
      --format '{{.Name}} {{.Replicas}}' | awk '{ split($2, r, "/"); if (r[1] != r[2] || r[2] == 0) print $1 " " $2 }')"
    [ -n "$pending" ] || return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "not running after ${SWARM_WAIT:-300}s: $pending"
      # shellcheck disable=SC2013
      for service in $(awk '{ print $1 }' <<<"$pending"); do
        "${manager[@]}" service ps --no-trunc "$service" 2>&1 | head -n 6 >&2 || true
        "${manager[@]}" service logs --raw --tail 15 "$service" 2>&1 | cut -c1-400 >&2 || true
      done
      die "the stack did not start"
    fi
    sleep 1
  done
}

# The running api tasks, one id a line (none before the first deploy).
api_tasks() {
  { "${manager[@]}" service ps -q --filter desired-state=running "${stack}_api" 2>/dev/null || true; } | sort
}

up() {
  local step key override resolve=never api_before
  step=$(now_ms)
  [ "$("${manager[@]}" info --format '{{.Swarm.ControlAvailable}}')" = true ] ||
    die "${SWARM_MANAGER:-this engine} is not a swarm manager (docker swarm init, or set SWARM_MANAGER)"

  local generated=()
  for key in ADMIN_TOKEN SUPERVISOR_TOKEN TENANT_NAMESPACE_KEY COOKIE_JWT_SECRET LOGIN_TOKEN REDIS_PASSWORD; do
    [ -z "${!key:-}" ] || continue
    export "$key=$(secret)"
    env_set "$key" "${!key}"
    generated+=("$key")
  done
  [ ${#generated[@]} -eq 0 ] || log "generated ${generated[*]} in $env_file (not shown; read them there)"

  # Assigned first, exported after: a failure inside $( ) then stops the script.
  local name
  for key in ADMIN_TOKEN SUPERVISOR_TOKEN TENANT_NAMESPACE_KEY COOKIE_JWT_SECRET LOGIN_TOKEN REDIS_PASSWORD; do
    name="$(printf '%s' "${!key}" | swarm_object secret "$key")"
    export "SECRET_$key=$name"
  done
  name="$(printf 'redis://:%s@redis:6379' "$REDIS_PASSWORD" | swarm_object secret REDIS_URL)"
  export SECRET_REDIS_URL="$name"
  for key in template proxy server; do
    name="$(swarm_object config "nginx_$key" <"nginx/tenancy$([ $key = template ] && echo .conf.template || echo "-$key.conf")")"
    export "CONFIG_NGINX_${key^^}=$name"
  done
  export TENANT_NETWORK_ATTACH="${stack}_api,${stack}_supervisor"

  distribute_images
  [ -z "${SWARM_REGISTRY:-}" ] || resolve=always
  label_default_node tenancy.data
  label_default_node tenancy.edge
  # The group of the Docker socket, read on the manager's node by the supervisor image itself.
  if [ -z "${DOCKER_GID:-}" ]; then
    DOCKER_GID="$("${manager[@]}" run --rm --network none --user 0 --entrypoint node \
      -v "${DOCKER_SOCKET:-/var/run/docker.sock}:/docker.sock:ro" "$SUPERVISOR_IMAGE" \
      -e 'console.log(require("fs").statSync("/docker.sock").gid)')"
    export DOCKER_GID
  fi

  override="$(mktemp --suffix=.yaml)"
  trap 'rm -f "$override"' RETURN
  write_override "$override"
  api_before="$(api_tasks)"
  log "deploying stack $stack"
  local deploy=(stack deploy --prune --resolve-image "$resolve" -c stack.yaml -c "$override")
  [ -z "${SWARM_REGISTRY:-}" ] || deploy+=(--with-registry-auth)
  "${manager[@]}" "${deploy[@]}" "$stack" >/dev/null
  wait_converged
  # Without a virtual IP nginx knows the api replicas it resolved when it started: new ones (an
  # update, a scale) need a new nginx task.
  if [ "${SWARM_ENDPOINT_MODE:-vip}" = dnsrr ] && [ "$(api_tasks)" != "$api_before" ] &&
    [ -n "$("${manager[@]}" service ps -q --filter desired-state=running "${stack}_gateway" 2>/dev/null)" ]; then
    log "api replicas changed: restarting nginx so it resolves them again"
    # Not detached: returns once the new nginx task runs.
    "${manager[@]}" service update --quiet --detach=false --force "${stack}_gateway" >/dev/null
  fi
  log "stack $stack running in $(elapsed "$step")"
  echo "Tenancy is running on port ${EDGE_PORT:-8080} of the node labelled tenancy.edge=true."
}

"$action"
