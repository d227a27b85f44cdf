#!/bin/sh
# Runs inside the VM (or natively): the seed experiment with the one example-hello binary,
# signed at build time with key A. Prints one RESULT line per case for demo.sh to tabulate.
K=$(uname -r)
echo "BINARY kernel=$K sha256=$(sha256sum "$(command -v example-hello)" | cut -d" " -f1)"
case_run() { # NAME CERT [ARGS...]
	name=$1 cert=$2
	shift 2
	echo "----- [$K] $name: example-hello --register-cert $cert $*"
	example-hello --register-cert "$cert" --seconds 5 "$@"
	rc=$?
	echo "RESULT kernel=$K case=$name exit=$rc"
}
case_run "cert A registered" /demo/A.der --set-a
case_run "only cert B registered" /demo/B.der --set-a
exit 0
