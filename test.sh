#!/usr/bin/env bash
# The test command: installs what the tests need when it can (as root, with apt), or stops once, at the
# start, naming what to install; then runs the whole suite (dotnet test --project WinDi.Tests).
# Extra arguments go to the test runner, e.g. ./test.sh -- --filter-namespace "*Browser*".
set -euo pipefail
cd "$(dirname "$0")"

missing=()
# PostgreSQL and Redis from the local installation: the suite's throwaway servers (unless WINDI_TEST_POSTGRES
# and WINDI_TEST_REDIS name others) and the AppHost tests' local processes.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
# The browser tests drive Debian's Chromium through Playwright (never Playwright's own download).
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v dotnet >/dev/null || { echo "[test] the .NET 10 SDK is required: install it (https://dot.net)" >&2; exit 1; }

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[test] installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "[test] the tests need: ${missing[*]}. Install them (Debian: sudo apt-get install -y ${missing[*]})." >&2
    exit 1
  fi
fi

exec dotnet test --project WinDi.Tests "$@"
