#!/bin/bash
# Regenerates the hello light-skeleton test data of bpfsign-runtime from the reference tool chain.
# usage: tests/data/regen.sh   (run from anywhere; needs clang-14, openssl, python3 and the reference bpftools)
# The keys are TEST-ONLY: generated here for the kernel tests and never used to sign anything else.
# Existing keys are kept (delete keys/ to make new ones); everything else is regenerated.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REF=${REF:-/work/shared/reference}
TMP=$(mktemp -d); trap 'rm -rf $TMP' EXIT
mkdir -p "$HERE/keys" "$HERE/hello"
for k in a b; do
	K=$(echo $k | tr a-z A-Z)
	[ -f "$HERE/keys/TEST-ONLY-key-$k.pem" ] && continue
	sed "s/@CN@/bpfsign TEST-ONLY key $K/" "$REF/experiment/x509.genkey.in" > "$TMP/x509.genkey"
	openssl req -new -nodes -utf8 -sha256 -days 36500 -batch -x509 -config "$TMP/x509.genkey" \
		-outform PEM -out "$HERE/keys/TEST-ONLY-key-$k.pem" -keyout "$HERE/keys/TEST-ONLY-key-$k.pem" 2>/dev/null
	openssl x509 -in "$HERE/keys/TEST-ONLY-key-$k.pem" -outform DER -out "$HERE/keys/TEST-ONLY-key-$k.der"
done
KEY="-k $HERE/keys/TEST-ONLY-key-a.pem -i $HERE/keys/TEST-ONLY-key-a.der"
# hello: the seed experiment's program (fentry on __do_sys_getpid); multi: raw_tp + non-autoload + iter.
for obj in hello:$REF/experiment/hello.bpf.c multi:$HERE/multi/multi.bpf.c; do
	name=${obj%%:*}; src=${obj#*:}
	mkdir -p "$TMP/$name" "$HERE/$name"
	clang-14 -O2 -g -target bpf -D__TARGET_ARCH_x86 -I"$REF/include-p2" -I"$REF/uapi-7.3" \
		-I/usr/include/x86_64-linux-gnu -c "$src" -o "$TMP/$name.bpf.o"
	"$REF/bin/bpftool-p1" gen skeleton -L -S $KEY "$TMP/$name.bpf.o" name $name > "$TMP/$name/p1-libbpf170.h"
	"$REF/bin/bpftool-p1b" gen skeleton -L -S $KEY "$TMP/$name.bpf.o" name $name > "$TMP/$name/p1b.h"
	"$REF/bin/bpftool-p2" gen skeleton -L -S $KEY "$TMP/$name.bpf.o" name $name > "$TMP/$name/p2.h"
	"$REF/bin/bpftool-p2" gen skeleton -L "$TMP/$name.bpf.o" name $name > "$TMP/$name/unsigned.h"
	python3 "$HERE/decode_lskel.py" "$TMP/$name" "$HERE/$name"
done
skid=$(openssl x509 -in "$HERE/keys/TEST-ONLY-key-a.der" -inform DER -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :' | tr A-F a-f)
echo "$skid" > "$HERE/keys/TEST-ONLY-key-a.skid"
ls -l "$HERE/hello" "$HERE/multi" "$HERE/keys"
