# transcoder: `make demo` and `make test` do all the set-up on a fresh Debian machine.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(HOME)/.cache/transcoder-target

.PHONY: deps demo test lint fmt serve postgres

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

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all
