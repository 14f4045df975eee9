# shellcheck shell=bash
# Shared by scripts/soak and scripts/crash: build the server and the load client, write a
# throwaway configuration, start and stop `belonging serve`. Source, don't execute; expects
# `set -euo pipefail`, the repo root as the working directory, and common.sh and deps.sh sourced.
#
#   soak_build                 build/soak (Release, no tests): belonging, its plugins, belonging_soak;
#                              or, with SOAK_BUILD_DIR set to an existing build (e.g. scripts/test's
#                              build/asan), those targets there, without configuring it again
#   soak_config DIR URL [ANON] writes DIR/belonging.toml for the two stores (without ANON the
#                              server's default: a file beside a SQLite URL, or on PostgreSQL its
#                              own database named after URL's, created at start); sets SOAK_SECRET
#   soak_demo                  demo data; sets SOAK_WAVE to the open survey wave
#   soak_start                 starts the server; sets SERVER_PID and SERVER_PORT
#   soak_stop                  stops it (SIGTERM, then waits); safe to call when it is not running

SOAK_BUILD_DIR=${SOAK_BUILD_DIR:-build/soak}
SOAK_BIN=$SOAK_BUILD_DIR/belonging
SOAK_CLIENT=$SOAK_BUILD_DIR/belonging_soak
SERVER_PID=""
SERVER_PORT=""

soak_build() {
    install_deps
    # The pages link the NHS.UK assets; build them once (scripts/run and scripts/test keep them fresh).
    [[ -f web/static/nhsuk.min.css ]] || build_web_assets
    if [[ $SOAK_BUILD_DIR == build/soak || ! -f $SOAK_BUILD_DIR/CMakeCache.txt ]]; then
        local -a args=(-S . -B "$SOAK_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBELONGING_BUILD_TESTS=OFF -DBELONGING_BUILD_BENCH=ON)
        if [[ ! -f "$SOAK_BUILD_DIR/CMakeCache.txt" ]] && command -v ninja >/dev/null 2>&1; then args+=(-G Ninja); fi
        if command -v ccache >/dev/null 2>&1; then
            args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
        fi
        log "cmake configure $SOAK_BUILD_DIR (Release)"
        cmake "${args[@]}" >/dev/null
    fi
    # Only what runs: the server, the plugins the config loads, and the client.
    log "cmake build $SOAK_BUILD_DIR"
    cmake --build "$SOAK_BUILD_DIR" -j2 --target belonging admin networks experience belonging_soak
    [[ -x $SOAK_BIN && -x $SOAK_CLIENT ]] || die "$SOAK_BIN or $SOAK_CLIENT was not built"
}

soak_config() {
    local dir=$1 url=$2 anonymous=${3:-} anonymous_line=''
    [[ -z $anonymous ]] || anonymous_line="anonymous_url = \"$anonymous\""
    SOAK_DIR=$dir
    SOAK_CONFIG=$dir/belonging.toml
    # A throwaway key-encryption key and proxy secret: nothing here outlives the run. The key
    # stays the same across a restart, as it must for the wave's private key to be read.
    if [[ -z ${BELONGING_EXPERIENCE_KEY:-} ]]; then
        BELONGING_EXPERIENCE_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
        export BELONGING_EXPERIENCE_KEY
    fi
    SOAK_SECRET=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    cat >"$SOAK_CONFIG" <<TOML
[server]
listen = "127.0.0.1:0"
static_dir = "$(pwd)/web/static"

[database]
url = "$url"
$anonymous_line
pool_size = ${SOAK_POOL_SIZE:-16}

[sso]
enabled = true
user_header = "X-Remote-User"
secret_header = "X-Proxy-Secret"
secret = "$SOAK_SECRET"
trusted_proxies = ["127.0.0.1"]
auto_provision = true

[log]
access_log = "$dir/access.log"

[plugins]
enabled = ["admin", "networks", "experience"]
required = ["admin", "networks", "experience"]

[plugins.experience]
# The load is many people from one address: the global submission budget would refuse them.
submissions_per_minute = 10000000
# The crash check waits out a killed server's lease before the pages re-send what it held.
mix_lease_seconds = 2
mix_check_seconds = 1
TOML
}

soak_demo() {
    "$SOAK_BIN" --config "$SOAK_CONFIG" demo >/dev/null || die "belonging demo failed"
    SOAK_WAVE=$("$SOAK_BIN" --config "$SOAK_CONFIG" experience waves | awk -F'\t' '$2 == "open" { print $1; exit }')
    [[ $SOAK_WAVE =~ ^[0-9]+$ ]] || die "the demo data has no open wave"
}

soak_start() {
    local out=$SOAK_DIR/server.out err=$SOAK_DIR/server.err
    : >"$out"
    "$SOAK_BIN" --config "$SOAK_CONFIG" serve >>"$out" 2>>"$err" &
    SERVER_PID=$!
    SERVER_PORT=""
    local _
    for _ in $(seq 1 600); do
        SERVER_PORT=$(sed -n 's/^Belonging is ready at .*:\([0-9]*\)$/\1/p' "$out" | head -n1)
        [[ -n $SERVER_PORT ]] && break
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$err" >&2; die "belonging serve exited"; }
        sleep 0.1
    done
    [[ -n $SERVER_PORT ]] || die "belonging serve did not become ready"
}

soak_stop() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
