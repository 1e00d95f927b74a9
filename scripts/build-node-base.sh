#!/usr/bin/env bash
# Builds a small base image from this host's own `node` binary and the shared libraries it
# links, with `docker import`: no registry is needed. Tests build tenant-image/ on top of it
# (BASE_IMAGE build argument); production keeps the upstream Node image.
#
# Usage: scripts/build-node-base.sh [image-tag]   (default tenancy/node-base:local)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
LOG_TAG=node-base

tag="${1:-tenancy/node-base:local}"
node_bin="$(readlink -f "$(command -v node)")"
node_version="$(node --version)"
fingerprint="$(sha256sum "$node_bin" | cut -c1-16)"

# Rebuilding costs a second, but every import leaves a dangling 100 MB image behind on a
# long-lived engine: skip it when the tag already holds this exact node binary.
if [ "$(docker image inspect --format '{{ index .Config.Labels "dev.tenancy.node-fingerprint" }}' "$tag" 2>/dev/null)" = "$fingerprint" ]; then
  log "$tag is up to date (node $node_version)"
  exit 0
fi

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{usr/bin,etc,tmp,app,data,home/node}
chmod 1777 "$rootfs/tmp"
cp "$node_bin" "$rootfs/usr/bin/node"
# The dynamic loader and every library node links, at the paths the loader will look for them.
for lib in $(ldd "$node_bin" | grep -oE '/[^ ]+'); do
  cp --parents -L "$lib" "$rootfs"
done
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnode:x:1000:1000:node:/home/node:/usr/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chown 1000:1000 "$rootfs/home/node"

started=$(now_ms)
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production' \
  --change 'WORKDIR /app' \
  --change 'CMD ["node"]' \
  --change "LABEL dev.tenancy.node-fingerprint=$fingerprint org.opencontainers.image.title=tenancy-node-base org.opencontainers.image.version=$node_version" \
  - "$tag" >/dev/null
log "built $tag from node $node_version in $(elapsed "$started") ($(docker image inspect --format '{{.Size}}' "$tag" | numfmt --to=iec))"
