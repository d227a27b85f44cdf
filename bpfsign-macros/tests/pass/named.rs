// `name = ...` renames every generated type; the object is found relative to the manifest
// dir through concat!/env!.
bpfsign_macros::include_signed_skel!(
    concat!(env!("BPFSIGN_FIXTURES"), "/obj/hello.bpf.o"),
    key = concat!(env!("BPFSIGN_FIXTURES"), "/keys/TEST-ONLY-key-a.pem"),
    name = "Greeter",
);

fn main() {
    assert_eq!(Greeter::spec().name, "hello");
    let _: fn(GreeterBuilder) -> Result<LoadedGreeter, bpfsign_runtime::Error> = GreeterBuilder::load;
    type R<T> = Result<T, bpfsign_runtime::Error>;
    let _: fn(&mut LoadedGreeter) -> R<&mut greeter_skel::types::Bss> = LoadedGreeter::bss_mut;
    let _: fn(&LoadedGreeter) -> R<greeter_skel::types::Bss> = LoadedGreeter::read_bss;
    let _: fn(&LoadedGreeter) -> GreeterProgs<'_> = LoadedGreeter::progs;
    let _: fn(&LoadedGreeter) -> GreeterMaps<'_> = LoadedGreeter::maps;
}
