#!/usr/bin/env bash
# Installs what the tests need beyond npm packages: Debian packages and pinned Go tools, built into
# .tools/bin (git-ignored, kept between runs). Each step is skipped when its result is present.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS_DIR="$PWD/.tools"
TOOLS_BIN="$TOOLS_DIR/bin"
mkdir -p "$TOOLS_BIN"

KUBECTL_VALIDATE_VERSION=v0.0.4
PROMETHEUS_OPERATOR_VERSION=v0.85.0

apt_updated=""
apt_install() { # package command
  command -v "$2" >/dev/null && return 0
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null
}

go_install() { # binary module@version
  [ -x "$TOOLS_BIN/$1" ] && return 0
  echo "tools: building $2"
  GOBIN="$TOOLS_BIN" GOFLAGS=-mod=mod go install "$2"
}

# kubectl renders the Kustomize overlays (`kubectl kustomize`); Debian does not package it.
if ! command -v kubectl >/dev/null; then
  echo "tools: kubectl (with its built-in kustomize) is needed to render k8s/overlays; install it first" >&2
  exit 1
fi

# promtool (rule checks and unit tests) and the prometheus server the scrape test starts itself.
had_prometheus=""
command -v prometheus >/dev/null && had_prometheus=1
apt_install prometheus promtool
if [ -z "$had_prometheus" ]; then
  # The Debian package may start its own service on :9090; the tests run their own server instead.
  if command -v service >/dev/null; then service prometheus stop >/dev/null 2>&1 || true; fi
  if [ -f /run/prometheus/prometheus.pid ]; then kill "$(cat /run/prometheus/prometheus.pid)" 2>/dev/null || true; fi
fi

# kubectl-validate: offline schema validation of the rendered manifests (built-in Kubernetes schemas).
go_install kubectl-validate "sigs.k8s.io/kubectl-validate@$KUBECTL_VALIDATE_VERSION"

# Prometheus Operator CRDs (ServiceMonitor, PodMonitor, PrometheusRule) for kubectl-validate, taken
# from the operator's Go module so their version is pinned and nothing is vendored into the repo.
CRD_DIR="$TOOLS_DIR/crds/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION"
if [ ! -f "$CRD_DIR/.complete" ]; then
  echo "tools: fetching prometheus-operator $PROMETHEUS_OPERATOR_VERSION CRDs"
  module_dir="$(GOFLAGS=-mod=mod go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  rm -rf "$CRD_DIR" && mkdir -p "$CRD_DIR"
  cp "$module_dir"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$CRD_DIR/"
  chmod u+w "$CRD_DIR"/*.yaml
  touch "$CRD_DIR/.complete"
fi
ln -sfn "$CRD_DIR" "$TOOLS_DIR/crds/prometheus-operator"

echo "tools: ready in .tools/bin"
