// A correctly signed artifact whose metadata names a map "a b" (the names are not signed):
// a compile error, not a proc-macro panic.
bpfsign_macros::include_signed_skel!(concat!(env!("BPFSIGN_UI_DIR"), "/tampered/hostile-name.skel"));

fn main() {}
