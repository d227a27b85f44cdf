//! The fuzz targets: one function per target, taking the fuzzer's input bytes.
//!
//! Each returns normally for every input: an `Err` from bpfsign-gen is the expected answer to
//! bad input. A panic (including a failed assertion below, an arithmetic overflow or an
//! out-of-bounds index) is a finding. The same functions run under afl (`src/bin/*`, feature
//! `afl`), as plain replay binaries, and in the workspace test
//! `crates/bpfsign-gen/tests/fuzz_regressions.rs`, which includes this file by path.

use bpfsign_gen::artifact::Artifact;
use bpfsign_gen::{Certificate, GenOptions};

/// Names of the targets, as the binaries and the corpus/regression directories are named.
pub const TARGETS: [&str; 3] = ["parse_generate", "artifact_read", "sign_verify"];

/// Runs the target called `name` on `data`; `None` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> Option<()> {
    match name {
        "parse_generate" => parse_generate(data),
        "artifact_read" => artifact_read(data),
        "sign_verify" => sign_verify(data),
        _ => return None,
    }
    Some(())
}

/// ELF/BTF/BTF.ext parser, linker and emitter: `parse_object` then `generate` with default
/// options. A generated skeleton must also survive the artifact round trip (unsigned artifact
/// → JSON → [`Artifact::from_bytes`] → the same artifact).
///
/// The input is copied first: the parser reads the ELF in place and refuses bytes that are
/// not 8-byte aligned ("Invalid ELF header size or alignment"), and afl's shared-memory input
/// starts 4 bytes into its buffer. A heap copy is aligned like `std::fs::read`'s result.
pub fn parse_generate(data: &[u8]) {
    let data = data.to_vec();
    let Ok(obj) = bpfsign_gen::parse_object("fuzz.bpf.o", &data) else {
        return;
    };
    let Ok(generated) = bpfsign_gen::generate(&obj, &GenOptions::default()) else {
        return;
    };
    for (protocol, insns) in &generated.loaders {
        assert!(
            !insns.is_empty() && insns.len() % 8 == 0,
            "{protocol:?} loader is {} bytes, not whole instructions",
            insns.len()
        );
    }
    let artifact = match Artifact::from_generated(generated, None) {
        Ok(a) => a,
        Err(e) => panic!("an unsigned artifact of a generated skeleton failed: {e}"),
    };
    let bytes = artifact.to_bytes();
    match Artifact::from_bytes(&bytes) {
        Ok(back) => assert!(back == artifact, "artifact JSON round trip changed it"),
        Err(e) => panic!("the artifact of a generated skeleton does not read back: {e}"),
    }
}

/// Artifact reader: [`Artifact::from_bytes`]. An artifact it accepts must serialise and read
/// back to itself.
pub fn artifact_read(data: &[u8]) {
    let Ok(artifact) = Artifact::from_bytes(data) else {
        return;
    };
    let bytes = artifact.to_bytes();
    match Artifact::from_bytes(&bytes) {
        Ok(back) => assert!(back == artifact, "artifact JSON round trip changed it"),
        Err(e) => panic!("an accepted artifact does not read back after to_bytes: {e}"),
    }
    // The accessors the CLI and the macro use on an accepted artifact.
    let _ = artifact.missing_signatures();
    for v in &artifact.variants {
        let _ = artifact.payload(v.protocol);
        let _ = v.to_string();
    }
}

/// The TEST-ONLY certificate (key A, RSA-2048) the CMS checker verifies against.
const CERT_DER: &[u8] = include_bytes!("../../fixtures/keys/TEST-ONLY-key-a.der");
/// The payload the seed signatures in `corpus/sign_verify` sign (or fail to sign).
const PAYLOAD: &[u8] = include_bytes!("../../fixtures/gen/sig/payload.bin");

/// CMS detached-signature checker: [`Certificate::verify_detached`] of the input as a DER
/// signature over a fixed payload with the TEST-ONLY certificate A.
pub fn sign_verify(data: &[u8]) {
    let cert = match Certificate::from_bytes(CERT_DER, "TEST-ONLY-key-a.der") {
        Ok(c) => c,
        Err(e) => panic!("the fixture certificate does not load: {e}"),
    };
    let _ = cert.verify_detached(PAYLOAD, data, "fuzz input");
}
