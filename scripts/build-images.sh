#!/usr/bin/env bash
# Builds the images the platform and its tests need, offline: no registry is contacted.
#
#   1. the local Node base (scripts/build-node-base.sh), made from this host's node binary;
#   2. the tenant image from tenant-image/Dockerfile on top of it, with dist/ and production
#      node_modules/ prepared on the host (same node binary, so the native SQLite addon matches).
#
# Usage: scripts/build-images.sh
# Env:   NODE_BASE_IMAGE (default tenancy/node-base:local), TENANT_IMAGE (default tenancy/tenant:local)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
LOG_TAG=images

base_image="${NODE_BASE_IMAGE:-tenancy/node-base:local}"
tenant_image="${TENANT_IMAGE:-tenancy/tenant:local}"
started=$(now_ms)

scripts/build-node-base.sh "$base_image"

step=$(now_ms)
# Production dependencies only, installed apart from any developer install in tenant-image/ so
# that dev tools never end up in the image.
deps=.build/tenant-deps
if [ ! -f "$deps/node_modules/.package-lock.json" ] || [ tenant-image/package-lock.json -nt "$deps/node_modules/.package-lock.json" ]; then
  log "installing tenant app production dependencies"
  rm -rf "$deps" && mkdir -p "$deps"
  cp tenant-image/package.json tenant-image/package-lock.json "$deps"/
  (cd "$deps" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
  # Compiling the SQLite addon takes about a minute. The workspace install already compiled the
  # same version for the same node binary: reuse it, and compile only when the versions differ.
  addon=build/Release/better_sqlite3.node
  version() { node -p "require('./$1/better-sqlite3/package.json').version" 2>/dev/null; }
  if [ -f "node_modules/better-sqlite3/$addon" ] && [ "$(version node_modules)" = "$(version "$deps/node_modules")" ]; then
    mkdir -p "$deps/node_modules/better-sqlite3/build/Release"
    cp "node_modules/better-sqlite3/$addon" "$deps/node_modules/better-sqlite3/$addon"
  else
    (cd "$deps" && npm rebuild better-sqlite3 --loglevel=error)
  fi
fi
# A private context per build: several builds (parallel test runs) must not share one.
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
npx tsc -p tenant-image/tsconfig.build.json --outDir "$context/dist"
cp -r tenant-image/package.json tenant-image/package-lock.json tenant-image/build.mjs "$deps/node_modules" "$context"/
[ ! -d tenant-image/public ] || cp -r tenant-image/public "$context"/
log "prepared tenant app in $(elapsed "$step")"

step=$(now_ms)
# The classic builder runs this Dockerfile's exec-form steps without BuildKit or buildx, which a
# bare engine may lack; nothing in the build needs the network.
DOCKER_BUILDKIT=0 docker build --quiet --network none \
  --build-arg BASE_IMAGE="$base_image" \
  --build-arg BUILD_IMAGE="$base_image" \
  --build-arg PREBUILT=1 \
  --build-arg VERSION="$(git rev-parse --short HEAD 2>/dev/null || echo dev)" \
  -f tenant-image/Dockerfile -t "$tenant_image" "$context" >/dev/null 2>"$context/build.log" ||
  { cat "$context/build.log" >&2; die "docker build of $tenant_image failed"; }
log "built $tenant_image in $(elapsed "$step") ($(docker image inspect --format '{{.Size}}' "$tenant_image" | numfmt --to=iec))"
log "images ready in $(elapsed "$started")"
