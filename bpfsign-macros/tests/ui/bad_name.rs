bpfsign_macros::include_signed_skel!("hello.bpf.o", key = "k.pem", name = "not a type");

fn main() {}
