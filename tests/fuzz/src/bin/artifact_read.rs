//! Fuzz target `artifact_read` (see [`bpfsign_fuzz::targets::artifact_read`]). Built with the `afl` feature
//! by `cargo afl build` it is an afl fuzzer; without it, a replay binary:
//! `artifact_read FILE_OR_DIR...` (stdin when no argument) exits 1 if any input panics.

#[cfg(feature = "afl")]
fn main() {
    afl::fuzz!(|data: &[u8]| {
        bpfsign_fuzz::targets::artifact_read(data);
    });
}

#[cfg(not(feature = "afl"))]
fn main() {
    bpfsign_fuzz::replay::main("artifact_read", bpfsign_fuzz::targets::artifact_read);
}
