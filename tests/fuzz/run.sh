#!/usr/bin/env bash
# Coverage-guided fuzzing of bpfsign-gen with cargo-afl (stable Rust), bounded in time.
#
#   bash tests/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET: fuzzing time of each target (default 60; afl-fuzz -V, calibration of the
# seeds comes on top). TARGETs: parse_generate, artifact_read, sign_verify (default: all).
# Targets run one after another, each on one core.
#
# Installs what is missing: gcc/make/pkg-config/libssl-dev with apt-get (skipped with
# BPFSIGN_SKIP_APT=1), cargo-afl with `cargo install` (the version of the afl crate in
# tests/fuzz/Cargo.lock), AFL++ with `cargo afl config --build`. Then builds the targets
# (tests/fuzz/target), fuzzes each from its seeds (fixtures, corpus/<target>,
# regressions/<target>) into tests/fuzz/out/<target>, prints executions and coverage, copies
# every crash and hang into regressions/<target>/ (commit them) and exits 1 if there was any.
#
# Environment: FUZZ_TIMEOUT_MS (afl-fuzz -t per execution, default 3000; slower counts as a
# hang), FUZZ_NICE (niceness, default 10), BPFSIGN_SKIP_APT=1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
fixtures=$root/tests/fixtures
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse_generate artifact_read sign_verify)
timeout_ms=${FUZZ_TIMEOUT_MS:-3000}
niceness=${FUZZ_NICE:-10}

case $secs in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
    ;;
esac
for t in "${targets[@]}"; do
    case $t in
    parse_generate | artifact_read | sign_verify) ;;
    *)
        echo "run.sh: unknown target '$t' (parse_generate, artifact_read, sign_verify)" >&2
        exit 2
        ;;
    esac
done

say() { echo "== fuzz: $*"; }

# --- what the build needs ---------------------------------------------------------------
missing=()
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
if [ ${#missing[@]} -gt 0 ]; then
    if [ -n "${BPFSIGN_SKIP_APT:-}" ]; then
        echo "run.sh: missing ${missing[*]} (BPFSIGN_SKIP_APT is set)" >&2
        exit 2
    fi
    say "apt-get install ${missing[*]}"
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
fi

afl_version=$(awk '/^name = "afl"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$here/Cargo.lock")
if [ -z "$afl_version" ]; then
    echo "run.sh: no afl package in $here/Cargo.lock" >&2
    exit 2
fi
if [ "$(cargo afl --version 2>/dev/null | awk '{ print $2 }')" != "$afl_version" ]; then
    say "cargo install cargo-afl $afl_version"
    cargo install cargo-afl --locked --version "$afl_version"
fi
# Builds AFL++ and its LLVM runtime once per rustc version; says so when already built.
if ! out=$(cargo afl config --build 2>&1); then
    if ! grep -q "already built" <<<"$out"; then
        echo "$out" >&2
        echo "run.sh: cargo afl config --build failed" >&2
        exit 1
    fi
fi

# --- build --------------------------------------------------------------------------------
cd "$here"
say "building the afl targets (tests/fuzz/target/release)"
nice -n "$niceness" cargo afl build --release --locked --features afl --bins

# --- fuzz -----------------------------------------------------------------------------------
seeds() {
    local target=$1 dir=$2
    mkdir -p "$dir"
    case $target in
    parse_generate)
        # Objects above 64 KiB (the hostile quad2000 object) make each execution slow.
        find "$fixtures/obj" "$fixtures/gen" -name '*.bpf.o' -size -64k -exec cp {} "$dir/" \;
        ;;
    esac
    for extra in "$here/corpus/$target" "$here/regressions/$target"; do
        [ -d "$extra" ] && find "$extra" -type f ! -name '.*' -exec cp {} "$dir/" \;
    done
    return 0
}

stat_of() { awk -F' *: *' -v k="$2" '$1 == k { print $2 }' "$1"; }

failed=0
summary=()
for t in "${targets[@]}"; do
    out=$here/out/$t
    rm -rf "$out"
    seeds "$t" "$out/in"
    dict=()
    [ -f "$here/dict/$t.dict" ] && dict=(-x "$here/dict/$t.dict")
    say "$t: $secs s ($(find "$out/in" -type f | wc -l) seeds)"
    # afl-fuzz: one instance, no UI, no CPU binding (shared machines), a known crash among the
    # seeds is skipped (cargo test reports it) instead of stopping the run.
    AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
        AFL_IGNORE_SEED_PROBLEMS=1 AFL_FAST_CAL=1 \
        nice -n "$niceness" cargo afl fuzz -V "$secs" -t "$timeout_ms+" "${dict[@]}" \
        -i "$out/in" -o "$out" -- "$here/target/release/$t" >"$out/afl.log" 2>&1 || {
        tail -30 "$out/afl.log" >&2
        echo "run.sh: afl-fuzz failed on $t (log: $out/afl.log)" >&2
        exit 1
    }
    stats=$out/default/fuzzer_stats
    execs=$(stat_of "$stats" execs_done)
    cvg=$(stat_of "$stats" bitmap_cvg)
    edges=$(stat_of "$stats" edges_found)
    total=$(stat_of "$stats" total_edges)
    corpus=$(stat_of "$stats" corpus_count)
    crashes=$(stat_of "$stats" saved_crashes)
    hangs=$(stat_of "$stats" saved_hangs)
    line="$t: ${secs}s, $execs execs, edges $edges/$total (bitmap_cvg $cvg), corpus $corpus, crashes $crashes, hangs $hangs"
    summary+=("$line")
    say "$line"
    for kind in crashes hangs; do
        for f in "$out/default/$kind"/id:*; do
            [ -f "$f" ] || continue
            mkdir -p "$here/regressions/$t"
            name=${kind%es}
            name=${name%s}-$(sha1sum "$f" | cut -c1-16)
            cp "$f" "$here/regressions/$t/$name"
            echo "run.sh: $t $name (afl: $(basename "$f")) -> tests/fuzz/regressions/$t/$name"
            failed=1
        done
    done
done

if [ $failed -ne 0 ]; then
    # The plain (replay) build names the panic of each finding; its own target dir keeps the
    # two builds from invalidating each other.
    nice -n "$niceness" cargo build --release --locked --bins --target-dir "$here/target/replay"
    for t in "${targets[@]}"; do
        [ -d "$here/regressions/$t" ] || continue
        "$here/target/replay/release/$t" "$here/regressions/$t" 2>&1 | grep -E 'PANIC|replayed' || true
    done
fi
echo "== fuzz summary"
printf '%s\n' "${summary[@]}"
if [ $failed -ne 0 ]; then
    echo "run.sh: FAILED: crashes or hangs found; inputs copied to tests/fuzz/regressions/ (replayed by cargo test -p bpfsign-gen --test fuzz_regressions)" >&2
    exit 1
fi
echo "run.sh: no crash, no hang"
