//! Compile-fail tests of `include_signed_skel!` (trybuild): every error says what to do.
//! Run with `TRYBUILD=overwrite` to bless changed messages.
//!
//! The test files name inputs through `env!("BPFSIGN_FIXTURES")` (the repository's
//! tests/fixtures), set here for the compiler that trybuild runs.

fn set_env() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
    let fixtures = std::fs::canonicalize(fixtures).expect("tests/fixtures exists");
    std::env::set_var("BPFSIGN_FIXTURES", fixtures);
    std::env::remove_var("BPFSIGN_UI_SURELY_UNSET_KEY");
}

#[test]
fn ui() {
    set_env();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
