bpfsign_macros::include_signed_skel!("hello.bpf.o", key = "k.pem", protocols = [p1b, unsigned]);

fn main() {}
