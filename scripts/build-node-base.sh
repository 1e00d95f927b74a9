#!/usr/bin/env bash
# Builds a small base image from this host's own `node` binary and the shared libraries it
# links (scripts/build-host-image.sh): no registry is needed. The offline builds put the tenant
# app, the gateway and the supervisor on top of it (BASE_IMAGE build argument); production keeps
# the upstream Node image.
#
# Usage: scripts/build-node-base.sh [image-tag]   (default tenancy/node-base:local)
set -euo pipefail
cd "$(dirname "$0")/.."

# Programs start `node` from PATH: /usr/bin here, /usr/local/bin in the upstream image.
exec scripts/build-host-image.sh "${1:-tenancy/node-base:local}" \
  --bin "$(command -v node):/usr/bin/node" \
  --user node:1000:1000 \
  --dir /app --dir /data \
  --title tenancy-node-base --version "$(node --version)" \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production' \
  --change 'WORKDIR /app' \
  --change 'CMD ["node"]'
