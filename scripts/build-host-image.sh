#!/usr/bin/env bash
# Builds a small image from programs already installed on this host: each binary, the shared
# libraries `ldd` lists for it, a few users and folders, and an optional overlay of files, put
# into a root filesystem and loaded with `docker import`. No registry is contacted. The offline
# builds use it for the Node base, nginx and Redis (scripts/build-images.sh); production keeps the
# upstream images.
#
# Usage: scripts/build-host-image.sh TAG [options]
#   --bin SRC[:DEST]        an executable (at DEST, default SRC) and the libraries it links
#   --user NAME:UID:GID     an /etc/passwd and /etc/group entry (root is always there)
#   --dir PATH[:UID:GID[:MODE]]  an empty folder
#   --overlay DIR           files copied over the root as they are (entrypoints, configs)
#   --change INSTRUCTION    a Dockerfile instruction for `docker import --change`
#   --title TITLE           org.opencontainers.image.title
#   --version VERSION       org.opencontainers.image.version
#
# An image whose fingerprint label matches these inputs is left alone: every import of an
# unchanged image would leave a dangling copy behind on a long-lived engine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
LOG_TAG=host-image

[ $# -ge 1 ] || die "usage: scripts/build-host-image.sh TAG [options]"
tag="$1"
shift
bins=() users=() dirs=() overlays=() changes=()
title="$tag" version=local
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || die "$1 needs a value"
  case "$1" in
    --bin) bins+=("$2") ;;
    --user) users+=("$2") ;;
    --dir) dirs+=("$2") ;;
    --overlay) overlays+=("$2") ;;
    --change) changes+=("$2") ;;
    --title) title="$2" ;;
    --version) version="$2" ;;
    *) die "unknown option $1" ;;
  esac
  shift 2
done

# The fingerprint covers every input: this script, binaries and overlays by content, the rest
# as text.
fingerprint="$(
  {
    sha256sum "$0"
    printf '%s\n' "$title" "$version" "${users[@]}" "${dirs[@]}" "${changes[@]}"
    for bin in "${bins[@]}"; do sha256sum "$(readlink -f "${bin%%:*}")" | cut -c1-64; echo "$bin"; done
    for overlay in "${overlays[@]}"; do (cd "$overlay" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum); done
  } | sha256sum | cut -c1-16
)"
if [ "$(docker image inspect --format '{{ index .Config.Labels "dev.tenancy.fingerprint" }}' "$tag" 2>/dev/null)" = "$fingerprint" ]; then
  log "$tag is up to date"
  exit 0
fi

rootfs="$(mktemp -d)"
trap 'rm -rf "$rootfs"' EXIT
mkdir -p "$rootfs"/{etc,tmp,root}
chmod 1777 "$rootfs/tmp"
passwd='root:x:0:0:root:/root:/usr/sbin/nologin' group='root:x:0:'
for user in "${users[@]}"; do
  IFS=: read -r name uid gid <<<"$user"
  passwd+=$'\n'"$name:x:$uid:$gid:$name:/home/$name:/usr/sbin/nologin"
  group+=$'\n'"$name:x:$gid:"
  mkdir -p "$rootfs/home/$name" && chown "$uid:$gid" "$rootfs/home/$name"
done
printf '%s\n' "$passwd" >"$rootfs/etc/passwd"
printf '%s\n' "$group" >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
for dir in "${dirs[@]}"; do
  IFS=: read -r path owner_uid owner_gid mode <<<"$dir"
  mkdir -p "$rootfs$path"
  [ -z "$owner_uid" ] || chown "$owner_uid:${owner_gid:-$owner_uid}" "$rootfs$path"
  [ -z "$mode" ] || chmod "$mode" "$rootfs$path"
done
for bin in "${bins[@]}"; do
  # Copied under the name it was given, not the one a symlink resolves to: some programs act on
  # their name (Debian's redis-server is a link to redis-check-rdb).
  src="$(readlink -f "${bin%%:*}")"
  dest="${bin#*:}"
  [ -x "$src" ] || die "$src is not an executable on this host"
  mkdir -p "$rootfs$(dirname "$dest")"
  cp "$src" "$rootfs$dest"
  # The dynamic loader and every library, at the paths the loader will look for them.
  for lib in $(ldd "$src" | grep -oE '/[^ ]+'); do
    cp --parents -L "$lib" "$rootfs"
  done
done
for overlay in "${overlays[@]}"; do cp -a "$overlay"/. "$rootfs"/; done

import_args=()
for change in "${changes[@]}"; do import_args+=(--change "$change"); done
started=$(now_ms)
tar -C "$rootfs" -c . | docker import "${import_args[@]}" \
  --change "LABEL dev.tenancy.fingerprint=$fingerprint org.opencontainers.image.title=$title org.opencontainers.image.version=$version" \
  - "$tag" >/dev/null
log "built $tag in $(elapsed "$started") ($(docker image inspect --format '{{.Size}}' "$tag" | numfmt --to=iec))"
