//! Functional kernel tests of bpfsign's program and map API (run them with `cargo vmtest`).
//!
//! Each module embeds skeletons of `bpf/*.bpf.c` with `include_signed_skel!` (signed with the
//! workspace's TEST-ONLY key A, unsigned loader allowed for the host, which cannot verify
//! signatures); the tests in `tests/` load them, attach, trigger the programs and assert an
//! effect (an event read, a counter moved, a packet counted, iterator text parsed).
//!
//! The tests load them with `bpfsign_kernel_tests::load!`: on the signing kernels with the
//! certificate of key A in a fresh session keyring, on the host with the unsigned loader.

pub mod link;

pub mod perf;

pub mod maps;

pub mod config;

pub mod many;
