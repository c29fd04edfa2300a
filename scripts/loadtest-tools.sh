#!/usr/bin/env bash
# Builds the load-test and peer-benchmark tools into .tools/bin (git-ignored, kept between runs):
# k6 for the producer load tests, kbudde/rabbitmq_exporter and nats-io/prometheus-nats-exporter for
# the peer comparison. Pinned; each build is skipped when its binary (and, for a tarball build, its
# stamp) is present. Builds run at lower priority so they do not starve tests running beside them.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS_BIN="$PWD/.tools/bin"
mkdir -p "$TOOLS_BIN"

K6_VERSION=v1.8.1
RABBITMQ_EXPORTER_VERSION=v1.0.0
NATS_EXPORTER_VERSION=v0.20.1
# The module proxy refuses nats-io/prometheus-nats-exporter (every version answers 403), so it is
# built from its released source tarball; its dependencies still come from the proxy. The default
# place is next to the repository; NATS_EXPORTER_TARBALL (relative to the repository root, or
# absolute) names another.
NATS_EXPORTER_TARBALL="${NATS_EXPORTER_TARBALL:-../shared/peers/prometheus-nats-exporter-$NATS_EXPORTER_VERSION.tar.gz}"

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

# A Go main package from a source tarball: unpacked in a temporary directory, built with its own
# go.mod/go.sum, the version stamped into main.version. The stamp file names the tarball's SHA-256,
# so a different tarball (or version) rebuilds.
go_build_tarball() { # binary tarball version
  local stamp="$TOOLS_BIN/.$1.stamp" tarball="$2" sum work
  if [ ! -f "$tarball" ]; then
    # A build of the same version in the cache will do; nothing else can be checked without the tarball.
    if [ -x "$TOOLS_BIN/$1" ] && [ "$(cut -d' ' -f1 "$stamp" 2>/dev/null)" = "$3" ]; then return 0; fi
    echo "loadtest-tools: $tarball is missing (set NATS_EXPORTER_TARBALL to the released source tarball)" >&2
    return 1
  fi
  sum="$(sha256sum "$tarball" | cut -d' ' -f1)"
  [ -x "$TOOLS_BIN/$1" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$3 $sum" ] && return 0
  echo "loadtest-tools: building $1 $3 from $tarball"
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: the directory is local to this call
  trap "rm -rf '$work'" RETURN
  tar -xzf "$tarball" -C "$work" --strip-components=1
  (cd "$work" && GOFLAGS=-mod=readonly CGO_ENABLED=0 nice -n 10 go build -trimpath \
    -ldflags "-X main.version=${3#v}" -o "$TOOLS_BIN/$1" .)
  echo "$3 $sum" >"$stamp"
}

build_peers() {
  go_build_module rabbitmq_exporter github.com/kbudde/rabbitmq_exporter "$RABBITMQ_EXPORTER_VERSION"
  go_build_tarball prometheus-nats-exporter "$NATS_EXPORTER_TARBALL" "$NATS_EXPORTER_VERSION"
}

case "${1:-all}" in
  k6) go_install k6 "go.k6.io/k6@$K6_VERSION" ;;
  peers) build_peers ;;
  all)
    go_install k6 "go.k6.io/k6@$K6_VERSION"
    build_peers
    ;;
  *)
    echo "usage: scripts/loadtest-tools.sh [k6|peers|all]" >&2
    exit 2
    ;;
esac
echo "loadtest-tools: ready in .tools/bin"
