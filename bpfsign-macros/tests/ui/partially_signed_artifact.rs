// An artifact with only the p2 signature attached (offline signing not finished).
bpfsign_macros::include_signed_skel!(concat!(env!("BPFSIGN_UI_DIR"), "/partial/hello.skel"));

fn main() {}
