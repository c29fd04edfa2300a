#!/usr/bin/env bash
# Builds the tools `make e2e` runs into .tools/bin (git-ignored, kept between runs), all from the Go
# module proxy at pinned versions: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
# kubelet, prometheus-adapter, Prometheus (with Kubernetes service discovery), helm, and the KEDA
# operator and metrics API server (with KEDA's CRDs, RBAC and APIService from the same module). A tool is
# rebuilt only when its pinned version changes. The node's Debian packages (containerd, runc, CNI
# plugins, buildah/podman) come from scripts/image-tools.sh; kubectl is expected on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TOOLS_BIN="$ROOT/.tools/bin"
STAMPS="$ROOT/.tools/e2e-stamps"
mkdir -p "$TOOLS_BIN" "$STAMPS"

KUBERNETES_VERSION=v1.33.13        # also pinned in tools/kubernetes/go.mod
ETCD_VERSION=v3.5.21               # also pinned in tools/etcd/go.mod; the release Kubernetes 1.33 is tested with
PROMETHEUS_ADAPTER_VERSION=v0.12.0 # also pinned in tools/prometheus-adapter/go.mod
PROMETHEUS_MODULE_VERSION=v0.316.0 # also pinned in tools/prometheus/go.mod: Prometheus 3.16.0
PROMETHEUS_VERSION=3.16.0
HELM_VERSION=v3.22.0 # also pinned in tools/helm/go.mod
PROMETHEUS_ADAPTER_CHART_VERSION=5.3.0 # app v0.12.0, as above
KEDA_VERSION=v2.21.0 # also pinned in tools/keda/go.mod (and in scripts/tools.sh for the CRDs the manifest tests validate against)

# The builds share two cores with everything else running on the machine.
GO=(nice -n 10 env GOFLAGS=-buildvcs=false go)

fresh() { # binary version: true when the binary is missing or was built at another version
  [ -x "$TOOLS_BIN/$1" ] && [ "$(cat "$STAMPS/$1" 2>/dev/null)" = "$2" ] && return 1
  return 0
}
stamp() { echo "$2" >"$STAMPS/$1"; }
timed() { # name command...: runs the command and prints how long it took
  local start=$SECONDS
  "${@:2}"
  echo "e2e-tools: $1 built in $((SECONDS - start)) s"
}

scripts/image-tools.sh

kube_bins=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
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
  (cd tools/kubernetes && timed kubernetes "${GO[@]}" build -trimpath -ldflags "$ldflags" -o "$TOOLS_BIN/" \
    "${kube_bins[@]/#/k8s.io/kubernetes/cmd/}")
  for bin in "${kube_bins[@]}"; do stamp "$bin" "$KUBERNETES_VERSION"; done
fi

if fresh etcd "$ETCD_VERSION"; then
  echo "e2e-tools: building etcd $ETCD_VERSION"
  (cd tools/etcd && timed etcd "${GO[@]}" build -trimpath -ldflags "-s -w" -o "$TOOLS_BIN/etcd" go.etcd.io/etcd/server/v3)
  stamp etcd "$ETCD_VERSION"
fi

if fresh prometheus-adapter "$PROMETHEUS_ADAPTER_VERSION"; then
  echo "e2e-tools: building prometheus-adapter $PROMETHEUS_ADAPTER_VERSION"
  (cd tools/prometheus-adapter && timed prometheus-adapter "${GO[@]}" build -trimpath -ldflags "-s -w" \
    -o "$TOOLS_BIN/prometheus-adapter" sigs.k8s.io/prometheus-adapter/cmd/adapter)
  stamp prometheus-adapter "$PROMETHEUS_ADAPTER_VERSION"
fi

# Named prometheus3 so it never shadows the Debian prometheus other tests start from PATH.
if fresh prometheus3 "$PROMETHEUS_MODULE_VERSION"; then
  echo "e2e-tools: building prometheus $PROMETHEUS_VERSION ($PROMETHEUS_MODULE_VERSION)"
  (cd tools/prometheus && timed prometheus "${GO[@]}" build -trimpath \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION" \
    -o "$TOOLS_BIN/prometheus3" github.com/prometheus/prometheus/cmd/prometheus)
  stamp prometheus3 "$PROMETHEUS_MODULE_VERSION"
fi

if fresh helm "$HELM_VERSION"; then
  echo "e2e-tools: building helm $HELM_VERSION"
  (cd tools/helm && timed helm "${GO[@]}" build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    -o "$TOOLS_BIN/helm" helm.sh/helm/v3/cmd/helm)
  stamp helm "$HELM_VERSION"
fi

# `make e2e ENGINE=keda`: KEDA's operator and its metrics API server (the external.metrics.k8s.io
# provider), and the manifests the run applies from the same module version: CRDs, RBAC, the
# metrics server's APIService and service accounts, copied out of the module cache.
keda_ldflags="-s -w -X github.com/kedacore/keda/v2/version.Version=${KEDA_VERSION#v}"
for bin in operator adapter; do
  if fresh "keda-$bin" "$KEDA_VERSION"; then
    echo "e2e-tools: building keda-$bin $KEDA_VERSION"
    (cd tools/keda && timed "keda-$bin" "${GO[@]}" build -trimpath -ldflags "$keda_ldflags" \
      -o "$TOOLS_BIN/keda-$bin" "github.com/kedacore/keda/v2/cmd/$bin")
    stamp "keda-$bin" "$KEDA_VERSION"
  fi
done
keda_config="$ROOT/.tools/keda/$KEDA_VERSION/config"
if [ ! -d "$keda_config" ]; then
  keda_module="$(cd tools/keda && go list -m -f '{{.Dir}}' github.com/kedacore/keda/v2)"
  mkdir -p "$keda_config.partial"
  for part in crd/bases rbac metrics-server service_account; do
    mkdir -p "$keda_config.partial/$part"
    cp "$keda_module/config/$part"/*.yaml "$keda_config.partial/$part/"
  done
  chmod -R u+w "$keda_config.partial"
  mv "$keda_config.partial" "$keda_config"
fi

# The prometheus-community chart users install Prometheus Adapter with; the run renders it with
# `helm template`. Where its repository cannot be reached, point PROMETHEUS_ADAPTER_CHART at a
# downloaded copy of the same version (relative to the repository root, or absolute); a copy next
# to the repository, in ../shared/charts, is used when present.
chart="$ROOT/.tools/charts/prometheus-adapter-$PROMETHEUS_ADAPTER_CHART_VERSION.tgz"
if [ ! -f "$chart" ]; then
  mkdir -p "$(dirname "$chart")"
  downloaded="${PROMETHEUS_ADAPTER_CHART:-../shared/charts/prometheus-adapter-$PROMETHEUS_ADAPTER_CHART_VERSION.tgz}"
  if [ -f "$downloaded" ]; then
    cp "$downloaded" "$chart"
  elif [ -n "${PROMETHEUS_ADAPTER_CHART:-}" ]; then
    echo "e2e-tools: PROMETHEUS_ADAPTER_CHART=$PROMETHEUS_ADAPTER_CHART is not a file" >&2
    exit 2
  else
    "$TOOLS_BIN/helm" pull prometheus-adapter --repo https://prometheus-community.github.io/helm-charts \
      --version "$PROMETHEUS_ADAPTER_CHART_VERSION" --destination "$(dirname "$chart")"
  fi
fi

command -v kubectl >/dev/null || {
  echo "e2e-tools: kubectl is not on PATH (a v1.32 or v1.33 client is expected)" >&2
  exit 1
}
echo "e2e-tools: ready in .tools/bin"
