//! Fuzz target `parse_generate` (see [`bpfsign_fuzz::targets::parse_generate`]). Built with the `afl` feature
//! by `cargo afl build` it is an afl fuzzer; without it, a replay binary:
//! `parse_generate FILE_OR_DIR...` (stdin when no argument) exits 1 if any input panics.

#[cfg(feature = "afl")]
fn main() {
    afl::fuzz!(|data: &[u8]| {
        bpfsign_fuzz::targets::parse_generate(data);
    });
}

#[cfg(not(feature = "afl"))]
fn main() {
    bpfsign_fuzz::replay::main("parse_generate", bpfsign_fuzz::targets::parse_generate);
}
