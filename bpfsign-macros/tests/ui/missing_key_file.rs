bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/no-such-key.pem")
);

fn main() {}
