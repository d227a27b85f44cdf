bpfsign_macros::include_signed_skel!("hello.bpf.o", key = "a.pem", key = "b.pem");

fn main() {}
