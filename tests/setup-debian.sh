#!/usr/bin/env bash
# tests/setup-debian.sh: install the Debian packages bpfsign's build, tests and demo need
# (apt-get update + install only when something is missing). Used by tests/run-all.sh and
# example-hello/demo.sh. BPFSIGN_SKIP_APT=1 skips it.
set -euo pipefail
[ "${BPFSIGN_SKIP_APT:-0}" = 1 ] && { echo "setup: package check skipped (BPFSIGN_SKIP_APT=1)"; exit 0; }

# Debian packages: the VM test bed (qemu, static busybox, dpkg-deb, apt keyring) and the
# build (clang/llvm for BPF C, OpenSSL headers, libelf/libcap/keyutils for the reference tools).
PACKAGES=(
	qemu-system-x86 busybox-static cpio dpkg tar ca-certificates debian-archive-keyring
	gcc libc6-dev clang-14 llvm-14 libssl-dev pkg-config libelf1 libcap2 keyutils libbpf-dev
)

install_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		echo "setup: all ${#PACKAGES[@]} Debian packages present"
		return
	fi
	echo "setup: installing ${missing[*]}"
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

install_packages
