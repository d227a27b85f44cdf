#!/bin/bash
# Reproduces the load+attach and build-time benchmarks of BENCHMARKS.md.
#
# usage: tests/bench/run.sh [latency] [latency-static] [latency-nopie] [startup] [build] [check] [size]
#        (default: latency latency-static startup build)
#
# latency: builds bpfsign-bench (release), writes its embedded hello.bpf.o, makes a signed light
#   skeleton of it with each reference bpftool (same TEST-ONLY key A as the Rust build), compiles
#   c/lskel_bench.c statically against that bpftool's skel_internal.h, and runs
#   `bpfsign-bench compare` in ONE VM boot per kernel: 6.18.15 (bpftool-p1), 7.2.13 (bpftool-p1b),
#   7.3.4 (bpftool-p2).
# latency-static: the same with bpfsign-bench linked statically (static-pie, crt-static), to
#   separate process start-up (dynamic loading) from the loading itself.
# latency-nopie: the same with bpfsign-bench a static executable at a fixed address (crt-static,
#   relocation-model=static: not position-independent), linked the way `gcc -static` links the C
#   loader; under TCG, code at a fixed address keeps its translations across processes.
# check: `cargo check` after touching the calling file, a crate embedding hello with the macro
#   vs the same crate without the macro call (BENCH_BUILD_RUNS runs each, interleaved).
# size: what the hello skeleton adds to example-hello (release): the skeleton's symbols (nm),
#   against the C light skeleton's opts_* arrays in lskel-bench-<proto> (see BENCHMARKS.md).
# startup: spawn-to-exit time of empty C and Rust programs (static, dynamic) and of the two bench
#   programs loading nothing, in one VM (BENCH_STARTUP_KERNEL, default 7.3.4).
# build: no-op `cargo build -p example-hello` vs a plain `cargo new` bin crate, and the rebuild
#   after touching example-hello/src/bpf/hello.bpf.c (hyperfine if installed, else a timed loop).
#
# env: CARGO_TARGET_DIR   (default <repo>/target)
#      BPFSIGN_REFERENCE  reference tool chain (default <repo>/../shared/reference): bin/bpftool-*,
#                         include-*/bpf/skel_internal.h, uapi-7.3
#      BPFSIGN_KERNEL_DIR kernels, <dir>/<version>/vmlinuz (default <repo>/../shared/kernels if present)
#      BENCH_ITERATIONS (50), BENCH_ROUNDS (10), BENCH_PROCESSES (10), BENCH_BUILD_RUNS (20)
#      BENCH_KERNELS      "6.18.15:p1 7.2.13:p1b 7.3.4:p2"; BENCH_STARTUP_KERNEL (7.3.4)
#      BENCH_OUT          results directory (default $CARGO_TARGET_DIR/bench-results)
# needs: gcc with static glibc (libc6-dev), the reference bpftools' libraries (libelf1 zlib1g
#        libcap2 libssl3 libllvm14), qemu-system-x86 + busybox-static (cargo vmtest), python3 (medians).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
REF=${BPFSIGN_REFERENCE:-$ROOT/../shared/reference}
if [ -z "${BPFSIGN_KERNEL_DIR:-}" ] && [ -d "$ROOT/../shared/kernels" ]; then
	export BPFSIGN_KERNEL_DIR=$ROOT/../shared/kernels
fi
N=${BENCH_ITERATIONS:-50}
ROUNDS=${BENCH_ROUNDS:-10}
PROCS=${BENCH_PROCESSES:-10}
BUILD_RUNS=${BENCH_BUILD_RUNS:-20}
KERNELS=${BENCH_KERNELS:-6.18.15:p1 7.2.13:p1b 7.3.4:p2}
STARTUP_KERNEL=${BENCH_STARTUP_KERNEL:-7.3.4}
OUT=${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results}
KEY=tests/fixtures/keys/TEST-ONLY-key-a.pem
CERT=tests/fixtures/keys/TEST-ONLY-key-a.der
# Both sides signed with the same TEST-ONLY key A (the .cargo/config.toml default, made explicit).
export BPF_KEY=$ROOT/$KEY
WHAT=${*:-latency latency-static startup build}
mkdir -p "$OUT"

