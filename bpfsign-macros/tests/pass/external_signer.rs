// `cert` alone with BPFSIGN_SIGNER set (tests/ui.rs sets it to `openssl cms … {payload} … {out}`
// with TEST-ONLY key A): every protocol is signed by the command and verified with the cert.
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    cert = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.der"),
);

fn main() {
    let spec = Hello::spec();
    assert!(spec.variants.iter().all(|v| v.protocol == bpfsign_runtime::Protocol::Unsigned
        || v.signature.is_some()));
    assert_eq!(spec.signer_skid, Some("b47dc1af906c3b717fd2649abebb975afff02a48"));
}
