// hello's artifact signed with TEST-ONLY key A, then one byte of its data blob changed: the p2
// signature and the blob hash built into the p1/p1b loaders no longer match.
bpfsign_macros::include_signed_skel!(concat!(env!("BPFSIGN_UI_DIR"), "/tampered/data.skel"));

fn main() {}
