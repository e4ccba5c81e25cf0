#!/usr/bin/env bash
# scripts/dev.sh run|test|bench|lint  (what `make run` / `make test` call)
#
# run:   virtualenv in .venv, install, migrate, seed demo data on first start,
#        serve http://127.0.0.1:8000 with Daphne (embedded search, SQLite,
#        in-process tasks unless the environment points elsewhere).
# test:  virtualenv, make sure PostgreSQL and Redis are up (install with apt
#        and start them when missing), ruff, migration and deploy checks, and
#        the whole pytest suite against the real services.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"

log() { printf '\033[1;32m==>\033[0m %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; return 1; fi
}

apt_install() {
  log "installing with apt: $*"
  if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_python() {
  if ! command -v python3 >/dev/null; then apt_install python3 python3-venv python3-dev; fi
  if [ ! -x "$PY" ]; then
    log "creating virtualenv in .venv"
    python3 -m venv "$VENV" || { apt_install python3-venv; python3 -m venv "$VENV"; }
  fi
  local stamp="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    log "installing the marketplace and its dependencies"
    "$PY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    "$PY" -m pip install -q -e ".[dev]" 2>&1 | grep -v -E '^(WARNING: Location|  )' || true
    "$PY" -c "import django, channels, celery, elasticsearch, pytest" # fail loudly if install broke
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then return; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql; fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  log "starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  pg_isready -h 127.0.0.1 -p 5432
  # Trust auth on loopback for the postgres role, as on the CI machines.
  if ! psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1; then
    local hba
    hba="$(ls /etc/postgresql/"$version"/main/pg_hba.conf)"
    as_root sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/' "$hba"
    as_root sed -i -E 's/^(local\s+all\s+postgres\s+)\S+/\1trust/' "$hba"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  fi
}

ensure_redis() {
  if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then return; fi
  if ! command -v redis-server >/dev/null; then apt_install redis-server; fi
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.2; done
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  apt_install chromium fonts-noto-cjk || echo "warning: chromium could not be installed" >&2
}

ensure_gettext() {
  # The translation-completeness test extracts strings with GNU xgettext.
  if command -v xgettext >/dev/null && command -v msgfmt >/dev/null; then return; fi
  apt_install gettext || echo "warning: gettext could not be installed" >&2
}

cmd_lint() {
  ensure_python
  log "ruff"
  "$VENV/bin/ruff" check .
}

cmd_test() {
  ensure_python
  ensure_postgres
  ensure_redis
  ensure_chromium
  ensure_gettext
  cmd_lint
  export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/marketplace}"
  export REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
  log "migrations are committed and linear"
  "$PY" manage.py makemigrations --check --dry-run >/dev/null || {
    echo "model changes without a migration: run manage.py makemigrations" >&2; exit 1; }
  log "production settings pass check --deploy"
  DJANGO_ENV=production DJANGO_SECRET_KEY="$("$PY" -c 'import secrets;print(secrets.token_urlsafe(60))')" \
    FIELD_ENCRYPTION_KEY="$("$PY" -c 'from cryptography.fernet import Fernet;print(Fernet.generate_key().decode())')" \
    DJANGO_ALLOWED_HOSTS=marketplace.example.com \
    "$PY" manage.py check --deploy --fail-level WARNING
  log "pytest (unit, integration, websocket end to end)"
  local status=0
  "$PY" -m pytest -m "not e2e" "$@" || status=$?
  if [ $status -ne 0 ]; then exit $status; fi
  # Browser tests run in their own process: Playwright's event loop breaks
  # async tests that run after it in the same process.
  log "pytest (browser, headless Chromium)"
  DJANGO_ALLOW_ASYNC_UNSAFE=true "$PY" -m pytest -m e2e "$@"
}

cmd_run() {
  ensure_python
  mkdir -p var
  log "migrating the database"
  "$PY" manage.py migrate --noinput
  log "fraud model (trained on first start, or when the saved one is outdated)"
  "$PY" manage.py fraud_train --samples 3000 --if-missing
  log "demo data (first start only)"
  "$PY" manage.py seed_demo --if-empty
  log "serving on http://${HOST:-127.0.0.1}:${PORT:-8000}"
  exec "$PY" manage.py serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
}

cmd_bench() {
  ensure_python
  ensure_postgres
  ensure_redis
  export DATABASE_URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/marketplace_bench}"
  export REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/14}"
  export API_THROTTLING=off
  for bench in tests/load/bench_*.py; do
    log "$bench"
    "$PY" "$bench"
  done
}

case "${1:-}" in
  run) shift; cmd_run "$@" ;;
  test) shift; cmd_test "$@" ;;
  bench) shift; cmd_bench "$@" ;;
  lint) shift; cmd_lint "$@" ;;
  *) echo "usage: scripts/dev.sh run|test|bench|lint" >&2; exit 2 ;;
esac
