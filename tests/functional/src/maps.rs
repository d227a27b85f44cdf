//! Skeletons of the map API tests (`tests/maps.rs`): `bpf/maps_all.bpf.c`, one program that
//! uses every map kind the runtime has a typed handle for.

#[allow(deprecated)] // signed with the TEST-ONLY key A (a deprecation warning by design)
mod all {
    bpfsign_macros::include_signed_skel!(
        "maps_all.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true
    );
}

pub use all::maps_all_skel::types;
pub use all::*;
