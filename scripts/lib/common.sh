# shellcheck shell=bash
# Shared helpers for scripts/run and scripts/test. Source, don't execute.
# Expects the caller to have `set -euo pipefail` and to have cd'ed to the repo root.

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Run npm ci in DIR when node_modules is missing or package-lock.json is newer
# than node_modules/.package-lock.json (npm's own record of the last install).
npm_ci_if_stale() {
    local dir=$1
    [[ -f "$dir/package-lock.json" ]] || die "$dir/package-lock.json is missing"
    if [[ ! -d "$dir/node_modules" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
        log "npm ci in $dir"
        (cd "$dir" && npm ci --no-audit --no-fund)
    else
        log "$dir/node_modules is up to date"
    fi
}

# Front-end assets: web/node_modules (nhsuk-frontend) -> web/static/.
build_web_assets() {
    [[ -f web/package.json ]] || die "web/package.json is missing"
    npm_ci_if_stale web
    [[ -f web/build-static.mjs ]] || die "web/build-static.mjs is missing"
    log "node web/build-static.mjs"
    node web/build-static.mjs
}

# cmake_build BUILD_DIR BUILD_TYPE [extra cmake -D args...]
# Configures (incrementally: re-running cmake on an existing cache is cheap) and builds.
cmake_build() {
    local dir=$1 type=$2
    shift 2
    [[ -f CMakeLists.txt ]] || die "CMakeLists.txt is missing at the repo root"
    local -a args=(-S . -B "$dir" "-DCMAKE_BUILD_TYPE=$type" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
    # The generator can only be chosen when the build dir is first configured.
    if [[ ! -f "$dir/CMakeCache.txt" ]] && command -v ninja >/dev/null 2>&1; then
        args+=(-G Ninja)
    fi
    if command -v ccache >/dev/null 2>&1; then
        args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    fi
    log "cmake configure $dir ($type)"
    cmake "${args[@]}" "$@"
    log "cmake build $dir"
    cmake --build "$dir" -j2
}
