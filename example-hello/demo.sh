#!/usr/bin/env bash
# The seed experiment on real signing kernels, from ONE Rust build:
#   1. installs what it needs (Debian packages; reuses tests/setup-debian.sh),
#   2. makes two development keys A and B (openssl, the kernel's x509.genkey recipe) under target/demo/keys,
#   3. builds example-hello signed with key A (BPF_KEY=.../A.pem: include_signed_skel! signs at compile time),
#   4. boots 6.18.15 (P1), 7.2.13 (P1b) and 7.3.4 (P2) in qemu and, on each, runs the same binary with
#      cert A registered (expect: loads, prints "I loaded prog 'A'") and with only cert B registered
#      (expect: rejected with ENOKEY, exit 3),
#   5. prints the A/B table and exits non-zero if any kernel disagrees with the expectation.
# Kernels: $BPFSIGN_KERNEL_DIR, else ../shared/kernels next to the repo, else downloaded (tests/README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
bash tests/setup-debian.sh

if [ -z "${BPFSIGN_KERNEL_DIR:-}" ] && [ -d ../shared/kernels ]; then
	BPFSIGN_KERNEL_DIR=$(cd ../shared/kernels && pwd)
	export BPFSIGN_KERNEL_DIR
fi

KEYS=$ROOT/target/demo/keys
for k in A B; do
	d=$KEYS/$k
	[ -f "$d/signing_key.der" ] && continue
	mkdir -p "$d"
	sed "s/@CN@/bpfsign demo key $k/" example-hello/demo/x509.genkey.in >"$d/x509.genkey"
	openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 -config "$d/x509.genkey" \
		-outform PEM -out "$d/signing_key.pem" -keyout "$d/signing_key.pem" 2>/dev/null
	openssl x509 -in "$d/signing_key.pem" -outform DER -out "$d/signing_key.der"
	chmod 600 "$d/signing_key.pem"
	echo "demo: made development key $k in $d"
done

# One build, signed with A (cargo vmtest builds the workspace binaries with this environment).
export BPF_KEY=$KEYS/A/signing_key.pem
LOG=$ROOT/target/demo/demo.log
: >"$LOG"
KERNELS=${DEMO_KERNELS:-6.18.15 7.2.13 7.3.4}
for kernel in $KERNELS; do
	echo "demo: kernel $kernel ..."
	cargo vmtest exec --kernel "$kernel" \
		--extra "$KEYS/A/signing_key.der:/demo/A.der" --extra "$KEYS/B/signing_key.der:/demo/B.der" \
		--extra "example-hello/demo/guest.sh:/demo/guest.sh" -- sh /demo/guest.sh 2>&1 | sed -E 's/^\[[0-9.]+\] //' | tee -a "$LOG" |
		grep -E '^(BINARY|-----|protocol =|load =|attach =|trace:|error|.*ENOKEY|RESULT|=== VM-GUEST-START)' || true
done

echo
echo "demo: example-hello signed with key A, one binary, three kernels"
printf '%-10s %-6s %-44s %-30s %s\n' kernel proto "cert A registered" "only cert B registered" verdict
fail=0
for kernel in $KERNELS; do
	a=$(grep -E "^RESULT kernel=$kernel[^ ]* case=cert A" "$LOG" | sed 's/.*exit=//' | tail -1)
	b=$(grep -E "^RESULT kernel=$kernel[^ ]* case=only cert B" "$LOG" | sed 's/.*exit=//' | tail -1)
	proto=$(awk -v k="$kernel" '$0 ~ "^----- \\[" k {c=1} c && /^protocol = / {print $3; exit}' "$LOG")
	trace=$(awk -v k="$kernel" '$0 ~ "^----- \\[" k {c=1} c && /^trace:/ {sub(/.*I loaded/, "I loaded"); print; exit}' "$LOG")
	berr=$(awk -v k="$kernel" '$0 ~ "^----- \\[" k ".*only cert B" {c=1} c && /ENOKEY/ {print "ENOKEY"; exit}' "$LOG")
	verdict=ok
	[ "$a" = 0 ] && [ -n "$trace" ] && [ "$b" = 3 ] && [ "$berr" = ENOKEY ] || { verdict=UNEXPECTED; fail=1; }
	printf '%-10s %-6s %-44s %-30s %s\n' "$kernel" "${proto:-?}" "exit ${a:-?}: ${trace:-no trace line}" \
		"exit ${b:-?}: ${berr:-no ENOKEY}" "$verdict"
done
n=$(sed -n 's/^BINARY kernel=[^ ]* sha256=//p' "$LOG" | sort -u | wc -l)
if [ "$n" = 1 ]; then
	echo "the same example-hello binary ran on every kernel: sha256 $(sed -n 's/^BINARY kernel=[^ ]* sha256=//p' "$LOG" | head -1)"
else
	echo "UNEXPECTED: $n different example-hello binaries ran"; fail=1
fi
echo "(full log: $LOG)"
exit $fail
