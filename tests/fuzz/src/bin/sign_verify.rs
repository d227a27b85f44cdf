//! Fuzz target `sign_verify` (see [`bpfsign_fuzz::targets::sign_verify`]). Built with the `afl` feature
//! by `cargo afl build` it is an afl fuzzer; without it, a replay binary:
//! `sign_verify FILE_OR_DIR...` (stdin when no argument) exits 1 if any input panics.

#[cfg(feature = "afl")]
fn main() {
    afl::fuzz!(|data: &[u8]| {
        bpfsign_fuzz::targets::sign_verify(data);
    });
}

#[cfg(not(feature = "afl"))]
fn main() {
    bpfsign_fuzz::replay::main("sign_verify", bpfsign_fuzz::targets::sign_verify);
}
