//! Build-time configuration (tests/config.rs): `config_globals.bpf.c` embedded with every
//! configuration argument of `include_signed_skel!` — `.rodata` and `.data` initial values,
//! `max_entries` of `cfg_map`, a `.kconfig` value and the kernel version — so the signed loader
//! hands the kernel exactly these values.

#[allow(deprecated)] // TEST-ONLY key A
mod skel {
    bpfsign_macros::include_signed_skel!(
        "config_globals.bpf.o",
        key = env!("BPF_KEY"),
        allow_unsigned = true,
        rodata = { target_pid: 42, threshold: 7u64 << 32, offset: -9, tag: "cfg" },
        data = { data_knob: 1234 },
        max_entries = { cfg_map: 1 << 10 },
        kconfig = { CONFIG_HZ: 250 },
        kernel_version = "6.18.0",
    );
}

pub use skel::*;

/// The configured values, as the test expects to see them.
pub mod expected {
    /// `target_pid`.
    pub const TARGET_PID: u32 = 42;
    /// `threshold`.
    pub const THRESHOLD: u64 = 7 << 32;
    /// `offset`.
    pub const OFFSET: i32 = -9;
    /// `tag` (NUL-padded).
    pub const TAG: [u8; 8] = *b"cfg\0\0\0\0\0";
    /// `data_knob`.
    pub const DATA_KNOB: u32 = 1234;
    /// `max_entries` of `cfg_map`.
    pub const MAX_ENTRIES: u32 = 1 << 10;
    /// `CONFIG_HZ`.
    pub const HZ: u32 = 250;
    /// `LINUX_KERNEL_VERSION` for 6.18.0.
    pub const KERNEL_VERSION: u32 = (6 << 16) | (18 << 8);
}
