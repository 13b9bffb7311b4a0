# The two commands: `make run` and `make test`. Both bring up Postgres and Redis first.
SHELL := /bin/bash
CARGO ?= cargo
PORT ?= 3000

.PHONY: run test bench services assets build lint fmt schema release clean

## Build and start the server on http://localhost:$(PORT), with GraphiQL.
run: services assets build
	@echo ""
	@echo "    Vibecoding Community: http://localhost:$(PORT)/"
	@echo "    GraphiQL:             http://localhost:$(PORT)/graphiql"
	@echo "    Health checks:        http://localhost:$(PORT)/api/v1/health_checks/{app,database,cache}"
	@echo ""
	PORT=$(PORT) ./target/debug/vibecoding serve

## Every check CI runs: formatting, lints, unit and integration tests.
test: services assets
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test --all-targets

## Benchmarks (optimised build): the HTTP scenarios under wrk next to pgbench's ceiling
## for the same SQL (on a seeded database of BENCH_ARTICLES articles, default 100,000,
## kept between runs), each search alone, the server's memory, and one event delivered to
## 10,000 WebSocket subscribers (SUBSCRIBERS=). Tables and charts go to target/bench/.
bench: assets
	@scripts/services.sh --bench
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); \
	$(CARGO) test --release --test integration bench_ -- --ignored --nocapture --test-threads 1

services:
	@scripts/services.sh

## The GraphiQL playground's scripts and styles, from the npm registry (web/package-lock.json).
assets: web/node_modules/.installed

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

build:
	$(CARGO) build

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Regenerate the committed SDL after a schema change.
schema:
	$(CARGO) run --quiet -- schema > schema.graphql

release: assets
	$(CARGO) build --release --locked

clean:
	$(CARGO) clean
	rm -rf web/node_modules
