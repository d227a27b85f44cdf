bpfsign_macros::include_signed_skel!();

fn main() {}
