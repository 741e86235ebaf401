#!/usr/bin/env bash
# Installs the system packages transcoder needs to build, test and demo.
# Idempotent: does nothing when every package is already present.
set -euo pipefail

PACKAGES=(
  pkg-config
  libglib2.0-dev
  libgstreamer1.0-dev
  libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools
  gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly
  gstreamer1.0-libav
  postgresql-client
  ffmpeg
  # curl: the REST tests run the order dialect's own curl line.
  curl
  # exiftool: the preset dialect's postback `meta` is exiftool's own output.
  libimage-exiftool-perl
  # chromium + chromium-driver: tests/dashboard.rs drives the dashboard in headless Chromium.
  chromium
  chromium-driver
  # prometheus: its promtool validates the /metrics exposition in tests/metrics.rs.
  prometheus
  # tmux: tests/cli_client.rs watches the CLI's progress bars on a real terminal.
  tmux
)
PACKAGES+=("$@")

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "Installing system packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
# Wait for another apt/dpkg run (a parallel make, unattended upgrades) instead of failing.
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
