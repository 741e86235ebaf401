#!/usr/bin/env bash
# Builds the image from ./Dockerfile and runs it the way the Helm chart does.
#   usage: image-build.sh IMAGE [HOST_BINARY]
# Docker: Debian's docker.io is installed if missing, and dockerd started in the
# background when no daemon answers (our machines have no systemd).
# Registries: when Docker Hub answers, a plain `docker build` (the build stage compiles the
# binary). When it does not (our machines reach only the package registries), the build
# runs offline: debian:12-slim is made with debootstrap from Debian's own mirror, and the
# runtime stage takes the binary built on this Debian 12 host (BINARY_FROM), so the
# runtime stage itself, its packages, user and layout, is still built and run for real.
# Then the image runs `transcoder demo` (a real transcode) with a read-only root
# filesystem, as its non-root user, with a tmpfs /tmp and a volume on /data.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE="$1"
HOST_BINARY="${2:-}"
# Debian's client (20.10) builds with BuildKit without the buildx plugin.
DOCKER=/usr/bin/docker
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT

apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "$@"
}

[ -x "$DOCKER" ] || apt_install docker.io
if ! "$DOCKER" info >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "note: no Docker daemon answers and this user cannot start one: image NOT built"
    exit 0
  fi
  echo "Starting dockerd (log: /tmp/dockerd.log)"
  (setsid dockerd >/tmp/dockerd.log 2>&1 &)
  for _ in $(seq 60); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 1; done
  if ! "$DOCKER" info >/dev/null 2>&1; then
    echo "dockerd did not start; see /tmp/dockerd.log" >&2
    exit 1
  fi
fi

dockerfile=Dockerfile
build_args=()
if timeout 30 "$DOCKER" pull -q debian:12-slim >/dev/null 2>&1; then
  echo "Docker Hub answers: full multi-stage build"
else
  echo "note: Docker Hub does not answer: offline build (debootstrap base, host binary)"
  if [ -z "$HOST_BINARY" ]; then
    echo "offline build needs the host binary (make build)" >&2
    exit 1
  fi
  if ! "$DOCKER" image inspect debian:12-slim >/dev/null 2>&1; then
    command -v debootstrap >/dev/null || apt_install debootstrap
    debootstrap --variant=minbase bookworm "$SCRATCH/rootfs" http://deb.debian.org/debian >/dev/null
    tar -C "$SCRATCH/rootfs" -c . | "$DOCKER" import - debian:12-slim >/dev/null
    rm -rf "$SCRATCH/rootfs"
  fi
  mkdir -p "$SCRATCH/prebuilt"
  cp "$HOST_BINARY" "$SCRATCH/prebuilt/transcoder"
  printf 'FROM scratch\nCOPY transcoder /out/transcoder\n' >"$SCRATCH/prebuilt/Dockerfile"
  "$DOCKER" build -q -t transcoder-prebuilt:local "$SCRATCH/prebuilt" >/dev/null
  build_args+=(--build-arg BINARY_FROM=transcoder-prebuilt:local --target runtime)
  # The `# syntax=` line would fetch the Dockerfile frontend from Docker Hub; the
  # daemon's built-in frontend reads the same file.
  grep -v '^# syntax=' Dockerfile >"$SCRATCH/Dockerfile"
  dockerfile="$SCRATCH/Dockerfile"
fi
DOCKER_BUILDKIT=1 "$DOCKER" build -q -f "$dockerfile" "${build_args[@]}" -t "$IMAGE" . >/dev/null
echo "ok   built $IMAGE ($("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE" | numfmt --to=iec))"

user="$("$DOCKER" image inspect -f '{{.Config.User}}' "$IMAGE")"
case "$user" in
  "" | 0 | root | 0:*) echo "FAIL image runs as root ($user)" >&2; exit 1 ;;
esac
echo "ok   image user is $user"

volume="transcoder-image-test-$$"
"$DOCKER" volume create "$volume" >/dev/null
trap '"$DOCKER" volume rm -f "$volume" >/dev/null 2>&1; rm -rf "$SCRATCH"' EXIT
if timeout 300 "$DOCKER" run --rm --read-only --tmpfs /tmp --cap-drop ALL \
  --security-opt no-new-privileges -v "$volume:/data" "$IMAGE" demo >"$SCRATCH/demo.log" 2>&1; then
  echo "ok   transcoder demo ran in the image: read-only root, user $user, /data volume"
  tail -n 5 "$SCRATCH/demo.log"
else
  echo "FAIL transcoder demo in the image:" >&2
  tail -n 40 "$SCRATCH/demo.log" >&2
  exit 1
fi
