#!/usr/bin/env bash
# Installs what the tests need beyond npm packages: Debian packages and pinned Go tools, built into
# .tools/bin (git-ignored, kept between runs). Each step is skipped when its result is present.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS_BIN="$PWD/.tools/bin"
mkdir -p "$TOOLS_BIN"

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

# Debian packages and Go tools are added here as the tests come to need them.

echo "tools: ready in .tools/bin"
