#!/usr/bin/env bash
# Builds the exporter, worker and producer images (queuescale-<component>:$TAG) from the one
# Dockerfile, with Docker when an engine runs and with buildah (or podman) otherwise.
#
# Base images: the Dockerfile's defaults are the real ones (node:20 bookworm-slim to build,
# distroless nodejs20 to run). Where they cannot be pulled (BASE_IMAGES=auto finds out; =standin
# forces it) this script builds local STAND-INS and builds on them instead:
#   localhost/queuescale-standin/node:20-bookworm-slim      a Debian bookworm root filesystem made
#       with mmdebstrap (apt's own sources) plus this machine's node 20 and npm, trusting the CA
#       certificates this machine trusts (NODE_EXTRA_CA_CERTS, else its system bundle) so that
#       `npm ci` inside the build reaches the registry the way the machine's own npm does;
#   localhost/queuescale-standin/nodejs20-debian12:nonroot  the same root filesystem plus node at
#       /nodejs/bin/node as entrypoint and user 65532 (nonroot), like distroless, but with a shell.
# The stand-ins exist only so that images can be built and run where no registry can be reached;
# images meant for a cluster are built on the real bases.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
TAG="${TAG:-dev}"
BASE_IMAGES="${BASE_IMAGES:-auto}" # auto | real | standin
COMPONENTS=(${COMPONENTS:-exporter worker producer})
WORK="$ROOT/.tools/images"
mkdir -p "$WORK"

# The real bases, read from the Dockerfile so there is one place that pins them.
default_arg() { sed -n "s/^ARG $1=//p" Dockerfile; }
REAL_BUILD_IMAGE="$(default_arg BUILD_IMAGE)"
REAL_RUNTIME_IMAGE="$(default_arg RUNTIME_IMAGE)"
STANDIN_ROOTFS=localhost/queuescale-standin/bookworm:12
STANDIN_BUILD_IMAGE=localhost/queuescale-standin/node:20-bookworm-slim
STANDIN_RUNTIME_IMAGE=localhost/queuescale-standin/nodejs20-debian12:nonroot

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  ENGINE=docker
else
  scripts/image-tools.sh
  ENGINE=buildah
  command -v buildah >/dev/null || ENGINE=podman
  # buildah and podman ask for a nofile limit of 1048576 by default, which a process without
  # CAP_SYS_RESOURCE (a CI sandbox) cannot raise to; crun cannot use a hybrid cgroup layout: runc can.
  if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt 1048576 ]; then
    nofile="$(ulimit -Hn)" nproc="$(ulimit -Hu)"
    # runc refuses an nproc limit as high as the hard limit here; 32768 is plenty for one container.
    if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
    printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n[engine]\nruntime = "runc"\n' \
      "$nofile" "$nofile" "$nproc" "$nproc" >"$WORK/containers.conf"
    export CONTAINERS_CONF="$WORK/containers.conf"
  fi
fi

have_image() {
  if [ "$ENGINE" = docker ]; then docker image inspect "$1" >/dev/null 2>&1; else podman image exists "$1"; fi
}
pullable() { # image: present locally, or its registry answers for it within 30 s
  have_image "$1" && return 0
  if [ "$ENGINE" = docker ]; then timeout 60 docker pull -q "$1" >/dev/null 2>&1; else
    timeout 30 skopeo inspect --raw "docker://$1" >/dev/null 2>&1
  fi
}

build_standins() {
  local dir="$WORK/standin"
  mkdir -p "$dir"
  if ! have_image "$STANDIN_ROOTFS"; then
    echo "images: making the stand-in Debian bookworm root filesystem with mmdebstrap"
    mmdebstrap --quiet --variant=essential --include=libstdc++6,ca-certificates bookworm "$dir/rootfs.tar"
    podman import --quiet "$dir/rootfs.tar" "$STANDIN_ROOTFS" >/dev/null
    rm -f "$dir/rootfs.tar"
  fi
  local node npm_dir
  node="$(command -v node)"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  case "$(node --version)" in v20.*) ;; *)
    echo "images: the stand-ins need node 20 on PATH, found $(node --version)" >&2
    exit 1
    ;;
  esac
  rm -rf "$dir/context" && mkdir -p "$dir/context"
  cp "$node" "$dir/context/node"
  cp -r "$npm_dir" "$dir/context/npm"
  cp "${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}" "$dir/context/extra-ca-certificates.crt"
  cat >"$dir/build.Containerfile" <<CONTAINERFILE
