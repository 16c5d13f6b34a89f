#!/usr/bin/env bash
# Runs WinDi without containers: a private PostgreSQL from the local installation (data under .windi/),
# Redis when redis-server is installed, the migration worker (schema + seed data), then two API replicas
# on http://localhost:8000 and :8001 that relay events over Redis (one replica without Redis).
# Ctrl-C stops all of it.
#
#   ./run.sh                                   # private PostgreSQL under .windi/postgres
#   WINDI_DATABASE='Host=...;Database=windi;Username=...;Password=...' ./run.sh   # your own PostgreSQL
#   WINDI_REDIS='host:port' ./run.sh           # your own Redis
#
# Environment: WINDI_PORT (first API replica, default 8000; the second gets the next port),
# WINDI_PG_PORT (private PostgreSQL, default 55432), WINDI_REDIS_PORT (private Redis, default 56379).
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)
state="$root/.windi"
api_port=${WINDI_PORT:-8000}
pg_port=${WINDI_PG_PORT:-55432}
redis_port=${WINDI_REDIS_PORT:-56379}
pids=()
pg_data=""

say() { printf '\033[1m[windi]\033[0m %s\n' "$*"; }
die() { printf '[windi] %s\n' "$*" >&2; exit 1; }

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$pg_data" ]; then
    say "stopping PostgreSQL"
    as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v dotnet >/dev/null || die "dotnet is not installed: install the .NET 10 SDK (https://dot.net)."

start_private_postgres() {
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -x "$pg_bin/initdb" ] || die "PostgreSQL server binaries not found: install them (Debian: apt-get install -y postgresql) or set WINDI_DATABASE to a connection string."
  mkdir -p "$state"
  pg_data="$state/postgres"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user (it comes with the postgresql package): PostgreSQL refuses to run as root."
    chown postgres:postgres "$state"
  fi
  if [ ! -f "$pg_data/PG_VERSION" ]; then
    say "creating a private PostgreSQL cluster in $pg_data"
    as_postgres "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_postgres "$pg_bin/pg_ctl" -D "$pg_data" status >/dev/null 2>&1; then
    say "starting PostgreSQL on 127.0.0.1:$pg_port"
    as_postgres "$pg_bin/pg_ctl" -D "$pg_data" -l "$state/postgres.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $state" start >/dev/null \
      || die "PostgreSQL did not start; see $state/postgres.log"
  else
    pg_data=""  # already running (another ./run.sh?): leave it alone on exit
  fi
  # The worker could create it too, but EF logs a failed connection before doing so.
  if ! as_postgres "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -Atqc "SELECT 1 FROM pg_database WHERE datname = 'windi'" | grep -q 1; then
    as_postgres "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE windi" >/dev/null
  fi
  export ConnectionStrings__windi="Host=127.0.0.1;Port=$pg_port;Database=windi;Username=postgres"
}

if [ -n "${WINDI_DATABASE:-}" ]; then
  export ConnectionStrings__windi="$WINDI_DATABASE"
else
  start_private_postgres
fi

replicas=1
if [ -n "${WINDI_REDIS:-}" ]; then
  export ConnectionStrings__redis="$WINDI_REDIS"
  replicas=2
elif command -v redis-server >/dev/null; then
  say "starting Redis on 127.0.0.1:$redis_port"
  mkdir -p "$state"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --logfile "$state/redis.log" &
  pids+=($!)
  export ConnectionStrings__redis="127.0.0.1:$redis_port"
  replicas=2
else
  say "redis-server is not installed: running one API replica (install it for two replicas that relay"
  say "events over Redis: Debian: apt-get install -y redis-server)"
fi

say "building"
dotnet build WinDi.MigrationWorker/WinDi.MigrationWorker.csproj -c Release -nologo -v quiet -o "$state/bin/migrations" >/dev/null \
  || die "build failed: run 'dotnet build WinDi.MigrationWorker' to see why"
dotnet build WinDi.Api/WinDi.Api.csproj -c Release -nologo -v quiet -o "$state/bin/api" >/dev/null \
  || die "build failed: run 'dotnet build WinDi.Api' to see why"

export DOTNET_ENVIRONMENT=Development ASPNETCORE_ENVIRONMENT=Development Seed__TestData=${Seed__TestData:-true}

say "applying migrations and seed data"
dotnet "$state/bin/migrations/WinDi.MigrationWorker.dll" || die "the migration worker failed (see its log above)"

api_pids=()
for i in $(seq 0 $((replicas - 1))); do
  port=$((api_port + i))
  say "starting API replica $((i + 1)) on http://localhost:$port"
  (cd "$state/bin/api" && exec dotnet WinDi.Api.dll --urls "http://localhost:$port") &
  pids+=($!)
  api_pids+=($!)
done

for i in $(seq 0 $((replicas - 1))); do
  for _ in $(seq 1 60); do
    curl -fsS "http://localhost:$((api_port + i))/alive" >/dev/null 2>&1 && break
    kill -0 "${api_pids[$i]}" 2>/dev/null || die "API replica $((i + 1)) exited during start-up (see its log above)"
    sleep 0.5
  done
done

second=""
[ "$replicas" = 2 ] && second="
    Replica 2  http://localhost:$((api_port + 1))   (same API; events cross replicas over Redis)"
cat <<TXT

  WinDi is running.
    Web client http://localhost:$api_port/
    API        http://localhost:$api_port$second
    API docs   http://localhost:$api_port/scalar   (OpenAPI: /openapi/v1.json)
    WebSocket  ws://localhost:$api_port/ws?access_token=<token>
    Health     http://localhost:$api_port/health
  Log in as alice.wright87@example.com / Zx7!pTn9vR (see README.md). Ctrl-C stops everything.

TXT
wait -n "${api_pids[@]}"
