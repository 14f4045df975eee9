# shellcheck shell=bash
# libFuzzer targets (tests/fuzz) for scripts/fuzz and scripts/test. Source, don't execute.
# Expects the caller to have `set -euo pipefail`, to have cd'ed to the repo root and to have
# sourced common.sh.
#   fuzz_build              configure and build build/fuzz with clang (only the fuzz targets)
#   fuzz_targets            names of the built targets, one a line
#   fuzz_replay             run every committed input (corpus and regressions) once per target
#   fuzz_run_all SECONDS    fuzz each target for SECONDS, FUZZ_JOBS at a time; a crash, leak or
#                           timeout input is saved in tests/fuzz/regressions/<target>/ and fails
# Env knobs: FUZZ_JOBS (default: number of cores), FUZZ_TARGETS (space-separated subset).

FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-build/fuzz}
FUZZ_SOURCE_DIR=tests/fuzz

# Longest input per target: long enough for a realistic input plus room to mutate it, short
# enough that each run is quick (the parsers are linear or close to it).
_fuzz_max_len() {
    case $1 in
        ConfigFuzzer) echo 8192 ;;
        SuppressInputFuzzer) echo 2048 ;;
        SurveyTokenFuzzer) echo 2048 ;;
        RequestHeadFuzzer) echo 16384 ;;
        *) echo 4096 ;;
    esac
}

fuzz_build() {
    command -v clang++ >/dev/null 2>&1 || die "clang++ not found: install_deps fuzz installs Debian's clang"
    local -a args=(-S . -B "$FUZZ_BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang
                   -DCMAKE_CXX_COMPILER=clang++ -DBELONGING_BUILD_FUZZ=ON -DBELONGING_BUILD_BENCH=OFF)
    if [[ ! -f "$FUZZ_BUILD_DIR/CMakeCache.txt" ]] && command -v ninja >/dev/null 2>&1; then
        args+=(-G Ninja)
    fi
    if command -v ccache >/dev/null 2>&1; then
        args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    fi
    log "cmake configure $FUZZ_BUILD_DIR (clang, libFuzzer)"
    cmake "${args[@]}" >/dev/null
    log "cmake build $FUZZ_BUILD_DIR (fuzz targets only)"
    cmake --build "$FUZZ_BUILD_DIR" -j2 --target belonging_fuzzers
}

fuzz_targets() {
    local target
    local -a chosen
    if [[ -n ${FUZZ_TARGETS:-} ]]; then
        read -ra chosen <<<"$FUZZ_TARGETS"
        printf '%s\n' "${chosen[@]}"
        return
    fi
    for target in "$FUZZ_BUILD_DIR"/fuzzers/*Fuzzer; do
        [[ -x $target ]] && basename "$target"
    done
}

# The sanitizers' settings for a fuzzer run; libFuzzer itself detects leaks at exit.
_fuzz_env() {
    env ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$@"
}

fuzz_replay() {
    local target failed=0
    local -a inputs
    mkdir -p "$FUZZ_BUILD_DIR/logs"
    while read -r target; do
        mapfile -t inputs < <(find "$FUZZ_SOURCE_DIR/corpus/$target" "$FUZZ_SOURCE_DIR/regressions/$target" \
                                   -type f 2>/dev/null | sort)
        if ((${#inputs[@]} == 0)); then
            log "fuzz replay $target: no inputs"
            continue
        fi
        log "fuzz replay $target: ${#inputs[@]} inputs"
        if ! _fuzz_env "$FUZZ_BUILD_DIR/fuzzers/$target" -timeout=10 "${inputs[@]}" \
                >"$FUZZ_BUILD_DIR/logs/$target.replay.log" 2>&1; then
            tail -n 40 "$FUZZ_BUILD_DIR/logs/$target.replay.log" >&2
            log "fuzz replay $target FAILED (log: $FUZZ_BUILD_DIR/logs/$target.replay.log)"
            failed=1
        fi
    done < <(fuzz_targets)
    return $failed
}

# _fuzz_run TARGET SECONDS: one target; writes its log and prints its summary line.
_fuzz_run() {
    local target=$1 seconds=$2
    local scratch=$FUZZ_BUILD_DIR/corpus/$target artifacts=$FUZZ_SOURCE_DIR/regressions/$target/
    local log=$FUZZ_BUILD_DIR/logs/$target.log dict=$FUZZ_SOURCE_DIR/$target.dict
    local -a args=(-max_total_time="$seconds" -max_len="$(_fuzz_max_len "$target")" -timeout=10
                   -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts")
    [[ -f $dict ]] && args+=(-dict="$dict")
    # A fixed seed (scripts/test sets one) makes the short run walk the same mutations each time.
    [[ -n ${FUZZ_SEED:-} ]] && args+=(-seed="$FUZZ_SEED")
    mkdir -p "$scratch" "$artifacts"
    # New inputs go to the first directory (scratch, under build/); the committed seeds are read only.
    if _fuzz_env "$FUZZ_BUILD_DIR/fuzzers/$target" "${args[@]}" "$scratch" "$FUZZ_SOURCE_DIR/corpus/$target" \
            >"$log" 2>&1; then
        printf '%-28s %s\n' "$target" "$(_fuzz_summary "$target" "$log")"
    else
        printf '%-28s FAILED: %s\n' "$target" "$(grep -o 'Test unit written to .*' "$log" | tail -n 1)"
        return 1
    fi
}

# Executions, speed and coverage from a libFuzzer log.
_fuzz_summary() {
    local target=$1 log=$2 runs speed cov ft
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1)
    printf 'runs %s, %s exec/s, %s, %s, corpus %s' "${runs:-?}" "${speed:-?}" "${cov:-cov: ?}" "${ft:-ft: ?}" \
        "$(find "$FUZZ_BUILD_DIR/corpus/$target" -type f 2>/dev/null | wc -l)"
}

fuzz_run_all() {
    local seconds=$1 jobs=${FUZZ_JOBS:-$(nproc)} target running=0 failed=0
    local summary=$FUZZ_BUILD_DIR/logs/summary.txt
    mkdir -p "$FUZZ_BUILD_DIR/logs"
    : >"$summary"
    log "fuzzing each target for ${seconds}s, $jobs at a time"
    while read -r target; do
        if ((running >= jobs)); then
            wait -n || failed=1
            running=$((running - 1))
        fi
        _fuzz_run "$target" "$seconds" >>"$summary" &
        running=$((running + 1))
    done < <(fuzz_targets)
    while ((running > 0)); do
        wait -n || failed=1
        running=$((running - 1))
    done
    cat "$summary" >&2
    if ((failed)); then
        log "fuzzing found a failure: inputs saved under $FUZZ_SOURCE_DIR/regressions/ (logs: $FUZZ_BUILD_DIR/logs/)"
        return 1
    fi
}
