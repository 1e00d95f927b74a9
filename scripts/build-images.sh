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
if [ ! -f tenant-image/node_modules/.package-lock.json ] || [ tenant-image/package-lock.json -nt tenant-image/node_modules/.package-lock.json ]; then
  log "installing tenant app dependencies"
  (cd tenant-image && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
fi
rm -rf tenant-image/dist
npx tsc -p tenant-image/tsconfig.build.json
context=tenant-image/.context
rm -rf "$context" && mkdir -p "$context"
cp -r tenant-image/package.json tenant-image/package-lock.json tenant-image/build.mjs tenant-image/dist tenant-image/node_modules "$context"/
log "prepared tenant app in $(elapsed "$step")"

step=$(now_ms)
# The classic builder runs this Dockerfile's exec-form steps without BuildKit or buildx, which a
# bare engine may lack; nothing in the build needs the network.
DOCKER_BUILDKIT=0 docker build --quiet --network none \
  --build-arg BASE_IMAGE="$base_image" \
  --build-arg BUILD_IMAGE="$base_image" \
  --build-arg PREBUILT=1 \
  --build-arg VERSION="$(git rev-parse --short HEAD 2>/dev/null || echo dev)" \
  -f tenant-image/Dockerfile -t "$tenant_image" "$context" >/dev/null
rm -rf "$context"
log "built $tenant_image in $(elapsed "$step") ($(docker image inspect --format '{{.Size}}' "$tenant_image" | numfmt --to=iec))"
log "images ready in $(elapsed "$started")"
