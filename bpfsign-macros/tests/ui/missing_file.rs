bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/no-such-object.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem")
);

fn main() {}
