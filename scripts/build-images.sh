#!/usr/bin/env bash
# Builds the images the platform and its tests need, offline: no registry is contacted.
#
#   1. the local Node base (scripts/build-node-base.sh), made from this host's node binary;
#   2. the tenant image from tenant-image/Dockerfile on top of it, with dist/ and production
#      node_modules/ prepared on the host (same node binary, so the native SQLite addon matches);
#   3. the gateway and supervisor images from services.Dockerfile, prepared the same way;
#   4. nginx and Redis images made from this host's own nginx and redis-server
#      (scripts/build-host-image.sh), standing in for the upstream nginx and redis images.
#
# Usage: scripts/build-images.sh [tenant|services|edge]...   (default: all of them)
# Env:   NODE_BASE_IMAGE (default tenancy/node-base:local), TENANT_IMAGE (tenancy/tenant:local),
#        DISK_HELPER_LOCAL_IMAGE (tenancy/disk-helper:local),
#        API_IMAGE (tenancy/gateway:local), SUPERVISOR_IMAGE (tenancy/supervisor:local),
#        NGINX_LOCAL_IMAGE (tenancy/nginx:local), REDIS_LOCAL_IMAGE (tenancy/redis:local)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
LOG_TAG=images

base_image="${NODE_BASE_IMAGE:-tenancy/node-base:local}"
tenant_image="${TENANT_IMAGE:-tenancy/tenant:local}"
version="$(git rev-parse --short HEAD 2>/dev/null || echo dev)"
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(tenant services edge)
started=$(now_ms)

# Private build contexts: several builds (parallel test runs) must not share one.
contexts="$(mktemp -d)"
trap 'rm -rf "$contexts"' EXIT

# Production dependencies installed on the host in folder $1 from the manifests $3... of folder
# $2 (its package-lock.json first), apart from any developer install so that dev tools never end
# up in an image. Reinstalled only when the lockfile changes. Extra npm arguments: NPM_CI_ARGS.
prod_deps() {
  local deps="$1" source="$2"
  shift 2
  if [ -f "$deps/node_modules/.package-lock.json" ] &&
    [ ! "$source/package-lock.json" -nt "$deps/node_modules/.package-lock.json" ]; then
    return 0
  fi
  log "installing production dependencies in $deps"
  rm -rf "$deps" && mkdir -p "$deps"
  local target="$PWD/$deps"
  (cd "$source" && cp --parents package-lock.json "$@" "$target"/)
  (cd "$deps" && npm_ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error "${NPM_CI_ARGS[@]}")
  # Compiling the SQLite addon takes about a minute. The workspace install already compiled the
  # same version for the same node binary: reuse it, and compile only when the versions differ.
  [ -d "$deps/node_modules/better-sqlite3" ] || return 0
  local addon=build/Release/better_sqlite3.node
  version_of() { node -p "require('./$1/better-sqlite3/package.json').version" 2>/dev/null; }
  if [ -f "node_modules/better-sqlite3/$addon" ] && [ "$(version_of node_modules)" = "$(version_of "$deps/node_modules")" ]; then
    mkdir -p "$deps/node_modules/better-sqlite3/build/Release"
    cp "node_modules/better-sqlite3/$addon" "$deps/node_modules/better-sqlite3/$addon"
  else
    (cd "$deps" && npm rebuild better-sqlite3 --loglevel=error)
  fi
}

# docker build with the classic builder (a bare engine may lack BuildKit and buildx) and no
# network: nothing in these builds may fetch anything. Args: tag dockerfile context build-args...
offline_build() {
  local tag="$1" dockerfile="$2" context="$3" step
  shift 3
  step=$(now_ms)
  local args=(--build-arg BASE_IMAGE="$base_image" --build-arg BUILD_IMAGE="$base_image"
    --build-arg PREBUILT=1 --build-arg VERSION="$version")
  for arg in "$@"; do args+=(--build-arg "$arg"); done
  # The classic builder's COPY cache sees file times: with fixed times an unchanged context hits
  # the cache and yields the same image ID, so a rebuild neither costs much nor makes the
  # supervisor re-create tenants whose image ID changed under them.
  find "$context" -exec touch -h -d @0 {} +
  DOCKER_BUILDKIT=0 docker build --quiet --network none "${args[@]}" -f "$dockerfile" -t "$tag" "$context" \
    >/dev/null 2>"$context.log" || { cat "$context.log" >&2; die "docker build of $tag failed"; }
  log "built $tag in $(elapsed "$step") ($(docker image inspect --format '{{.Size}}' "$tag" | numfmt --to=iec))"
}

