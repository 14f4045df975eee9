# shellcheck shell=bash
# Dependency installer shared by scripts/run and scripts/test. Source, don't execute.
#   install_deps          packages needed to build and run
#   install_deps test     plus the PostgreSQL server, curl, Chromium (browser tests) and nginx
#                         (tests/proxy: the shipped reverse-proxy configuration) for scripts/test
#   install_deps bench    plus wrk
#   install_deps fuzz     plus clang and libFuzzer (scripts/fuzz, and the fuzz stage of scripts/test)
# Only missing packages are installed; `apt-get update` runs only if something is missing.

BELONGING_BASE_PACKAGES=(
    build-essential cmake ninja-build pkg-config ccache git ca-certificates
    libcpp-httplib-dev libsoci-dev libboost-dev libkainjow-mustache-dev libssl-dev
    catch2 libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libroaring-dev
    libglpk-dev libsqlite3-dev sqlite3 libpq-dev
)

_pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

install_deps() {
    local -a wanted=("${BELONGING_BASE_PACKAGES[@]}") missing=() sudo=()
    local extra pkg
    for extra in "$@"; do
        case $extra in
            test) wanted+=(postgresql curl chromium nginx) ;;
            bench) wanted+=(wrk curl) ;;
            # libFuzzer's runtime is in libclang-rt-14-dev, which clang only recommends.
            fuzz) wanted+=(clang libclang-rt-14-dev) ;;
            *) printf 'install_deps: unknown extra "%s"\n' "$extra" >&2; return 1 ;;
        esac
    done

    command -v dpkg-query >/dev/null 2>&1 || {
        printf 'install_deps: dpkg-query not found; this script supports Debian 12 only\n' >&2
        return 1
    }
    for pkg in "${wanted[@]}"; do
        _pkg_installed "$pkg" || missing+=("$pkg")
    done
    # Node.js: keep whatever node/npm is already on PATH (e.g. a NodeSource build,
    # which bundles npm and conflicts with Debian's npm package).
    if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
    if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

    if ((${#missing[@]} == 0)); then
        printf '==> dependencies already installed\n' >&2
        return 0
    fi

    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo)
        else
            printf 'install_deps: missing packages: %s\n' "${missing[*]}" >&2
            printf 'install_deps: not root and sudo is not available; install them as root and re-run\n' >&2
            return 1
        fi
    fi

    printf '==> installing: %s\n' "${missing[*]}" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
    hash -r
}
