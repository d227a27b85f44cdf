bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    signature = "sig/hello"
);

fn main() {}