build_tenant() {
  local step context="$contexts/tenant"
  step=$(now_ms)
  NPM_CI_ARGS=()
  prod_deps .build/tenant-deps tenant-image package.json
  mkdir -p "$context"
  npx tsc -p tenant-image/tsconfig.build.json --outDir "$context/dist"
  cp -r tenant-image/package.json tenant-image/package-lock.json tenant-image/build.mjs \
    .build/tenant-deps/node_modules "$context"/
  [ ! -d tenant-image/public ] || cp -r tenant-image/public "$context"/
  # The image runs one bundled file (tenant-image/bundle.mjs says why), made here with the
  # workspace's esbuild against the production dependencies just copied.
  node tenant-image/bundle.mjs "$context/dist"
  log "prepared tenant app in $(elapsed "$step")"
  offline_build "$tenant_image" tenant-image/Dockerfile "$context"
}

build_services() {
  local step service manifests=(package.json shared/package.json gateway/package.json supervisor/package.json
    test-support/package.json)
  step=$(now_ms)
  npm run --silent build
  for service in gateway supervisor; do
    NPM_CI_ARGS=(--workspace=shared "--workspace=$service")
    prod_deps ".build/$service-deps" . "${manifests[@]}"
    local context="$contexts/$service"
    mkdir -p "$context/shared" "$context/$service" "$context/scripts"
    # -a keeps node_modules/@tenancy/* as the relative symlinks npm made.
    cp -a ".build/$service-deps/node_modules" "$context"/
    cp -r shared/package.json shared/dist "$context/shared"/
    cp -r "$service/package.json" "$service/dist" "$context/$service"/
    cp scripts/build-service.mjs "$context/scripts"/
    # Compiled tests and build info are not needed at run time.
    find "$context" -name '*.tsbuildinfo' -delete
  done
  log "prepared gateway and supervisor in $(elapsed "$step")"
  offline_build "${API_IMAGE:-tenancy/gateway:local}" services.Dockerfile "$contexts/gateway" SERVICE=gateway
  offline_build "${SUPERVISOR_IMAGE:-tenancy/supervisor:local}" services.Dockerfile "$contexts/supervisor" SERVICE=supervisor
}

# nginx and Redis from this host, shaped like their official images (same paths, entrypoint
# conventions and users), so compose.yaml runs either without a change.
build_edge() {
  local path='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  ensure_commands nginx:nginx-light redis-server:redis-server envsubst:gettext-base wget:wget
  scripts/build-host-image.sh "${NGINX_LOCAL_IMAGE:-tenancy/nginx:local}" \
    --title tenancy-nginx-local --version "$(nginx -v 2>&1 | sed 's/.*nginx\///')" \
    --bin "$(command -v nginx)" --bin "$(command -v dash):/bin/sh" --bin "$(command -v envsubst)" \
    --bin "$(command -v sed)" --bin "$(command -v wget)" \
    --user nginx:101:101 \
    --dir /etc/nginx/conf.d --dir /etc/nginx/templates --dir /var/lib/nginx --dir /var/log/nginx --dir /run \
    --overlay scripts/host-images/nginx \
    --change "$path" --change 'ENTRYPOINT ["/docker-entrypoint.sh"]' --change 'CMD ["nginx", "-g", "daemon off;"]' \
    --change 'EXPOSE 8080'
  scripts/build-host-image.sh "${REDIS_LOCAL_IMAGE:-tenancy/redis:local}" \
    --title tenancy-redis-local --version "$(redis-server --version | sed -E 's/.* v=([^ ]+).*/\1/')" \
    --bin "$(command -v redis-server)" --bin "$(command -v redis-cli)" --bin "$(command -v dash):/bin/sh" \
    --user redis:999:999 --dir /data:999:999 \
    --change "$path" --change 'WORKDIR /data' --change 'USER 999:999' --change 'CMD ["redis-server"]' \
    --change 'EXPOSE 6379'
  # The disk helper of the offline stack (TENANT_DISK_HELPER_IMAGE): a shell and nsenter, which
  # enters the engine's mount namespace and runs the host's own tools there; the upstream
  # supervisor image has both.
  ensure_commands nsenter:util-linux
  scripts/build-host-image.sh "${DISK_HELPER_LOCAL_IMAGE:-tenancy/disk-helper:local}" \
    --title tenancy-disk-helper-local --version "$(nsenter --version | sed -E 's/.* ([0-9.]+)$/\1/')" \
    --bin "$(command -v nsenter)" --bin "$(command -v dash):/bin/sh"
}

scripts/build-node-base.sh "$base_image"
for part in "${parts[@]}"; do
  case "$part" in
    tenant) build_tenant ;;
    services) build_services ;;
    edge) build_edge ;;
    *) die "unknown part $part (tenant, services or edge)" ;;
  esac
done
log "images ready in $(elapsed "$started")"
