#!/usr/bin/env bash
# Installs the Debian packages that build the images without a Docker engine (buildah, podman,
# mmdebstrap, skopeo, umoci) and run them on a real node in `make e2e` (containerd, runc, the CNI
# plugins). Each package is installed only when missing; apt waits for another apt run's lock.
set -euo pipefail
packages=(containerd runc containernetworking-plugins buildah podman mmdebstrap skopeo umoci)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "image-tools: installing ${missing[*]}"
apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
