#!/usr/bin/env bash
# A throwaway PostgreSQL server for humans and benchmarks (the Rust tests use
# tests/it/support/postgres.rs, which does the same): initdb into DIR, listen ONLY on a
# unix socket in DIR (no TCP), print the libpq DSN.
#
#   dsn="$(scripts/private-postgres.sh start /tmp/pg)"   # e.g. host=/tmp/pg port=5432 user=postgres dbname=postgres
#   .venv/bin/python fixtures/labs/06_pipeline_cpu_procs_to_postgres_writer.py --workers 2 --dsn "$dsn"
#   scripts/private-postgres.sh stop /tmp/pg              # stops the server and removes DIR
#
# Server binaries: $FORKCAST_PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian),
# else PATH. initdb refuses to run as root, so as root the server runs as the `postgres`
# system user (else `nobody`), and DIR is chowned to it.
set -euo pipefail

usage() { echo "usage: $0 start DIR | stop DIR | dsn DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd="$1"
mkdir -p "$2" 2>/dev/null || true
dir="$(cd "$2" 2>/dev/null && pwd)" || { echo "private-postgres: no such directory: $2" >&2; exit 2; }
port=5432 # only names the socket file (DIR/.s.PGSQL.5432); nothing listens on TCP

find_bin() {
    if [[ -n "${FORKCAST_PG_BIN:-}" ]]; then echo "$FORKCAST_PG_BIN"; return; fi
    local best
    best="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4n | tail -1 || true)"
    if [[ -n "$best" && -x "$best/pg_ctl" ]]; then echo "$best"; return; fi
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(command -v pg_ctl)"; return
    fi
    echo "private-postgres: PostgreSQL server binaries (initdb, pg_ctl) not found;" \
         "install the 'postgresql' package (Debian/Ubuntu: apt-get install postgresql)" >&2
    exit 1
}

# Runs a command as the server's owner: ourselves, or an unprivileged user when root.
as_owner() {
    if [[ "$(id -u)" -ne 0 ]]; then "$@"; return; fi
    local user=postgres
    id "$user" >/dev/null 2>&1 || user=nobody
    (cd "$dir" && setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups \
        env HOME="$dir" "$@")
}

dsn() { echo "host=$dir port=$port user=postgres dbname=postgres"; }

bin="$(find_bin)"
case "$cmd" in
start)
    if [[ -f "$dir/data/postmaster.pid" ]] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        dsn; exit 0
    fi
    if [[ "$(id -u)" -eq 0 ]]; then
        user=postgres; id "$user" >/dev/null 2>&1 || user=nobody
        chown "$user:" "$dir"
        if ! as_owner test -w "$dir"; then
            echo "private-postgres: user '$user' cannot reach $dir (a parent folder is closed to" \
                 "it); use a directory under /tmp" >&2
            exit 1
        fi
    fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync \
            --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
        cat >>"$dir/data/postgresql.conf" <<CONF
# private-postgres.sh: unix socket only, in the run's own directory
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
CONF
    fi
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
        || { tail -20 "$dir/server.log" >&2; exit 1; }
    dsn
    ;;
stop)
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
dsn) dsn ;;
*) usage ;;
esac
