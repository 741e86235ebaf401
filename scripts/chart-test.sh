#!/usr/bin/env bash
# Chart tests for helm/transcoder (issue 18): `helm lint --strict`, then for every values
# file under helm/transcoder/ci/ a `helm template` whose manifests are
#   - validated against the Kubernetes OpenAPI schemas (kubernetes-validate --strict) for
#     each version in KUBERNETES_VERSIONS; CRD kinds (ServiceMonitor) have no schema
#     there and are reported as skipped, not validated;
#   - checked for the chart's own promises (scripts/chart-assertions.py): security
#     context, drain vs termination grace, probes, hook, HPA/ServiceMonitor toggles.
# A render without a database must fail with a message that says what to set.
# Then, when the debug binary exists ($CARGO_TARGET_DIR/debug/transcoder, from `make
# build`) and PostgreSQL answers on 127.0.0.1:5432, every render's migration Job and
# api/worker containers run as local processes (scripts/chart-run-local.py) against a
# fresh database, so the real binary proves it accepts the chart's args, env and TOML.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR="${TOOLS_DIR:-$HOME/.cache/transcoder-tools}"
export TOOLS_DIR
./scripts/install-helm.sh

HELM="$TOOLS_DIR/bin/helm"
PYTHON="$TOOLS_DIR/venv/bin/python"
VALIDATE="$TOOLS_DIR/venv/bin/kubernetes-validate"
CHART=helm/transcoder
# The oldest version the chart's features need (native gRPC probes are GA in 1.27; the
# validator's oldest schema is 1.29 territory) and the helm/kubectl layer's version.
KUBERNETES_VERSIONS="${KUBERNETES_VERSIONS:-1.29.0 1.33.0}"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

for values in "$CHART"/ci/*-values.yaml; do
  if "$HELM" lint --strict "$CHART" -f "$values" >"$out/lint.log" 2>&1; then
    pass "helm lint --strict -f $values"
  else
    fail "helm lint --strict -f $values"
    cat "$out/lint.log"
  fi
done

if "$HELM" template smoke "$CHART" >"$out/none.yaml" 2>"$out/none.err"; then
  fail "render without a database must fail"
elif grep -q "set database.url" "$out/none.err"; then
  pass "render without a database fails: $(grep -o 'set database.url[^:]*' "$out/none.err" | head -1)"
else
  fail "render without a database failed for another reason"
  cat "$out/none.err"
fi

for values in "$CHART"/ci/*-values.yaml; do
  name="$(basename "$values" -values.yaml)"
  for version in $KUBERNETES_VERSIONS; do
    rendered="$out/$name-$version.yaml"
    if ! "$HELM" template "rel-$name" "$CHART" --namespace media --kube-version "$version" \
      -f "$values" >"$rendered" 2>"$out/render.err"; then
      fail "$name: helm template (Kubernetes $version)"
      cat "$out/render.err"
      continue
    fi
    objects="$(grep -c '^kind:' "$rendered")"
    crds="$(grep -c '^apiVersion: monitoring.coreos.com/' "$rendered" || true)"
    # A missing schema is only a warning to kubernetes-validate: allow it for the CRD
    # kinds we expect, and fail on any other (a mistyped apiVersion would hide there).
    if "$VALIDATE" --strict --quiet -k "$version" "$rendered" >"$out/validate.log" 2>&1 &&
      ! grep "Couldn't find schema" "$out/validate.log" | grep -v "kind ServiceMonitor " >&2; then
      note=""
      [ "$crds" -eq 0 ] || note=", $crds ServiceMonitor (CRD, no schema here) not schema-checked"
      pass "$name: $objects objects rendered, $((objects - crds)) valid against Kubernetes $version schemas$note"
    else
      fail "$name: kubernetes-validate (Kubernetes $version)"
      cat "$out/validate.log"
    fi
  done
  if "$PYTHON" scripts/chart-assertions.py "$rendered" "$values"; then
    pass "$name: chart assertions"
  else
    fail "$name: chart assertions"
  fi
done

# TRANSCODER_BIN picks another build (the shared target dir's may be from another tree).
BINARY="${TRANSCODER_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/transcoder-target}/debug/transcoder}"
LOCAL_DATABASE=transcoder_chart_test
newest="${KUBERNETES_VERSIONS##* }"
if [ ! -x "$BINARY" ]; then
  skipped=$((skipped + 1))
  echo "skip running the renders locally: no $BINARY (make build)"
elif ! "$BINARY" migrate --help >/dev/null 2>&1; then
  skipped=$((skipped + 1))
  echo "skip running the renders locally: $BINARY predates \`transcoder migrate\` (make build)"
elif ! psql -h 127.0.0.1 -U postgres -qAt -c 'select 1' >/dev/null 2>&1; then
  skipped=$((skipped + 1))
  echo "skip running the renders locally: PostgreSQL does not answer on 127.0.0.1:5432 (make postgres)"
else
  psql -h 127.0.0.1 -U postgres -q -c "drop database if exists $LOCAL_DATABASE" \
    -c "create database $LOCAL_DATABASE" >/dev/null 2>&1
  for values in "$CHART"/ci/*-values.yaml; do
    name="$(basename "$values" -values.yaml)"
    if "$PYTHON" scripts/chart-run-local.py "$out/$name-$newest.yaml" "$BINARY" \
      "postgres://postgres@127.0.0.1:5432/$LOCAL_DATABASE"; then
      pass "$name: migrate, api and worker ran locally with the rendered args and env"
    else
      fail "$name: running the render locally"
    fi
  done
  psql -h 127.0.0.1 -U postgres -q -c "drop database if exists $LOCAL_DATABASE" >/dev/null 2>&1 || true
fi

echo "chart-test: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
