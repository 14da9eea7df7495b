#!/usr/bin/env bash
# Install everything from a bare machine, start a throwaway PostgreSQL 15 cluster in a
# temporary directory, and run the whole test suite against SQLite and PostgreSQL.
# Usage: scripts/test.sh [pytest args…]
set -euo pipefail
cd "$(dirname "$0")/.."

# Python 3.11 or 3.12 (durable-rules does not build on 3.13).
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.12 python3.11 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(not ((3,11) <= sys.version_info[:2] < (3,13)))'; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || { echo "need Python 3.11 or 3.12" >&2; exit 1; }

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

# PostgreSQL 15 server binaries: installed on these machines; install them if missing.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

# Chromium from the distribution for the web interface's browser tests (Playwright drives it;
# Playwright's own browser download is not reachable from these machines).
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
    || echo "warning: could not install chromium; the browser tests will fail" >&2
fi

PGTMP=$(mktemp -d /tmp/placering-pg.XXXXXX)
PGPORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg=()
if [ "$(id -u)" = 0 ]; then  # initdb refuses to run as root
  chown postgres "$PGTMP"
  as_pg=(runuser -u postgres --)
fi
cleanup() {
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGTMP"
}
trap cleanup EXIT
"${as_pg[@]}" "$PGBIN/initdb" -D "$PGTMP/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
# The test superuser is trusted; every other login (the role tests' people) authenticates with
# a SCRAM-SHA-256 password, as on a shared server.
cat > "$PGTMP/data/pg_hba.conf" <<'HBA'
local all postgres             trust
host  all postgres 127.0.0.1/32 trust
local all all                  scram-sha-256
host  all all      127.0.0.1/32 scram-sha-256
HBA
[ -z "${as_pg[*]}" ] || chown postgres "$PGTMP/data/pg_hba.conf"
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w \
  -o "-p $PGPORT -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null

export PLACERING_TEST_PG_URL="postgresql://postgres@127.0.0.1:$PGPORT/postgres"
export PLACERING_REQUIRE_PG=1
# loadgroup: tests marked xdist_group share one worker (the web tests: one server per back end)
.venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
