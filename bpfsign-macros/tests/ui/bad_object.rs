// A C source is neither a BPF object nor a signed artifact.
bpfsign_macros::include_signed_skel!(concat!(env!("BPFSIGN_FIXTURES"), "/src/hello.bpf.c"));

fn main() {}
