// Key A with certificate B.
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
    cert = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-b.der")
);

fn main() {}
