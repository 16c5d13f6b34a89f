#!/usr/bin/env bash
# Runs WinDi under its Aspire AppHost, with the dashboard: PostgreSQL, Redis, the migration worker and two
# API replicas behind http://localhost:8000. A thin wrapper around `dotnet run --project WinDi.AppHost`
# that first makes sure this machine has what the AppHost will start (see README, "Run").
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '\033[1m[windi]\033[0m %s\n' "$*"; }
die() { printf '[windi] %s\n' "$*" >&2; exit 1; }

command -v dotnet >/dev/null || die "dotnet is not installed: install the .NET 10 SDK (https://dot.net)."

runtime=${ASPIRE_CONTAINER_RUNTIME:-docker}
mode=${WinDi__Infrastructure:-auto}
if [ "$mode" = auto ]; then
  if timeout 10 "$runtime" info >/dev/null 2>&1; then mode=containers; else mode=local; fi
fi

if [ "$mode" = local ]; then
  # No healthy container runtime: the AppHost runs the locally installed servers.
  if [ -z "${ConnectionStrings__windi:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    die "PostgreSQL's server binaries are missing (/usr/lib/postgresql/*/bin): install them (Debian: apt-get install -y postgresql), or start Docker, or set ConnectionStrings__windi."
  fi
  if [ -z "${ConnectionStrings__redis:-}" ] && ! command -v redis-server >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing redis-server (apt-get)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null \
        || die "apt-get install redis-server failed: install it yourself, or start Docker, or set ConnectionStrings__redis."
    else
      die "redis-server is missing: install it (Debian: sudo apt-get install -y redis-server), or start Docker, or set ConnectionStrings__redis."
    fi
  fi
fi
say "PostgreSQL and Redis: ${mode/local/local processes}"

say "building"
dotnet build WinDi.AppHost -nologo -v quiet >/dev/null || die "build failed: run 'dotnet build WinDi.AppHost' to see why"

log=$(mktemp)
export WinDi__Infrastructure=$mode
dotnet run --project WinDi.AppHost --no-build --launch-profile http > >(tee "$log") 2>&1 &
apphost=$!
# TERM, not INT: a script started in the background ignores SIGINT, and so would its children.
trap 'kill -TERM "$apphost" 2>/dev/null || true; wait "$apphost" 2>/dev/null || true; rm -f "$log"' EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 240); do
  curl -fsS http://localhost:8000/health >/dev/null 2>&1 && break
  kill -0 "$apphost" 2>/dev/null || die "the AppHost exited during start-up (see its log above)"
  sleep 0.5
done
curl -fsS http://localhost:8000/health >/dev/null 2>&1 || die "the API did not become healthy in 2 minutes: open the dashboard to see why"
dashboard=$(grep -oE 'http://localhost:[0-9]+/login\?t=[0-9a-f]+' "$log" | head -n 1)
cat <<TXT

  WinDi is running.
    Dashboard  ${dashboard:-http://localhost:15180}
    Web client http://localhost:8000/
    API        http://localhost:8000   (two replicas behind Aspire's proxy; events cross them over Redis)
    API docs   http://localhost:8000/scalar   (OpenAPI: /openapi/v1.json)
    WebSocket  ws://localhost:8000/ws?access_token=<token>
  Log in as alice.wright87@example.com / Zx7!pTn9vR (see README.md). Ctrl-C stops everything.

TXT
wait "$apphost"
