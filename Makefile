# transcoder: `make demo` and `make test` do all the set-up on a fresh Debian machine.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(HOME)/.cache/transcoder-target

.PHONY: deps demo test lint fmt serve postgres bench bench-quick

deps:
	./scripts/install-system-deps.sh

# The dev profile compiles dependencies with optimisations (see Cargo.toml) and shares
# its build with `make test`; the media work itself runs in GStreamer's C code.
demo: deps
	$(CARGO) run --bin transcoder -- demo

serve: deps
	$(CARGO) run --release --bin transcoder -- serve

postgres:
	./scripts/ensure-postgres.sh

test: deps postgres lint
	$(CARGO) build --tests
	$(CARGO) test --no-fail-fast -- --test-threads=2
	$(MAKE) bench-quick

# Measures media throughput (vs ffmpeg and gst-launch), concurrency, the control plane,
# WatchJob fan-out and enqueue-to-start latency; prints each figure beside its target
# and writes docs/benchmarks.md. Long: a 60 s 1080p source is transcoded many times.
bench: deps postgres
	$(CARGO) run --release --bin transcoder -- bench $(BENCH_ARGS)

# The same harness on tiny inputs, in seconds (part of `make test`, so it never rots).
# Its figures mean nothing; the report goes to /tmp/transcoder-bench/benchmarks-quick.md.
bench-quick: deps postgres
	$(CARGO) run --bin transcoder -- bench --quick

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
