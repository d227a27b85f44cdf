// Offline signatures made by TEST-ONLY key B, each carrying B's certificate, declared as made
// by key A: refused (a certificate inside a signature is never trusted).
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    cert = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.der"),
    signature = concat!(env!("BPFSIGN_UI_DIR"), "/by-b/hello"),
);

fn main() {}
