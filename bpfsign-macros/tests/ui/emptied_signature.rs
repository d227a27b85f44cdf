// An artifact whose p1 signature was emptied (present, zero bytes).
bpfsign_macros::include_signed_skel!(concat!(env!("BPFSIGN_UI_DIR"), "/tampered/emptied.skel"));

fn main() {}
