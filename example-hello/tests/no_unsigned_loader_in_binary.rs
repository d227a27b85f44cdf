//! example-hello embeds its skeleton with the default `include_signed_skel!` arguments, which
//! do not allow unsigned loading: the unsigned loader must not be in the built binary at all
//! (so `BPFSIGN_PROTOCOL=unsigned` has nothing to load), while the signed loaders are.
//!
//! The loaders are regenerated here from the object build.rs compiled (the generator is
//! deterministic), and the binary is searched for every 64-byte piece of the unsigned loader
//! that no signed loader also contains (the loaders share a common prologue).

use bpfsign_gen::{GenOptions, Protocol};

/// The object build.rs wrote, which the macro embedded.
const OBJECT: &str = concat!(env!("OUT_DIR"), "/hello.bpf.o");

/// Length of the pieces searched for.
const PIECE: usize = 64;

fn loaders() -> bpfsign_gen::Generated {
    let elf = std::fs::read(OBJECT).expect("read the object build.rs compiled");
    let obj = bpfsign_gen::parse_object("hello.bpf.o", &elf).expect("parse hello.bpf.o");
    bpfsign_gen::generate(&obj, &GenOptions::default()).expect("generate the loaders")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether any of `needles` (all `PIECE` bytes long) occurs in `haystack`: one pass, with a
/// first-byte filter so it stays fast over a multi-megabyte unoptimised binary.
fn contains_any(haystack: &[u8], needles: &[&[u8]]) -> bool {
    let mut first = [false; 256];
    for n in needles {
        first[usize::from(n[0])] = true;
    }
    haystack
        .windows(PIECE)
        .any(|w| first[usize::from(w[0])] && needles.contains(&w))
}

#[test]
fn unsigned_loader_is_not_in_the_default_binary() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_example-hello")).expect("read example-hello");
    let out = loaders();
    let unsigned = out
        .loader(Protocol::Unsigned)
        .expect("generate emits every loader");
    let signed: Vec<&[u8]> = Protocol::SIGNED
        .iter()
        .map(|p| out.loader(*p).expect("a signed loader"))
        .collect();
    // Pieces at every instruction boundary that belong to the unsigned loader only.
    let pieces: Vec<&[u8]> = (0..=unsigned.len() - PIECE)
        .step_by(8)
        .map(|i| &unsigned[i..i + PIECE])
        .filter(|piece| !signed.iter().any(|s| contains(s, piece)))
        .collect();
    assert!(
        pieces.len() > 10,
        "the unsigned loader should differ from the signed ones in many places"
    );
    assert!(
        !contains_any(&binary, &pieces),
        "bytes of the unsigned loader found in example-hello: it was built without \
         allow_unsigned, so the unsigned loader must not be embedded"
    );
}

#[test]
fn positive_control_signed_loaders_are_in_the_binary() {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_example-hello")).expect("read example-hello");
    let out = loaders();
    for p in Protocol::SIGNED {
        let insns = out.loader(p).expect("a signed loader");
        assert!(
            contains(&binary, insns),
            "the {p} loader is not in example-hello: the search does not work"
        );
    }
}
