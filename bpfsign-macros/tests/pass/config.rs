//! Build configuration: global values, max_entries and generator options are applied before
//! signing; the embedded blob carries them.
#![deny(warnings)]
#![allow(deprecated)] // TEST-ONLY key

mod g {
    bpfsign_macros::include_signed_skel!(
        concat!(env!("BPFSIGN_FIXTURES"), "/obj/globals.bpf.o"),
        key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
        rodata = { ro_limit: 0x0102_0304u32, bar_msg: "configured!" },
        data = { data_value: -(1 << 4), data_name: b"bytes\0\0\0", data_enabled: false },
        bss = { bss_counter: 7u64 },
        globals = { foo_a: 3 },
        page_size = 4096,
        cpus = 8,
        kernel_version = "6.18.0",
    );
}

mod m {
    bpfsign_macros::include_signed_skel!(
        concat!(env!("BPFSIGN_FIXTURES"), "/obj/maps.bpf.o"),
        key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
        max_entries = { pid_counts: 1 << 12 },
    );
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn main() {
    let spec = g::Globals::spec();
    assert!(contains(spec.data, &0x0102_0304u32.to_le_bytes()));
    assert!(contains(spec.data, b"configured!\0"));
    assert!(contains(spec.data, b"bytes\0\0\0"));
    assert!(contains(spec.data, &(-16i32).to_le_bytes()));
    let maps = m::Maps::spec();
    let i = maps.map_index("pid_counts").unwrap();
    assert_eq!(maps.maps[i].max_entries, 4096);
}
