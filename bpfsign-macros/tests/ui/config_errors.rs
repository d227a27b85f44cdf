// Each configuration error points at the offending token.
mod a {
    bpfsign_macros::include_signed_skel!(
        concat!(env!("BPFSIGN_FIXTURES"), "/obj/globals.bpf.o"),
        key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
        rodata = { no_such_var: 1 },
    );
}
mod b {
    bpfsign_macros::include_signed_skel!(
        concat!(env!("BPFSIGN_FIXTURES"), "/obj/globals.bpf.o"),
        key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
        rodata = { ro_limit: 1 << 32 },
    );
}
mod c {
    bpfsign_macros::include_signed_skel!(
        concat!(env!("BPFSIGN_FIXTURES"), "/obj/globals.bpf.o"),
        key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
        data = { data_name: "much too long" },
    );
}
mod d {
    bpfsign_macros::include_signed_skel!(
        concat!(env!("BPFSIGN_FIXTURES"), "/obj/globals.bpf.o"),
        key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
        rodata = { bss_counter: 1 },
    );
}
mod e {
    bpfsign_macros::include_signed_skel!(
        concat!(env!("BPFSIGN_FIXTURES"), "/obj/maps.bpf.o"),
        key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
        max_entries = { no_map: 1 },
    );
}
mod f {
    bpfsign_macros::include_signed_skel!(
        concat!(env!("BPFSIGN_FIXTURES"), "/obj/globals.bpf.o"),
        key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
        data = { data_value: 300u8 },
    );
}
mod g {
    bpfsign_macros::include_signed_skel!(
        concat!(env!("BPFSIGN_FIXTURES"), "/obj/globals.bpf.o"),
        key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
        rodata = { ro_limit: "seven" },
    );
}
mod h {
    // An artifact is generated already: its configuration is given where it is generated.
    bpfsign_macros::include_signed_skel!(
        concat!(env!("BPFSIGN_UI_DIR"), "/partial/hello.skel"),
        allow_unsigned = true,
        page_size = 4096,
    );
}
mod i {
    bpfsign_macros::include_signed_skel!(
        concat!(env!("BPFSIGN_FIXTURES"), "/obj/globals.bpf.o"),
        key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
        page_size = 1000,
    );
}

fn main() {}
