// The TEST-ONLY key's build warnings (a `deprecated` lint warning) are not what this test is
// about (and whether the key file is readable by others depends on the checkout).
#![allow(deprecated)]
// A `SEC("?...")` program (autoload off) is never loaded by the signed loader: its field is an
// `Option<Program>` (always `None`), not a `Program`, and it has no attach function.
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/multi.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
);

fn use_it(skel: &LoadedMulti) -> Result<(), bpfsign_runtime::Error> {
    let _loaded: bpfsign_runtime::Program<'_> = skel.progs().getpid_entry;
    let _prog: bpfsign_runtime::Program<'_> = skel.progs().getppid_optional;
    let _link = skel.attach_getppid_optional()?;
    Ok(())
}

fn main() {
    let _ = use_it;
}
