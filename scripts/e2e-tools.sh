#!/usr/bin/env bash
# Builds the control-plane tools `make e2e` runs into .tools/bin (git-ignored, kept between runs):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and prometheus-adapter, all
# from the Go module proxy at pinned versions. A tool is rebuilt only when its pinned version changes.
# Prometheus comes from Debian through scripts/tools.sh; kubectl is expected on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TOOLS_BIN="$ROOT/.tools/bin"
STAMPS="$ROOT/.tools/e2e-stamps"
mkdir -p "$TOOLS_BIN" "$STAMPS"

KUBERNETES_VERSION=v1.33.13 # also pinned in tools/kubernetes/go.mod
ETCD_VERSION=v3.5.21        # also pinned in tools/etcd/go.mod; the release Kubernetes 1.33 is tested with
KWOK_VERSION=v0.7.0         # built against client-go v0.33, matching the control plane
PROMETHEUS_ADAPTER_VERSION=v0.12.0 # also pinned in tools/prometheus-adapter/go.mod

# The builds share two cores with everything else running on the machine.
GO=(nice -n 10 env GOFLAGS=-buildvcs=false go)

fresh() { # binary version: true when the binary is missing or was built at another version
  [ -x "$TOOLS_BIN/$1" ] && [ "$(cat "$STAMPS/$1" 2>/dev/null)" = "$2" ] && return 1
  return 0
}
stamp() { echo "$2" >"$STAMPS/$1"; }

kube_bins=(kube-apiserver kube-controller-manager kube-scheduler)
need_kube=""
for bin in "${kube_bins[@]}"; do fresh "$bin" "$KUBERNETES_VERSION" && need_kube=1; done
if [ -n "$need_kube" ]; then
  echo "e2e-tools: building ${kube_bins[*]} $KUBERNETES_VERSION"
  minor="${KUBERNETES_VERSION#v*.}"
  minor="${minor%%.*}"
  major="${KUBERNETES_VERSION#v}"
  major="${major%%.*}"
  ldflags="-s -w"
  # The binaries report this version to clients (kubectl version, /version) and use it for skew checks.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd tools/kubernetes && "${GO[@]}" build -trimpath -ldflags "$ldflags" -o "$TOOLS_BIN/" \
    "${kube_bins[@]/#/k8s.io/kubernetes/cmd/}")
  for bin in "${kube_bins[@]}"; do stamp "$bin" "$KUBERNETES_VERSION"; done
fi

if fresh etcd "$ETCD_VERSION"; then
  echo "e2e-tools: building etcd $ETCD_VERSION"
  (cd tools/etcd && "${GO[@]}" build -trimpath -ldflags "-s -w" -o "$TOOLS_BIN/etcd" go.etcd.io/etcd/server/v3)
  stamp etcd "$ETCD_VERSION"
fi

if fresh kwok "$KWOK_VERSION"; then
  echo "e2e-tools: building kwok $KWOK_VERSION"
  GOBIN="$TOOLS_BIN" "${GO[@]}" install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  stamp kwok "$KWOK_VERSION"
fi

if fresh prometheus-adapter "$PROMETHEUS_ADAPTER_VERSION"; then
  echo "e2e-tools: building prometheus-adapter $PROMETHEUS_ADAPTER_VERSION"
  (cd tools/prometheus-adapter && "${GO[@]}" build -trimpath -ldflags "-s -w" -o "$TOOLS_BIN/prometheus-adapter" \
    sigs.k8s.io/prometheus-adapter/cmd/adapter)
  stamp prometheus-adapter "$PROMETHEUS_ADAPTER_VERSION"
fi

command -v prometheus >/dev/null || scripts/tools.sh
command -v kubectl >/dev/null || {
  echo "e2e-tools: kubectl is not on PATH (a v1.32 or v1.33 client is expected)" >&2
  exit 1
}
echo "e2e-tools: ready in .tools/bin"
