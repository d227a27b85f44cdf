// `allow_unsigned = true` embeds a partially signed artifact; the unsigned variants stay
// unsigned (the runtime refuses to use them on a kernel that verifies signatures).
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_UI_DIR"), "/partial/hello.skel"),
    allow_unsigned = true,
);

use bpfsign_runtime::Protocol;

fn main() {
    let signed: Vec<(Protocol, bool)> =
        Hello::spec().variants.iter().map(|v| (v.protocol, v.signature.is_some())).collect();
    assert_eq!(
        signed,
        [(Protocol::Unsigned, false), (Protocol::P1, false), (Protocol::P1b, false), (Protocol::P2, true)]
    );
    assert_eq!(Hello::spec().signer_skid, Some("b47dc1af906c3b717fd2649abebb975afff02a48"));
}