FROM $STANDIN_ROOTFS
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY extra-ca-certificates.crt /usr/local/share/extra-ca-certificates.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/extra-ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx && node --version && npm --version
CMD ["node"]
CONTAINERFILE
  cat >"$dir/runtime.Containerfile" <<CONTAINERFILE
FROM $STANDIN_ROOTFS
COPY node /nodejs/bin/node
RUN echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >>/etc/passwd \
  && echo 'nonroot:x:65532:' >>/etc/group && mkdir -p /home/nonroot && chown 65532:65532 /home/nonroot
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/nodejs/bin/node"]
CONTAINERFILE
  echo "images: building the stand-in base images"
  engine_build -f "$dir/build.Containerfile" -t "$STANDIN_BUILD_IMAGE" "$dir/context"
  engine_build -f "$dir/runtime.Containerfile" -t "$STANDIN_RUNTIME_IMAGE" "$dir/context"
  rm -rf "$dir/context"
}

# --force-rm: a failed step's working container is removed too (buildah keeps it by default).
engine_build() {
  case "$ENGINE" in
    docker) docker build --quiet --force-rm "$@" >/dev/null ;;
    buildah) buildah bud --quiet --layers --force-rm --network host "$@" >/dev/null ;;
    podman) podman build --quiet --layers --force-rm --network host "$@" >/dev/null ;;
  esac
}

build_args=()
# BUILD_IMAGE / RUNTIME_IMAGE in the environment replace the Dockerfile's defaults (a digest pin).
[ -n "${BUILD_IMAGE:-}" ] && REAL_BUILD_IMAGE="$BUILD_IMAGE" && build_args+=(--build-arg "BUILD_IMAGE=$BUILD_IMAGE")
[ -n "${RUNTIME_IMAGE:-}" ] && REAL_RUNTIME_IMAGE="$RUNTIME_IMAGE" && build_args+=(--build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE")
use_standins=""
case "$BASE_IMAGES" in
  standin) use_standins=1 ;;
  real) ;;
  auto)
    if ! pullable "$REAL_BUILD_IMAGE" || ! pullable "$REAL_RUNTIME_IMAGE"; then use_standins=1; fi
    ;;
  *)
    echo "images: BASE_IMAGES must be auto, real or standin, not $BASE_IMAGES" >&2
    exit 2
    ;;
esac
if [ -n "$use_standins" ]; then
  echo "images: $REAL_BUILD_IMAGE / $REAL_RUNTIME_IMAGE cannot be pulled here: building on local stand-ins"
  echo "images: (a bookworm root filesystem from mmdebstrap plus this machine's node; not for a cluster)"
  if [ "$ENGINE" = docker ]; then
    echo "images: the stand-ins are built with buildah/podman; use BASE_IMAGES=real with Docker" >&2
    exit 1
  fi
  if ! have_image "$STANDIN_BUILD_IMAGE" || ! have_image "$STANDIN_RUNTIME_IMAGE"; then build_standins; fi
  build_args=(--build-arg "BUILD_IMAGE=$STANDIN_BUILD_IMAGE" --build-arg "RUNTIME_IMAGE=$STANDIN_RUNTIME_IMAGE")
fi

for component in "${COMPONENTS[@]}"; do
  start=$SECONDS
  engine_build --target "$component" --build-arg "COMPONENT=$component" "${build_args[@]}" \
    -t "queuescale-$component:$TAG" -f Dockerfile .
  echo "images: queuescale-$component:$TAG built with $ENGINE in $((SECONDS - start)) s"
done

# Sizes as the engine stores them (uncompressed), and how much of it the project adds to the base.
image_size() {
  if [ "$ENGINE" = docker ]; then docker image inspect --format '{{.Size}}' "$1"; else
    podman image inspect --format '{{.Size}}' "$1"
  fi
}
runtime_base="$REAL_RUNTIME_IMAGE"
[ -n "$use_standins" ] && runtime_base="$STANDIN_RUNTIME_IMAGE"
base_size="$(image_size "$runtime_base" 2>/dev/null || echo 0)"
for component in "${COMPONENTS[@]}"; do
  image="queuescale-$component:$TAG"
  [ "$ENGINE" = docker ] || image="localhost/$image"
  size="$(image_size "$image")"
  echo "images: queuescale-$component:$TAG $((size / 1000000)) MB, of which $(((size - base_size) / 1000000)) MB on top of $runtime_base"
done
