//! The expansion is warning-free and fully documented in a strict crate.
#![deny(warnings, missing_docs, unreachable_pub, clippy::all)]
// Signed with the TEST-ONLY key: bpfsign's build warning for it (a `deprecated` lint warning)
// is expected here and allowed knowingly; everything else must be warning-free.
#![allow(deprecated)]
// The richer fixture compiles (layout assertions included) and exposes the expected API.
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/globals.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
);

use globals_skel::types;

fn main() {
    let spec = Globals::spec();
    assert_eq!(spec.name, "globals");
    assert_eq!(Globals::NAME, "globals");
    let signed: Vec<_> = spec.variants.iter().filter(|v| v.signature.is_some()).map(|v| v.protocol).collect();
    assert_eq!(
        signed,
        [bpfsign_runtime::Protocol::P1, bpfsign_runtime::Protocol::P1b, bpfsign_runtime::Protocol::P2]
    );
    assert_eq!(spec.signer_skid, Some("b47dc1af906c3b717fd2649abebb975afff02a48"));
    // Field types and offsets follow the C layout.
    assert_eq!(core::mem::offset_of!(types::Bss, bss_point), 16);
    assert_eq!(core::mem::offset_of!(types::point, tag), 13);
    let p = types::point { x: 1, y: 2, ..Default::default() };
    let bss = types::Bss { bss_counter: 7, bss_point: p, ..Default::default() };
    assert_eq!(bss.bss_point.x, 1);
    assert_eq!(core::mem::size_of::<types::Data>(), 32); // 25-byte section, rounded to its alignment
    assert_eq!(p.y, 2);
    // Views of the mmapped sections: safe references to the frozen read-only sections,
    // `unsafe` references to the writable ones (a program's store would race with them),
    // volatile copies, and per-variable handles; every accessor reports a mismatch as an
    // error instead of panicking.
    type R<T> = Result<T, bpfsign_runtime::Error>;
    let _: fn(&LoadedGlobals) -> R<&types::Rodata> = LoadedGlobals::rodata;
    let _: fn(&LoadedGlobals) -> R<types::Rodata> = LoadedGlobals::read_rodata;
    let _: unsafe fn(&LoadedGlobals) -> R<&types::Bss> = LoadedGlobals::bss;
    let _: fn(&LoadedGlobals) -> R<types::Bss> = LoadedGlobals::read_bss;
    let _: unsafe fn(&mut LoadedGlobals) -> R<&mut types::Bss> = LoadedGlobals::bss_mut;
    let _: unsafe fn(&mut LoadedGlobals) -> R<&mut types::Data> = LoadedGlobals::data_mut;
    let _: unsafe fn(&mut LoadedGlobals) -> R<&mut types::DataFoo> = LoadedGlobals::data_foo_mut;
    let _: fn(&LoadedGlobals) -> R<&types::RodataBar> = LoadedGlobals::rodata_bar;
    // Per-variable handles: atomic loads/stores of aligned integers, volatile copies of the
    // rest, plain reads of the frozen .rodata.
    fn per_variable(skel: &LoadedGlobals) -> R<(u64, u32, types::point)> {
        let bss = skel.bss_vars()?;
        bss.bss_counter.store(bss.bss_counter.load() + 1);
        let _: &bpfsign_runtime::GlobalVarMut<'_, types::point> = &bss.bss_point;
        let data = skel.data_vars()?;
        data.data_name.store([0; 8]);
        let ro = skel.rodata_vars()?;
        let _: bpfsign_runtime::GlobalVar<'_, u32> = ro.ro_limit;
        Ok((bss.bss_counter.load(), ro.ro_limit.get(), bss.bss_point.load()))
    }
    let _ = per_variable;
    let _: fn(&LoadedGlobals) -> GlobalsProgs<'_> = LoadedGlobals::progs;
    let _: fn(&LoadedGlobals) -> GlobalsMaps<'_> = LoadedGlobals::maps;
    // The layouts are plain data the runtime can view over map memory, and copies.
    fn plain<T: bpfsign_runtime::Plain + core::fmt::Debug + PartialEq>() {}
    plain::<types::Bss>();
    plain::<types::Data>();
    plain::<types::point>();
    plain::<types::number>();
    let copy = bss;
    assert_eq!(copy.bss_counter, bss.bss_counter);
    let _: fn(&LoadedGlobals) -> Result<GlobalsLinks, bpfsign_runtime::Error> = LoadedGlobals::attach;
    let _ = GlobalsBuilder::default().keyring(bpfsign_runtime::Keyring::Session).protocol(bpfsign_runtime::Protocol::P2);
}
