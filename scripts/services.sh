#!/usr/bin/env bash
# Makes sure Postgres (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379) answer,
# starting them, or installing them with apt-get first, when they do not. Also makes sure
# npm is there for the GraphiQL assets. Safe to run again and again.
set -euo pipefail

log() { printf '==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2; exit 1; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "$name did not come up" >&2
  exit 1
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 && psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; }

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_up; then return; fi
  local installed_now=0
  if [ ! -d /etc/postgresql ] || [ -z "$(ls -A /etc/postgresql 2>/dev/null)" ]; then
    log "installing PostgreSQL"
    apt_install postgresql postgresql-contrib
    installed_now=1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ "$installed_now" -eq 1 ]; then
    # A development database on this machine: trust local TCP connections, as the
    # default DATABASE_URL (postgres://postgres@127.0.0.1:5432/...) expects.
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
  fi
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for PostgreSQL pg_up
}

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  if command -v redis-cli >/dev/null && redis_up; then return; fi
  if ! command -v redis-server >/dev/null; then
    log "installing Redis"
    apt_install redis-server
  fi
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  wait_for Redis redis_up
}

ensure_npm() {
  if command -v npm >/dev/null; then return; fi
  log "installing Node.js and npm"
  apt_install nodejs npm
}

# `services.sh --bench`: also the load tools `make bench` drives the server with.
ensure_bench_tools() {
  if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt_install wrk
  fi
  if ! command -v pgbench >/dev/null; then
    log "installing pgbench"
    apt_install postgresql-contrib
  fi
}

ensure_postgres
ensure_redis
ensure_npm
if [ "${1:-}" = "--bench" ]; then ensure_bench_tools; fi
log "Postgres and Redis are up"
