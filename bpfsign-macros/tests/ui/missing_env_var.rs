bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    key = env!("BPFSIGN_UI_SURELY_UNSET_KEY")
);

fn main() {}
