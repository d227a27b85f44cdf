#!/usr/bin/env bash
# tests/run-all.sh: run every test of bpfsign on a fresh Debian machine (what CI runs via .ci/run).
#
#   1. installs the Debian packages the build and the VM test bed need (apt-get; skipped when present)
#   2. cargo vmtest fetch-gcc-bpf                   (GCC 14 for BPF from Debian trixie, unpacked into
#                                                    tests/vmtest/cache/gcc-bpf, nothing installed;
#                                                    exported as BPFSIGN_GCC_BPF for the GCC tests)
#   3. cargo fmt --check, cargo clippy -D warnings (all targets), cargo doc -D warnings,
#      cargo package --workspace                    (every crate packages and builds from its tarball)
#   4. cargo test --workspace                       (unit tests; kernel tests are reported as ignored)
#   5. tests/fuzz/run.sh 60                         (coverage-guided fuzzing, 60 s per target; fails on
#                                                    any crash or hang, which it keeps as a regression input)
#   6. cargo vmtest --kernel all                    (kernel tests on 6.18.15, 7.2.13, 7.3.4 in VMs + host)
#   7. BPFSIGN_INJECT_FAILURE=1|crash|hang cargo vmtest --kernel 7.3.4 must fail and name the test
#   8. cargo vmtest selftest                        (exit status, timeout and crash detection of the runner)
#   9. cargo vmtest fetch --kernel 7.3.4 --dir TMP --boot-check   (the download path, into a temp dir)
#
# Kernels: $BPFSIGN_KERNEL_DIR if set, else ../shared/kernels next to the repo if it exists, else
# tests/vmtest/cache/kernels (downloaded on first use). See tests/README.md.
# Knobs: BPFSIGN_SKIP_APT=1 (no package check), BPFSIGN_SKIP_DOWNLOAD_CHECK=1 (offline machines),
# BPFSIGN_GCC_BPF=/path/to/bpf-unknown-none-gcc (GCC >= 14 for BPF; skips step 2).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
T0=$SECONDS
declare -a TIMES=()

step() {
	printf '\n=== run-all: %s (at %d s)\n' "$*" $((SECONDS - T0))
}
timed() { # timed NAME CMD...
	local name=$1 t=$SECONDS
	shift
	"$@"
	TIMES+=("$name: $((SECONDS - t)) s")
}

step "1/9 Debian packages"
timed packages bash tests/setup-debian.sh
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
	export PATH=$HOME/.cargo/bin:$PATH
fi
command -v cargo >/dev/null || {
	echo "run-all: cargo not found: install the Rust toolchain (stable 1.95, e.g. with rustup)" >&2
	exit 2
}
cargo --version

if [ -z "${BPFSIGN_KERNEL_DIR:-}" ] && [ -d ../shared/kernels ]; then
	BPFSIGN_KERNEL_DIR=$(cd ../shared/kernels && pwd)
	export BPFSIGN_KERNEL_DIR
fi
echo "run-all: kernels from ${BPFSIGN_KERNEL_DIR:-tests/vmtest/cache/kernels (downloaded when missing)}"

step "2/9 GCC 14 for BPF (bpf-unknown-none-gcc; the GCC end-to-end kernel tests need it)"
if [ -n "${BPFSIGN_GCC_BPF:-}" ]; then
	echo "run-all: using BPFSIGN_GCC_BPF=$BPFSIGN_GCC_BPF"
else
	t=$SECONDS
	BPFSIGN_GCC_BPF=$(cargo vmtest fetch-gcc-bpf)
	TIMES+=("gcc-bpf: $((SECONDS - t)) s")
fi
export BPFSIGN_GCC_BPF
"$BPFSIGN_GCC_BPF" --version | head -1

step "3/9 rustfmt, clippy (-D warnings, all targets), rustdoc (-D warnings), cargo package"
timed rustfmt cargo fmt --all --check
timed clippy cargo clippy --workspace --all-targets -q -- -D warnings
timed rustdoc env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps -q
timed "cargo package" cargo package --workspace -q

step "4/9 cargo test --workspace"
timed "cargo test" cargo test --workspace

step "5/9 fuzzing (tests/fuzz/run.sh, 60 s per target)"
timed fuzz bash tests/fuzz/run.sh 60

step "6/9 cargo vmtest --kernel all"
VMLOG=$(mktemp)
timed "vmtest all" bash -o pipefail -c 'cargo vmtest --kernel all 2>&1 | tee "$0"' "$VMLOG"

step "7/9 injected failure, guest crash and hang must fail cargo vmtest and say which test"
inject_check() { # inject_check MODE EXPECTED-PATTERN [ARGS...]
	local mode=$1 want=$2 log rc=0
	shift 2
	log=$(mktemp)
	BPFSIGN_INJECT_FAILURE=$mode cargo vmtest --kernel 7.3.4 "$@" -- kernel_injected_failure >"$log" 2>&1 || rc=$?
	# shown indented: these summaries are the expected failures of this check, not of the run
	grep -E '^(kernel |  )' "$log" | sed 's/^/    expected: /' || true
	if [ "$rc" -eq 0 ] || ! grep -q '^kernel 7.3.4: 0 passed, 1 failed$' "$log" ||
		! grep -Eq "^  FAILED on kernel 7.3.4: kernel_injected_failure .*$want" "$log"; then
		echo "run-all: FAIL: BPFSIGN_INJECT_FAILURE=$mode: exit status $rc; expected non-zero, a 0 passed/1 failed summary and the test named with \"$want\":" >&2
		cat "$log" >&2
		exit 1
	fi
	echo "run-all: ok: BPFSIGN_INJECT_FAILURE=$mode -> exit status $rc, failing test named"
	rm -f "$log"
}
timed "injected failure" inject_check 1 'test failed'
timed "injected crash" inject_check crash 'GUEST CRASHED'
timed "injected hang" inject_check hang 'TIMEOUT after 60 s' --timeout 60

step "8/9 runner selftest (exit status, timeout, crash)"
timed "runner selftest" cargo vmtest selftest --kernel 7.3.4

step "9/9 kernel download into a temporary directory"
if [ "${BPFSIGN_SKIP_DOWNLOAD_CHECK:-0}" = 1 ]; then
	echo "run-all: skipped (BPFSIGN_SKIP_DOWNLOAD_CHECK=1)"
else
	dl=$(mktemp -d)
	trap 'rm -rf "$dl"' EXIT
	timed "download check" cargo vmtest fetch --kernel 7.3.4 --dir "$dl" --boot-check
fi

printf '\n=== run-all: all tests passed in %d s\n' $((SECONDS - T0))
printf '  %s\n' "${TIMES[@]}"
# Kernel-test totals over 6.18.15, 7.2.13, 7.3.4 and host (the unit tests' own lines are above).
passed=$(sed -n 's/^kernel [^:]*: \([0-9]*\) passed, [0-9]* failed$/\1/p' "$VMLOG" | awk '{s+=$1} END {print s+0}')
failed=$(sed -n 's/^kernel [^:]*: [0-9]* passed, \([0-9]*\) failed$/\1/p' "$VMLOG" | awk '{s+=$1} END {print s+0}')
rm -f "$VMLOG"
echo "kernel-tests: $passed passed, $failed failed"
