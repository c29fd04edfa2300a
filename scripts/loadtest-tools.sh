#!/usr/bin/env bash
# Builds the load-test and peer-benchmark tools into .tools/bin (git-ignored, kept between runs):
# k6 for the producer load tests, kbudde/rabbitmq_exporter for the peer comparison. Pinned through
# the Go module proxy; each build is skipped when its binary is present. Builds run at lower priority
# so they do not starve tests running beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS_BIN="$PWD/.tools/bin"
mkdir -p "$TOOLS_BIN"

K6_VERSION=v1.8.1
RABBITMQ_EXPORTER_VERSION=v1.0.0
# nats-io/prometheus-nats-exporter is not served by the module proxy reachable here (every version
# answers 403), so the NATS comparison measures the server's own /jsz endpoint instead.

go_install() { # binary module@version
  [ -x "$TOOLS_BIN/$1" ] && return 0
  echo "loadtest-tools: building $2"
  GOBIN="$TOOLS_BIN" GOFLAGS=-mod=mod CGO_ENABLED=0 nice -n 10 go install "$2"
}

# `go install module@version` of rabbitmq_exporter fails here: go looks up the module's deprecation
# in its version list, which the proxy refuses. The pinned version itself is served, so download it
# and build it in place (its own go.sum pins its dependencies), stamping the version it reports.
go_build_module() { # binary module version
  [ -x "$TOOLS_BIN/$1" ] && return 0
  echo "loadtest-tools: building $2@$3"
  local dir
  dir="$(GOFLAGS=-mod=mod go mod download -json "$2@$3" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  (cd "$dir" && GOFLAGS=-mod=readonly CGO_ENABLED=0 nice -n 10 go build -trimpath \
    -ldflags "-X main.Version=$3" -o "$TOOLS_BIN/$1" .)
}

case "${1:-all}" in
  k6) go_install k6 "go.k6.io/k6@$K6_VERSION" ;;
  peers) go_build_module rabbitmq_exporter github.com/kbudde/rabbitmq_exporter "$RABBITMQ_EXPORTER_VERSION" ;;
  all)
    go_install k6 "go.k6.io/k6@$K6_VERSION"
    go_build_module rabbitmq_exporter github.com/kbudde/rabbitmq_exporter "$RABBITMQ_EXPORTER_VERSION"
    ;;
  *)
    echo "usage: scripts/loadtest-tools.sh [k6|peers|all]" >&2
    exit 2
    ;;
esac
echo "loadtest-tools: ready in .tools/bin"
