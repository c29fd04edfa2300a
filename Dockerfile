# syntax=docker/dockerfile:1
# The queuescale images, one target each, built from the repository root (the npm workspaces share
# one package-lock.json):
#   exporter  per-queue and per-consumer backlog gauges on :9422/metrics
#   worker    consumes a RabbitMQ queue or JetStream consumer; metrics on :9423
#   producer  HTTP API that publishes messages, with /metrics, on :8080
#
#   docker build --target worker --build-arg COMPONENT=worker -t queuescale-worker:dev .
#   (or `make images`, which also builds with buildah or podman when no Docker engine runs)
#
# The base images are build arguments so that a machine that cannot pull them can build on local
# stand-ins (scripts/images.sh); their defaults are the images the project ships on. Pin the
# distroless image by digest for reproducible builds, for example
#   --build-arg RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot@sha256:<digest>
# with the digest from `skopeo inspect --format '{{.Digest}}' docker://gcr.io/distroless/nodejs20-debian12:nonroot`.
ARG BUILD_IMAGE=docker.io/library/node:20.20.2-bookworm-slim
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

# 1. Compile TypeScript, once for all three images (every target shares this stage and its layer
# cache), with the dev dependencies of the root, core and the three components only.
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.base.json ./
COPY core/package.json core/
COPY exporter/package.json exporter/
COPY worker/package.json worker/
COPY producer/package.json producer/
COPY autoscaler/package.json autoscaler/
COPY test-support/package.json test-support/
RUN npm ci --ignore-scripts --no-audit --no-fund --include-workspace-root --workspace @queuescale/core \
  --workspace @queuescale/exporter --workspace @queuescale/worker --workspace @queuescale/producer
COPY core/tsconfig.json core/
COPY core/src core/src
COPY exporter/tsconfig.json exporter/
COPY exporter/src exporter/src
COPY worker/tsconfig.json worker/
COPY worker/src worker/src
COPY producer/tsconfig.json producer/
COPY producer/src producer/src
RUN npx tsc -b exporter worker producer

# 2. Production dependencies only: no compiler, test runner or other workspace's packages (their
# package.json files are only needed to install; they are removed after).
FROM ${BUILD_IMAGE} AS runtime-deps
ARG COMPONENT
WORKDIR /app
COPY package.json package-lock.json ./
COPY core/package.json core/
COPY exporter/package.json exporter/
COPY worker/package.json worker/
COPY producer/package.json producer/
COPY autoscaler/package.json autoscaler/
COPY test-support/package.json test-support/
RUN test -n "${COMPONENT}" || { echo "--build-arg COMPONENT=exporter|worker|producer is required" >&2; exit 2; }; \
  npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace "@queuescale/${COMPONENT}" \
  && npm cache clean --force \
  && for workspace in exporter worker producer autoscaler; do \
    if [ "$workspace" != "${COMPONENT}" ]; then rm -rf "$workspace"; fi; \
  done
COPY --from=build /src/core/dist core/dist
COPY --from=build /src/${COMPONENT}/dist ${COMPONENT}/dist

# 3. Distroless Node.js: no shell or package manager, runs as uid 65532 (nonroot). Each target's
# entrypoint is node with its program, so arguments (`--help`, a Pod's `args`) reach the program,
# and SIGTERM reaches it directly (no shell in between).
FROM ${RUNTIME_IMAGE} AS runtime
WORKDIR /app
COPY --from=runtime-deps /app /app
ENV NODE_ENV=production
USER 65532:65532

FROM runtime AS exporter
# KEDA's external scaler service definition, loaded at start when SCALER_LISTEN_ADDRESS is set.
COPY exporter/proto exporter/proto
EXPOSE 9422 9424
# --optimize-for-size: V8 collects sooner and keeps a smaller young generation. Each poll of
# 10,000 queues leaves megabytes of short-lived garbage; by default the heap grows well past what
# stays alive before a full collection (resident memory 155-165 MiB, peaks near 200), with the flag
# it stays near 110-130 MiB, for about 25 ms more CPU a second (docs/benchmarks.md). Node does not
# take this flag from NODE_OPTIONS, so it is given here.
ENTRYPOINT ["/nodejs/bin/node", "--optimize-for-size", "exporter/dist/main.js"]
CMD []

FROM runtime AS producer
EXPOSE 8080
ENTRYPOINT ["/nodejs/bin/node", "producer/dist/main.js"]
CMD []

FROM runtime AS worker
# The example handler (simulated work) that overlays/dev runs; your own image adds /app/handler.js:
#   FROM queuescale-worker:dev
#   COPY --chown=65532:65532 handler.js /app/handler.js
COPY worker/examples worker/examples
EXPOSE 9423
ENTRYPOINT ["/nodejs/bin/node", "worker/dist/main.js"]
CMD []