machine() {
	echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "host: $(uname -r), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "rustc: $(rustc --version)"
	echo "cargo: $(cargo --version)"
	echo "gcc: $(gcc --version | head -1)"
	echo "repo: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" \
		"($(git -C "$ROOT" status --short 2>/dev/null | wc -l) changed/untracked paths in the work tree)"
}

# payload DIR [static]: bpfsign-bench (release, like the -O2 C loader; BPF_KEY as exported above)
# dynamically linked to glibc as cargo builds it by default, or with "static" a static-pie
# (crt-static) like the static C loader; the certificate; one C bench per protocol of $KERNELS.
payload() {
	local dir=$1 link=${2:-dynamic} c=$1.c
	rm -rf "$dir" "$c"
	mkdir -p "$dir" "$c"
	if [ "$link" = static ] || [ "$link" = nopie ]; then
		local host flags="-C target-feature=+crt-static"
		host=$(rustc -vV | sed -n 's/^host: //p')
		# nopie: a static executable at a fixed address, like `gcc -static` makes the C loader.
		[ "$link" = nopie ] && flags="$flags -C relocation-model=static"
		RUSTFLAGS="${RUSTFLAGS:-} $flags" \
			cargo build -q -j2 --release -p bpfsign-bench --target "$host"
		cp "$CARGO_TARGET_DIR/$host/release/bpfsign-bench" "$dir/"
	else
		cargo build -q -j2 --release -p bpfsign-bench
		cp "$CARGO_TARGET_DIR/release/bpfsign-bench" "$dir/"
	fi
	cp "$CERT" "$dir/A.der"
	"$dir/bpfsign-bench" object > "$c/hello.bpf.o"
	for kp in $KERNELS; do
		local p=${kp#*:}
		[ -x "$dir/lskel-bench-$p" ] && continue
		mkdir -p "$c/$p"
		"$REF/bin/bpftool-$p" gen skeleton -L -S -k "$KEY" -i "$CERT" \
			"$c/hello.bpf.o" name hello > "$c/$p/hello.lskel.h"
		gcc -O2 -static -Wall -I"$c/$p" -I"$REF/include-$p" -I"$REF/uapi-7.3" \
			-DLSKEL='"hello.lskel.h"' tests/bench/c/lskel_bench.c -o "$dir/lskel-bench-$p"
	done
}

# in_vm KERNEL RESULT_FILE DIR CMD...: runs CMD in a VM with DIR at /bench, appends its output.
in_vm() {
	local k=$1 res=$2 dir=$3
	shift 3
	local cmd=(cargo vmtest exec --no-build --kernel "$k" --extra "$dir:/bench" -- "$@")
	echo "== $(printf "%q " "${cmd[@]}")" | tee -a "$res"
	"${cmd[@]}" 2>&1 | tee "$OUT/vm-$k.log" | sed -n "s/^\[$k\] //p" \
		| grep -v -e '^=== VM-GUEST' -e 'reboot: Power down' | tee -a "$res" || true
	grep -q "^kernel $k: exit status 0" "$OUT/vm-$k.log" || {
		echo "run.sh: the benchmark failed on kernel $k (log: $OUT/vm-$k.log)" >&2
		exit 1
	}
	echo >> "$res"
}

header() {
	machine
	echo "guest: qemu TCG (cargo vmtest), 1 vCPU, 1 GiB"
}

# latency [static]: one VM boot per kernel, `bpfsign-bench compare` against that kernel's C bench.
latency() {
	local link=${1:-dynamic} dir=$OUT/payload res=$OUT/latency.txt
	[ "$link" = static ] && res=$OUT/latency-static.txt
	[ "$link" = nopie ] && res=$OUT/latency-nopie.txt
	payload "$dir" "$link"
	{
		header
		echo "bpfsign-bench: release, $link ($(file -b "$dir/bpfsign-bench" | grep -o -e 'static-pie linked' -e 'dynamically linked' -e 'statically linked'))"
		echo
	} > "$res"
	for kp in $KERNELS; do
		local k=${kp%%:*} p=${kp#*:}
		in_vm "$k" "$res" "$dir" /bench/bpfsign-bench compare --c "/bench/lskel-bench-$p" \
			--cert /bench/A.der -n "$N" --rounds "$ROUNDS" -w 1 --processes "$PROCS" --label "$k"
	done
	echo "latency results: $res"
}

# startup: what starting a process costs under TCG, with no BPF at all: empty C and Rust programs,
# static and dynamic, next to the two bench programs loading nothing (one VM: $STARTUP_KERNEL).
startup() {
	local dir=$OUT/startup res=$OUT/startup.txt kp
	kp=$(printf '%s\n' $KERNELS | grep "^$STARTUP_KERNEL:") || {
		echo "run.sh: BENCH_STARTUP_KERNEL=$STARTUP_KERNEL is not in BENCH_KERNELS" >&2
		exit 1
	}
	payload "$dir.static" static
	payload "$dir" dynamic
	cp "$dir.static/bpfsign-bench" "$dir/bpfsign-bench-static"
	printf 'fn main() {}\n' > "$dir.c/empty.rs"
	printf 'int main(void) { return 0; }\n' > "$dir.c/empty.c"
	rustc -O "$dir.c/empty.rs" -o "$dir/rust-empty-dynamic"
	rustc -O -C target-feature=+crt-static "$dir.c/empty.rs" -o "$dir/rust-empty-static-pie"
	gcc -O2 "$dir.c/empty.c" -o "$dir/c-empty-dynamic"
	gcc -O2 -static "$dir.c/empty.c" -o "$dir/c-empty-static"
	{
		header
		echo "rustc -O / gcc -O2; -static (C), -C target-feature=+crt-static (Rust)"
		echo
	} > "$res"
	in_vm "$STARTUP_KERNEL" "$res" "$dir" /bench/bpfsign-bench spawn -n "$N" -- \
		/bench/c-empty-static /bench/c-empty-dynamic /bench/rust-empty-static-pie \
		/bench/rust-empty-dynamic "/bench/lskel-bench-${kp#*:} 0 0" \
		"/bench/bpfsign-bench-static loop -n 0 -w 0" "/bench/bpfsign-bench loop -n 0 -w 0"
	echo "startup results: $res"
}

# interleave RUNS [NAME PREPARE CMD]...: runs the commands round-robin (each round starts at the
# next command, so slow phases of a shared machine hit all of them alike), RUNS times each after
# one warm-up; PREPARE (may be ":") runs untimed before its CMD. Times with bash's EPOCHREALTIME;
# prints a markdown table, ratios to the second command, to stdout.
interleave() {
	local runs=$1 k r j i s e
	shift
	local -a names preps cmds times
	while [ $# -gt 0 ]; do
		names+=("$1") preps+=("$2") cmds+=("$3")
		shift 3
	done
	k=${#names[@]}
	for ((i = 0; i < k; i++)); do
		(eval "${preps[$i]}" && eval "${cmds[$i]}") > /dev/null 2>&1
	done
	for ((r = 0; r < runs; r++)); do
		for ((j = 0; j < k; j++)); do
			i=$(((r + j) % k))
			(eval "${preps[$i]}") > /dev/null 2>&1
			s=${EPOCHREALTIME//[.,]/}
			(eval "${cmds[$i]}") > /dev/null 2>&1 || {
				echo "run.sh: failed: ${cmds[$i]}" >&2
				return 1
			}
			e=${EPOCHREALTIME//[.,]/}
			times[i]+="$((e - s)) "
		done
	done
	for ((i = 0; i < k; i++)); do
		printf '%s|%s\n' "${names[$i]}" "${times[$i]}"
	done | python3 -c '
import statistics, sys
rows = []
for line in sys.stdin:
    name, t = line.rstrip("\n").split("|")
    rows.append((name, sorted(int(x) / 1000 for x in t.split())))
print("| build | median (ms) | p90 (ms) | min-max (ms) | runs | median / " + rows[1][0] + " |")
print("|---|---|---|---|---|---|")
base = statistics.median(rows[1][1])
for name, v in rows:
    m = statistics.median(v)
    p90 = v[max(0, -(-len(v) * 9 // 10) - 1)]
    print(f"| {name} | {m:.1f} | {p90:.1f} | {v[0]:.1f}-{v[-1]:.1f} | {len(v)} | {m / base:.2f}x |")
'
}

# plain_crate DIR NAME EXTRA: a hello-world bin crate, as `cargo new --bin` makes it.
plain_crate() {
	mkdir -p "$1/src"
	printf '[package]\nname = "%s"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n%s\n' \
		"$2" "${3:+
$3}" > "$1/Cargo.toml"
	printf 'fn main() {\n    println!("Hello, world!");\n}\n' > "$1/src/main.rs"
}

# build: measured in a snapshot of the work tree (tracked + untracked files, no target dirs), so
# edits made meanwhile in the repo cannot turn a no-op build into a rebuild, and the touch
# benchmark does not touch the repo; with its own target dir ($OUT/build-target, kept between
# runs). Three no-op builds: example-hello; a plain `cargo new` bin crate outside the workspace
# (the baseline); the same plain crate added as a member of the workspace snapshot (cargo's cost
# of loading this workspace and its lock file, without example-hello's dependency graph).
build() {
	local plain=$OUT/plain-crate ws=$OUT/workspace
	rm -rf "$plain" "$ws"
	mkdir -p "$ws"
	git ls-files -z --cached --others --exclude-standard \
		| xargs -0 tar --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$ws"
	# Written by hand, not with `cargo new`, which would add a crate created under the repo (the
	# default $OUT is <repo>/target/...) to the repo's workspace; `[workspace]` keeps it standalone.
	plain_crate "$plain" plain-crate "[workspace]"
	plain_crate "$ws/plain-member" plain-member ""
	sed -i 's/^members = \[/members = [\n    "plain-member",/' "$ws/Cargo.toml"
	local -x CARGO_TARGET_DIR=$OUT/build-target
	{
		machine
		echo "target dir: $CARGO_TARGET_DIR (dev profile); workspace snapshot: $ws"
		echo
	} > "$OUT/build.txt"
	# Warm all three (full builds), so the measured runs are no-op builds.
	(cd "$ws" && BPF_KEY=$ws/$KEY cargo build -q -j2 -p example-hello -p plain-member)
	(cd "$plain" && cargo build -q -j2)
	local eh="cd $ws && BPF_KEY=$ws/$KEY cargo build -q -j2 -p example-hello"
	local pl="cd $plain && cargo build -q -j2"
	local pm="cd $ws && BPF_KEY=$ws/$KEY cargo build -q -j2 -p plain-member"
	local touch="touch $ws/example-hello/src/bpf/hello.bpf.c"
	echo "== interleaved, $BUILD_RUNS runs each (primary)" | tee -a "$OUT/build.txt"
	interleave "$BUILD_RUNS" \
		"example-hello, no-op" : "$eh" \
		"plain crate, no-op" : "$pl" \
		"plain crate as a workspace member, no-op" : "$pm" \
		"example-hello after touch hello.bpf.c" "$touch" "$eh" | tee -a "$OUT/build.txt"
	if command -v hyperfine > /dev/null; then
		echo "== hyperfine cross-check (runs each command's series in a row)" | tee -a "$OUT/build.txt"
		hyperfine --style basic --warmup 2 --runs "$BUILD_RUNS" --export-markdown "$OUT/noop.md" \
			-n example-hello "$eh" -n plain-crate "$pl" -n "plain crate as a workspace member" "$pm" \
			2>&1 | grep -v -i -e warning -e '^ *$' -e consider | tee -a "$OUT/build.txt"
		hyperfine --style basic --warmup 1 --runs "$BUILD_RUNS" --prepare "$touch" \
			-n "example-hello after touch hello.bpf.c" "$eh" \
			2>&1 | grep -v -i -e warning -e '^ *$' -e consider | tee -a "$OUT/build.txt"
	fi
	# What a touch of hello.bpf.c reruns (for the record).
	echo "== after touch: $(eval "$touch"; cd "$ws" && BPF_KEY=$ws/$KEY cargo build -v -j2 -p example-hello 2>&1 \
		| grep -o -e 'Dirty [^:]*: .*' -e 'Running `[^ ]*' | sed 's/Running `/ran /' | tr '\n' ';')" | tee -a "$OUT/build.txt"
	echo "build results: $OUT/build.txt"
}

# check_crate DIR NAME MODE: a workspace member compiling example-hello's BPF source in build.rs
# (as example-hello does) whose main.rs
#   macro:    embeds it with include_signed_skel! and loads it;
#   build-rs: includes the same skeleton generated by build.rs (bpfsign-macros-core's expand_with,
#             written to OUT_DIR, the libbpf-cargo way): the same crate without the macro;
#   none:     has no skeleton (same build script, a call into the runtime instead).
check_crate() {
	mkdir -p "$1/src/bpf"
	cp example-hello/src/bpf/hello.bpf.c "$1/src/bpf/"
	local deps='bpfsign-macros = { path = "../bpfsign-macros" }' build_deps=''
	case $3 in
	build-rs)
		deps=''
		build_deps=$'bpfsign-macros-core = { path = "../crates/bpfsign-macros-core" }\nproc-macro2 = "1"'
		;;
	none) deps='' ;;
	esac
	cat > "$1/Cargo.toml" <<-EOF
		[package]
		name = "$2"
		version = "0.1.0"
		edition = "2021"
		publish = false

		[dependencies]
		bpfsign-runtime = { path = "../bpfsign-runtime" }
		$deps

		[build-dependencies]
		bpfsign-build = { path = "../bpfsign-build" }
		$build_deps
	EOF
	local load='fn main() {
    match skel::Hello::builder().load() {
        Ok(s) => println!("loaded {}", s.protocol()),
        Err(e) => eprintln!("{e}"),
    }
}'
	local compile='    if let Err(e) = bpfsign_build::compile("src/bpf/hello.bpf.c") {
        eprintln!("{e}");
        std::process::exit(1);
    }'
	case $3 in
	macro)
		printf 'fn main() {\n%s\n}\n' "$compile" > "$1/build.rs"
		printf '#[allow(deprecated)]\nmod skel {\n    bpfsign_macros::include_signed_skel!("hello.bpf.o", key = env!("BPF_KEY"));\n}\n\n%s\n' "$load" > "$1/src/main.rs"
		;;
	build-rs)
		cat > "$1/build.rs" <<-EOF
			fn main() {
			$compile
			    let input: proc_macro2::TokenStream = r#""hello.bpf.o", key = env!("BPF_KEY")"#.parse().unwrap();
			    let items = bpfsign_macros_core::expand_with(input, &bpfsign_macros_core::ProcessEnv)
			        .unwrap_or_else(|e| panic!("{e}"));
			    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("hello_skel.rs");
			    std::fs::write(out, items.to_string()).unwrap();
			    println!("cargo:rerun-if-env-changed=BPF_KEY");
			}
		EOF
		printf '#[allow(unused_imports)] // the re-exports, allowed as for the macro call\nmod skel {\n    include!(concat!(env!("OUT_DIR"), "/hello_skel.rs"));\n}\n\n%s\n' "$load" > "$1/src/main.rs"
		;;
	none)
		printf 'fn main() {\n%s\n}\n' "$compile" > "$1/build.rs"
		printf 'fn main() {\n    match bpfsign_runtime::selected_protocol(None) {\n        Ok(p) => println!("protocol {p}"),\n        Err(e) => eprintln!("{e}"),\n    }\n}\n' > "$1/src/main.rs"
		;;
	esac
}

# check: `cargo check` of a crate embedding hello with include_signed_skel! after touching its
# main.rs (what every edit of the calling file costs), against the same crate with the skeleton
# generated by build.rs instead of the macro, and against the crate without a skeleton; in a
# workspace snapshot with its own target dir, like `build`.
check() {
	local ws=$OUT/check-workspace
	rm -rf "$ws"
	mkdir -p "$ws"
	git ls-files -z --cached --others --exclude-standard \
		| xargs -0 tar --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$ws"
	check_crate "$ws/check-with-macro" check-with-macro macro
	check_crate "$ws/check-skeleton-from-build-rs" check-skeleton-from-build-rs build-rs
	check_crate "$ws/check-without-skeleton" check-without-skeleton none
	sed -i 's/^members = \[/members = [\n    "check-with-macro",\n    "check-skeleton-from-build-rs",\n    "check-without-skeleton",/' "$ws/Cargo.toml"
	local -x CARGO_TARGET_DIR=$OUT/check-target
	{
		machine
		echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
		echo "target dir: $CARGO_TARGET_DIR (dev profile, cargo check); workspace snapshot: $ws"
		echo
	} > "$OUT/check.txt"
	local c k
	local -a args=()
	for c in check-with-macro check-skeleton-from-build-rs check-without-skeleton; do
		(cd "$ws" && BPF_KEY=$ws/$KEY cargo check -q -j2 -p $c)
		args+=("$c after touch src/main.rs" "touch $ws/$c/src/main.rs"
			"cd $ws && BPF_KEY=$ws/$KEY cargo check -q -j2 -p $c")
	done
	for c in check-with-macro check-without-skeleton; do
		args+=("$c, no-op" : "cd $ws && BPF_KEY=$ws/$KEY cargo check -q -j2 -p $c")
	done
	echo "== interleaved, $BUILD_RUNS runs each" | tee -a "$OUT/check.txt"
	interleave "$BUILD_RUNS" "${args[@]}" | tee -a "$OUT/check.txt"
	echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at the end" | tee -a "$OUT/check.txt"
	echo "check results: $OUT/check.txt"
}

# size: the hello skeleton's bytes in example-hello (release) by symbol, against the C light
# skeleton's opts_* arrays (its .rodata for the object) in lskel-bench-<proto>, per protocol.
size() {
	local res=$OUT/size.txt dir=$OUT/payload
	payload "$dir" dynamic
	cargo build -q -j2 --release -p example-hello
	local bin=$CARGO_TARGET_DIR/release/example-hello
	{
		machine
		echo "example-hello: $bin ($(stat -c %s "$bin") bytes, release, $(file -b "$bin" | grep -o -e 'dynamically linked' -e 'static-pie linked'))"
		echo
	} > "$res"
	nm -S --size-sort -C "$bin" > "$OUT/example-hello.nm"
	for kp in $KERNELS; do
		nm -S "$dir/lskel-bench-${kp#*:}" > "$OUT/lskel-${kp#*:}.nm"
	done
	python3 - "$OUT" $KERNELS <<-'PY' | tee -a "$res"
	import re, sys
	out, kernels = sys.argv[1], [k.split(":")[1] for k in sys.argv[2:]]
	rust = {}
	code = 0
	for line in open(f"{out}/example-hello.nm"):
	    parts = line.split(None, 3)
	    if len(parts) < 4 or "hello_skel" not in parts[3]:
	        continue
	    size, kind, name = int(parts[1], 16), parts[2], parts[3].strip()
	    short = name.rsplit("::", 1)[-1]
	    if kind in "rRdD" and re.fullmatch(r"(DATA|SPEC|INSNS_\w+|SIG_\w+|EXCL_HASH_\w+)", short):
	        rust[short] = rust.get(short, 0) + size
	    elif kind in "tT":
	        code += size
	print("| skeleton symbol (example-hello, release) | bytes |")
	print("|---|---|")
	for k in sorted(rust):
	    print(f"| {k} | {rust[k]} |")
	print(f"| functions with hello_skel in their name (not inlined) | {code} |")
	print()
	print("| protocol | Rust: DATA + INSNS + SIG + EXCL_HASH (B) | C: opts_data + opts_insn + opts_sig + opts_excl_hash (B) | ratio |")
	print("|---|---|---|---|")
	for p in kernels:
	    c = 0
	    for line in open(f"{out}/lskel-{p}.nm"):
	        parts = line.split()
	        if len(parts) == 4 and re.fullmatch(r"opts_(data|insn|sig|excl_hash)(\.\d+)?", parts[3]):
	            c += int(parts[1], 16)
	    up = p.upper()
	    r = rust.get("DATA", 0) + rust.get(f"INSNS_{up}", 0) + rust.get(f"SIG_{up}", 0) + rust.get(f"EXCL_HASH_{up}", 0)
	    print(f"| {p} | {r} | {c} | {r / c:.3f}x |")
	alls = sum(v for k, v in rust.items())
	print()
	print(f"all protocols: every skeleton symbol above = {alls} B (+ {code} B of non-inlined skeleton functions)")
	PY
	echo "size results: $res"
}

for w in $WHAT; do
	case $w in
	latency) latency dynamic ;;
	latency-static) latency static ;;
	latency-nopie) latency nopie ;;
	startup) startup ;;
	build) build ;;
	size) size ;;
	check) check ;;
	*) echo "usage: tests/bench/run.sh [latency] [latency-static] [latency-nopie] [startup] [build] [check] [size]" >&2; exit 2 ;;
	esac
done
