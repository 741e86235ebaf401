# transcoder: `make demo` and `make test` do all the set-up on a fresh Debian machine.
SHELL := /bin/bash
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(HOME)/.cache/transcoder-target

.PHONY: deps demo test lint fmt serve postgres

deps:
	./scripts/install-system-deps.sh

demo: deps
	$(CARGO) build --release --bin transcoder
	$(CARGO_TARGET_DIR)/release/transcoder demo

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
