//! A skeleton with 50 programs (`bpf/many_progs.bpf.c`, `tests/many_progs.rs`): more than
//! libbpf's light-skeleton loader has stack slots for.

#[allow(deprecated)] // signed with the TEST-ONLY key A (a deprecation warning by design)
mod skel {
    bpfsign_macros::include_signed_skel!(
        "many_progs.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

pub use skel::*;
