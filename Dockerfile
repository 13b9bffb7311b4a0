# syntax=docker/dockerfile:1
# The Vibecoding Community server: `vibecoding serve` (the default) or `vibecoding worker`.
# The build steps are those of `make release` (checked by a test): dependencies are compiled
# in a layer of their own (cargo-chef), so a source change rebuilds only the crate itself.

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN} AS chef
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang pkg-config \
 && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
# SQL is plain runtime queries, exercised by the integration tests: the build never
# connects to a database and needs no prepared query data.
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked

# The GraphiQL playground's scripts and styles, from the npm registry.
FROM node:20-${DEBIAN}-slim AS assets
WORKDIR /app/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM debian:${DEBIAN}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /app vibecoding
WORKDIR /app
COPY --from=builder /app/target/release/vibecoding /usr/local/bin/vibecoding
COPY --from=assets /app/web/node_modules /app/web/node_modules
ENV APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    LOG_FORMAT=json \
    VIBECODING_HTTP__ASSETS_DIR=/app/web/node_modules \
    VIBECODING_UPLOADS__DIR=/app/tmp/uploads \
    VIBECODING_SEARCH__INDEX_DIR=/app/tmp/search-index
USER vibecoding
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/api/v1/health_checks/app" || exit 1
ENTRYPOINT ["vibecoding"]
CMD ["serve"]
