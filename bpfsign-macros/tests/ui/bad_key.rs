// A certificate alone (DER) is not a signing key.
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.der")
);

fn main() {}
