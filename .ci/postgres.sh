#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the tests: Debian's postgresql (15), initdb in a temp folder,
# run as the `postgres` user, listening on 127.0.0.1 only, tuned for speed over durability (fsync
# off: the data is thrown away). Prints the export line the tests read; idempotent (a running
# cluster is reused).
#
#   eval "$(bash .ci/postgres.sh)"        # export DOCKYARD_TEST_POSTGRES_URL=postgresql://...
#   bash .ci/postgres.sh stop
#
# Settings: DOCKYARD_TEST_PG_DIR (default /tmp/dockyard-pg), DOCKYARD_TEST_PG_PORT (default 55432).
set -euo pipefail

DIR=${DOCKYARD_TEST_PG_DIR:-/tmp/dockyard-pg}
PORT=${DOCKYARD_TEST_PG_PORT:-55432}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"

log() { echo "postgres: $*" >&2; }
as_postgres() { runuser -u postgres -- "$@"; }

[ "$(id -u)" = 0 ] || { log "run as root"; exit 1; }
if [ -z "$BIN" ]; then
    log "installing Debian's postgresql"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }
    BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

if [ "${1:-}" = stop ]; then
    [ -f "$DIR/data/postmaster.pid" ] && as_postgres "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2
    exit 0
fi

if [ ! -f "$DIR/data/PG_VERSION" ]; then
    log "initdb in $DIR/data"
    mkdir -p "$DIR"
    chown postgres: "$DIR"
    as_postgres "$BIN/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log"
fi
if ! as_postgres "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    log "starting on 127.0.0.1:$PORT (log: $DIR/server.log)"
    as_postgres "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start -o \
        "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB" >&2
fi
echo "export DOCKYARD_TEST_POSTGRES_URL=$URL"
