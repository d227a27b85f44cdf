bpfsign_macros::include_signed_skel!("hello.bpf.o", key = "k.pem", colour = "red");

fn main() {}
