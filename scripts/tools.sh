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
KEDA_VERSION=v2.21.0
NATS_SERVER_VERSION=v2.10.27

apt_updated=""
apt_install() { # package command
  command -v "$2" >/dev/null && return 0
  # Waits for another apt run to finish rather than failing on its lock.
  if [ -z "$apt_updated" ]; then apt-get -o DPkg::Lock::Timeout=300 update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$1" >/dev/null
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

# nats-server: tests that need the monitoring endpoint (/jsz) or a cluster start their own servers.
apt_install nats-server nats-server
# nats-server 2.10 (what the dev overlay runs): the worker's dead-letter tests run on it and on
# Debian's 2.9. Not on PATH: the tests name .tools/bin/nats-server.
go_install nats-server "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"

# Headless Chromium for the status page test of queuescale-local (driven by playwright-core).
apt_install chromium chromium

# kubectl-validate: offline schema validation of the rendered manifests (built-in Kubernetes schemas).
go_install kubectl-validate "sigs.k8s.io/kubectl-validate@$KUBECTL_VALIDATE_VERSION"

# CRDs for kubectl-validate, taken from the projects' Go modules so their versions are pinned and
# nothing is vendored into the repository.
crds_from_module() { # name module@version directory-in-module file-glob
  local dir="$TOOLS_DIR/crds/$1-${2##*@}"
  if [ ! -f "$dir/.complete" ]; then
    echo "tools: fetching $2 CRDs"
    local module_dir
    module_dir="$(GOFLAGS=-mod=mod go mod download -json "$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$module_dir/$3"/$4 "$dir/"
    chmod u+w "$dir"/*.yaml
    touch "$dir/.complete"
  fi
  ln -sfn "$dir" "$TOOLS_DIR/crds/$1"
}
# ServiceMonitor, PodMonitor, PrometheusRule
crds_from_module prometheus-operator "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
  example/prometheus-operator-crd 'monitoring.coreos.com_*.yaml'
# ScaledObject (k8s/components/keda)
crds_from_module keda "github.com/kedacore/keda/v2@$KEDA_VERSION" config/crd/bases 'keda.sh_*.yaml'

# KEDA's external scaler service definition, which exporter/test/scaler-proto.test.ts compares with
# the exporter's copy (exporter/proto/externalscaler.proto).
proto_from_module() { # name module@version path-in-module
  local dir="$TOOLS_DIR/proto/$1-${2##*@}"
  if [ ! -f "$dir/.complete" ]; then
    echo "tools: fetching $2 $3"
    local module_dir
    module_dir="$(GOFLAGS=-mod=mod go mod download -json "$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    rm -rf "$dir" && mkdir -p "$dir"
    cp "$module_dir/$3" "$dir/"
    chmod u+w "$dir"/*
    touch "$dir/.complete"
  fi
  ln -sfn "$dir" "$TOOLS_DIR/proto/$1"
}
proto_from_module keda "github.com/kedacore/keda/v2@$KEDA_VERSION" pkg/scalers/externalscaler/externalscaler.proto

# k6 for the load-test smoke run.
scripts/loadtest-tools.sh k6

echo "tools: ready in .tools/bin"
