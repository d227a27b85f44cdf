// Which loaders are embedded: by default P1, P1b and P2 (no unsigned loader);
// `allow_unsigned = true` adds the unsigned loader; `protocols = [...]` picks the signed ones.
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
    name = "SignedOnly",
);
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
    name = "WithUnsigned",
    allow_unsigned = true,
);
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
    name = "NewKernels",
    protocols = [p1b, "p2"],
);

use bpfsign_runtime::{Protocol, SkeletonSpec};

fn protocols(spec: &SkeletonSpec<'_>) -> Vec<Protocol> {
    spec.variants.iter().map(|v| v.protocol).collect()
}

fn main() {
    assert_eq!(protocols(SignedOnly::spec()), [Protocol::P1, Protocol::P1b, Protocol::P2]);
    assert_eq!(
        protocols(WithUnsigned::spec()),
        [Protocol::Unsigned, Protocol::P1, Protocol::P1b, Protocol::P2]
    );
    assert_eq!(protocols(NewKernels::spec()), [Protocol::P1b, Protocol::P2]);
    // Every signed variant carries its signature; the unsigned loader has none.
    for v in WithUnsigned::spec().variants {
        assert_eq!(v.signature.is_some(), v.protocol != Protocol::Unsigned);
    }
}
