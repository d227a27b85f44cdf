// Awkward C layouts (see write_synthetic_artifact in tests/ui.rs) map to Rust types whose
// offsets are the BTF offsets; the artifact is embedded as written by build.rs would.
bpfsign_macros::include_signed_skel!(env!("BPFSIGN_UI_SYNTHETIC"), name = "Synthetic");

use core::mem::{align_of, offset_of, size_of};
use synthetic_skel::types::{self, Bss};

fn main() {
    assert_eq!(offset_of!(Bss, r#type), 0);
    assert_eq!(offset_of!(Bss, packed), 4);
    assert_eq!(offset_of!(Bss, big), 16);
    assert_eq!(offset_of!(Bss, u), 32);
    assert_eq!(offset_of!(Bss, anon), 44);
    assert_eq!(offset_of!(Bss, flag), 52);
    // 53-byte section, aligned to the u128 inside: 64 bytes, all within the map's mapping.
    assert_eq!(size_of::<Bss>(), 64);
    assert_eq!(align_of::<Bss>(), 16);
    // A member at an unaligned offset makes the C struct packed.
    assert_eq!(size_of::<types::packed_s>(), 5);
    assert_eq!(align_of::<types::packed_s>(), 1);
    let p = types::packed_s { a: 1, b: -2 };
    let b = p.b;
    assert_eq!(b, -2);
    // The union keeps its BTF size (12) through a byte view; 12 is no multiple of 8: packed.
    assert_eq!(size_of::<types::__anon_1>(), 12);
    let u = types::__anon_1 { x: 5 };
    assert_eq!(unsafe { u.__bytes }[0], 5);
    // Anonymous members and `self` get usable names.
    let a = types::__anon_2 { __anon_0: 1, self_: 2 };
    assert_eq!(a.self_, 2);
    let bss = Bss { flag: 1, big: u128::MAX, ..Default::default() };
    assert_eq!(bss.flag, 1u8);
}
