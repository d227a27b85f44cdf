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
    // The union is a struct over its BTF size (12) of bytes; 12 is no multiple of 8:
    // alignment 1. Members are read and written through methods, over initialised bytes.
    assert_eq!(size_of::<types::__anon_1>(), 12);
    assert_eq!(align_of::<types::__anon_1>(), 1);
    let mut u = types::__anon_1::default();
    u.__bytes[11] = 7;
    u.set_x(5);
    assert_eq!(u.x(), 5);
    assert_eq!(u.__bytes[0], 5);
    // Setting the 8-byte member keeps the union's other bytes.
    assert_eq!(u.__bytes[11], 7);
    // Anonymous members and `self` get usable names.
    let a = types::__anon_2 { __anon_0: 1, self_: 2 };
    assert_eq!(a.self_, 2);
    let bss = Bss { flag: 1, big: u128::MAX, ..Default::default() };
    assert_eq!(bss.flag, 1u8);
}
