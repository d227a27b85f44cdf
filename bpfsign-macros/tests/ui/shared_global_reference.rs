// A reference to a section the BPF programs write is an `unsafe fn`: calling it without
// `unsafe` does not compile (the safe ways are `read_bss()` and `bss_vars()`).
#![allow(deprecated)] // TEST-ONLY key
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
);

fn shared(skel: &LoadedHello) {
    let _ = skel.bss();
}

fn exclusive(skel: &mut LoadedHello) {
    let _ = skel.bss_mut();
}

fn main() {
    let _ = (shared, exclusive);
}
