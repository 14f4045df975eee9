# shellcheck shell=bash
# Throwaway PostgreSQL server for the integration tests. Source, don't execute.
#   pg_start   initdb + start a Unix-socket-only server in a fresh temp dir;
#              exports BELONGING_TEST_DATABASE (libpq keyword/value string, admin
#              connection to database "postgres" as superuser "postgres", trust auth).
#   pg_url DB  prints the keyword/value string for database DB on that server.
#   pg_stop    stop it (fast, then immediate if needed) and remove the temp dir.
#              Idempotent: safe to call from an EXIT trap whether or not pg_start ran.
# Env knobs: BELONGING_PG_PORT (default 5433).
#
# Belonging keeps two databases per deployment: the identified one (database.url) and the
# anonymous store's own (DESIGN.md §5), by default named like the first plus "_anonymous" and
# created by `belonging` itself at start. The "postgres" superuser may create databases, so
# tests and scripts create only the identified database and let the server make the other.

BELONGING_PG_DIR=${BELONGING_PG_DIR:-}
BELONGING_PG_BINDIR=${BELONGING_PG_BINDIR:-}

# Newest /usr/lib/postgresql/N/bin that has pg_ctl.
pg_find_bindir() {
    local best='' ver d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/pg_ctl" && -x "$d/initdb" ]] || continue
        ver=${d#/usr/lib/postgresql/}
        ver=${ver%/bin}
        [[ $ver =~ ^[0-9]+$ ]] || continue
        if [[ -z $best ]] || ((ver > best)); then best=$ver; fi
    done
    [[ -n $best ]] || { printf 'pg_find_bindir: no PostgreSQL server under /usr/lib/postgresql (install "postgresql")\n' >&2; return 1; }
    printf '/usr/lib/postgresql/%s/bin\n' "$best"
}

# Run a PostgreSQL server binary as the postgres user when we are root
# (initdb/postgres refuse to run as root), from / so it never trips over an
# unreadable cwd.
_pg_as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

pg_start() {
    local port=${BELONGING_PG_PORT:-5433}
    [[ -z $BELONGING_PG_DIR ]] || { printf 'pg_start: already started (%s)\n' "$BELONGING_PG_DIR" >&2; return 1; }
    BELONGING_PG_BINDIR=$(pg_find_bindir) || return 1
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        printf 'pg_start: running as root but there is no "postgres" user (install "postgresql")\n' >&2
        return 1
    fi

    # Always under /tmp (not $TMPDIR): the postgres user must be able to reach it,
    # and the socket path must stay under the ~107-byte Unix socket limit.
    BELONGING_PG_DIR=$(mktemp -d /tmp/belonging-pg.XXXXXX) || return 1
    local data=$BELONGING_PG_DIR/data sock=$BELONGING_PG_DIR/sock log=$BELONGING_PG_DIR/server.log
    mkdir -p "$sock"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R postgres: "$BELONGING_PG_DIR"
    fi
    chmod 0700 "$BELONGING_PG_DIR"
    chmod 0755 "$sock"

    printf '==> initdb %s (PostgreSQL %s)\n' "$data" "$(basename "$(dirname "$BELONGING_PG_BINDIR")")" >&2
    if ! _pg_as_owner "$BELONGING_PG_BINDIR/initdb" -D "$data" -U postgres \
            --auth=trust --encoding=UTF8 --no-locale --no-sync >"$BELONGING_PG_DIR/initdb.log" 2>&1; then
        cat "$BELONGING_PG_DIR/initdb.log" >&2
        printf 'pg_start: initdb failed\n' >&2
        return 1
    fi

    cat >>"$data/postgresql.conf" <<CONF

# --- belonging scripts/test: throwaway test server ---
listen_addresses = ''
unix_socket_directories = '$sock'
port = $port
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
max_parallel_workers_per_gather = 0
log_min_messages = warning
CONF

    printf '==> starting PostgreSQL on %s port %s\n' "$sock" "$port" >&2
    if ! _pg_as_owner "$BELONGING_PG_BINDIR/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null; then
        printf 'pg_start: server failed to start; log follows\n' >&2
        cat "$log" >&2 || true
        return 1
    fi

    export BELONGING_TEST_DATABASE="host=$sock port=$port dbname=postgres user=postgres"
    printf '==> BELONGING_TEST_DATABASE=%s\n' "$BELONGING_TEST_DATABASE" >&2
}

pg_url() {
    [[ -n ${BELONGING_TEST_DATABASE:-} ]] || { printf 'pg_url: pg_start has not run\n' >&2; return 1; }
    printf '%s\n' "${BELONGING_TEST_DATABASE/dbname=postgres/dbname=$1}"
}

pg_stop() {
    local dir=$BELONGING_PG_DIR
    [[ -n $dir ]] || return 0
    local data=$dir/data
    if [[ -f "$data/postmaster.pid" && -n $BELONGING_PG_BINDIR ]]; then
        printf '==> stopping PostgreSQL (%s)\n' "$dir" >&2
        _pg_as_owner "$BELONGING_PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            _pg_as_owner "$BELONGING_PG_BINDIR/pg_ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
            printf 'pg_stop: warning: could not stop the server in %s\n' "$data" >&2
    fi
    rm -rf -- "$dir"
    BELONGING_PG_DIR=
    unset BELONGING_TEST_DATABASE
    return 0
}
