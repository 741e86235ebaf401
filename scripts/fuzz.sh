#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (FUZZ_SECONDS each, default 60) on its checked-in
# corpus (fuzz/corpus/<target>), with libFuzzer through cargo-fuzz. A crash leaves its input
# in fuzz/artifacts/<target>/ and fails the run; turn it into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# Sanitizer flags need nightly features: the one stable toolchain allows them with
# RUSTC_BOOTSTRAP. The instrumented build lives apart from the service's.
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/transcoder-fuzz-target}"
targets=(order_validation order_dialect preset_dialect probe_to_plan)
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  echo "== $target: ${seconds} s"
  cargo fuzz run -O "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
done
