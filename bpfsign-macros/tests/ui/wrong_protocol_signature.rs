// The p1b signature copied into the p2 slot: it verifies with the certificate, but over other
// bytes than the p2 payload (insns ‖ data).
bpfsign_macros::include_signed_skel!(concat!(env!("BPFSIGN_UI_DIR"), "/tampered/swapped.skel"));

fn main() {}
