#!/bin/bash
# RUSTC_WORKSPACE_WRAPPER for `run.sh check`: runs the rustc command line it is given and appends
# "CRATE_NAME MICROSECONDS" to $BENCH_RUSTC_LOG, so the rustc call can be timed without cargo's
# own work around it. Calls without --crate-name (cargo's `rustc -vV` queries) are not logged.
start=${EPOCHREALTIME//[.,]/}
"$@"
rc=$?
end=${EPOCHREALTIME//[.,]/}
crate=
prev=
for arg in "$@"; do
	[ "$prev" = --crate-name ] && crate=$arg
	prev=$arg
done
[ -n "$crate" ] && echo "$crate $((end - start))" >> "$BENCH_RUSTC_LOG"
exit $rc
