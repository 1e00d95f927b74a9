# The gateway and the supervisor: one Dockerfile for both, since they share the workspace
# (shared/, one lockfile). Build one with `--build-arg SERVICE=gateway` or `SERVICE=supervisor`,
# from the repository root (compose.yaml does).
#
# BASE_IMAGE / BUILD_IMAGE default to the upstream Node 24 images (the active LTS line, supported
# until April 2028) and the build stage installs and compiles everything. Offline builds (no
# registry reachable) pass a base made from the host's node binary and PREBUILT=1 with a context
# that already holds dist/ and production node_modules/ (see scripts/build-images.sh), the same
# pattern as tenant-image/Dockerfile.
ARG BASE_IMAGE=node:24-bookworm-slim
ARG BUILD_IMAGE=node:24-bookworm

FROM ${BUILD_IMAGE} AS build
WORKDIR /build
COPY . .
ARG SERVICE
ARG PREBUILT=0
RUN ["node", "scripts/build-service.mjs"]

FROM ${BASE_IMAGE}
ARG SERVICE
ARG VERSION=dev
LABEL org.opencontainers.image.title="tenancy-${SERVICE}" \
      org.opencontainers.image.description="Tenancy ${SERVICE}: see the repository README" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# node_modules/@tenancy/* are relative symlinks to ../../shared and ../../${SERVICE}.
COPY --from=build /build/node_modules ./node_modules
COPY --from=build /build/shared/package.json ./shared/package.json
COPY --from=build /build/shared/dist ./shared/dist
COPY --from=build /build/${SERVICE}/package.json ./${SERVICE}/package.json
COPY --from=build /build/${SERVICE}/dist ./${SERVICE}/dist
# The supervisor's database and backups live here, on a named volume (compose.yaml).
COPY --from=build --chown=1000:1000 /build/state /var/lib/tenancy
WORKDIR /app/${SERVICE}
# Unprivileged; the supervisor reaches the Docker socket through a supplementary group
# (group_add in compose.yaml), never as root.
USER 1000:1000
ENTRYPOINT ["node", "dist/server.js"]
