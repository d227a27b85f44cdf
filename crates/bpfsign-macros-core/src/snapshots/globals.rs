///Everything `include_signed_skel!` generated for `globals`; the main types are re-exported next to the macro call.
#[allow(
    dead_code,
    non_snake_case,
    non_camel_case_types,
    non_upper_case_globals,
    unused_qualifications,
    clippy::all
)]
pub mod globals_skel {
    /// 8-byte aligned bytes (loader instructions and the data blob).
    #[repr(C, align(8))]
    pub struct Aligned<const N: usize>(pub [u8; N]);
    /// Makes rustc rebuild when an input file changes; never called, holds no bytes.
    #[allow(dead_code)]
    fn __bpfsign_track_files() {
        let _ = include_bytes!("$REPO/tests/fixtures/obj/globals.bpf.o");
        let _ = include_bytes!("$REPO/tests/fixtures/keys/TEST-ONLY-key-a.pem");
    }
    /// The data blob (metadata map value), identical for every protocol.
    pub static DATA: Aligned<5912usize> = Aligned(
        *b"<5912 bytes>",
    );
    ///Loader instructions for protocol `p1` (469 insns).
    pub static INSNS_P1: Aligned<3752usize> = Aligned(
        *b"<3752 bytes>",
    );
    ///SHA-256 of the `p1` loader instructions: 797c7da7e38b6223812bbeb5e4fcbbaa05360c2066839b751fe8df3b067efe20.
    pub static EXCL_HASH_P1: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p1` payload (375 bytes).
    pub static SIG_P1: [u8; 375usize] = *b"<375 bytes>";
    ///Loader instructions for protocol `p1b` (474 insns).
    pub static INSNS_P1B: Aligned<3792usize> = Aligned(
        *b"<3792 bytes>",
    );
    ///SHA-256 of the `p1b` loader instructions: afd7240a32bb839d8e0c76f83b6e1a555ac6da6c2c7f7e390702a62f5098370e.
    pub static EXCL_HASH_P1B: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p1b` payload (375 bytes).
    pub static SIG_P1B: [u8; 375usize] = *b"<375 bytes>";
    ///Loader instructions for protocol `p2` (441 insns).
    pub static INSNS_P2: Aligned<3528usize> = Aligned(
        *b"<3528 bytes>",
    );
    ///SHA-256 of the `p2` loader instructions: 89fc016a7484ecaefccbcf1c6bd7449fd4801193a65eb46955877df5a9f72fa2.
    pub static EXCL_HASH_P2: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p2` payload (375 bytes).
    pub static SIG_P2: [u8; 375usize] = *b"<375 bytes>";
    /// The skeleton as the runtime sees it.
    pub static SPEC: ::bpfsign_runtime::SkeletonSpec<'static> = ::bpfsign_runtime::SkeletonSpec {
        name: "globals",
        data: &DATA.0,
        variants: &[
            ::bpfsign_runtime::LoaderVariant {
                protocol: ::bpfsign_runtime::Protocol::P1,
                insns: &INSNS_P1.0,
                excl_prog_hash: EXCL_HASH_P1,
                signature: ::core::option::Option::Some(&SIG_P1),
            },
            ::bpfsign_runtime::LoaderVariant {
                protocol: ::bpfsign_runtime::Protocol::P1b,
                insns: &INSNS_P1B.0,
                excl_prog_hash: EXCL_HASH_P1B,
                signature: ::core::option::Option::Some(&SIG_P1B),
            },
            ::bpfsign_runtime::LoaderVariant {
                protocol: ::bpfsign_runtime::Protocol::P2,
                insns: &INSNS_P2.0,
                excl_prog_hash: EXCL_HASH_P2,
                signature: ::core::option::Option::Some(&SIG_P2),
            },
        ],
        maps: &[
            ::bpfsign_runtime::MapSpec {
                name: "data",
                map_type: 2u32,
                key_size: 4u32,
                value_size: 25u32,
                max_entries: 1u32,
                map_flags: 1024u32,
                mmapable: true,
            },
            ::bpfsign_runtime::MapSpec {
                name: "bss",
                map_type: 2u32,
                key_size: 4u32,
                value_size: 44u32,
                max_entries: 1u32,
                map_flags: 1024u32,
                mmapable: true,
            },
            ::bpfsign_runtime::MapSpec {
                name: "rodata",
                map_type: 2u32,
                key_size: 4u32,
                value_size: 62u32,
                max_entries: 1u32,
                map_flags: 1152u32,
                mmapable: true,
            },
            ::bpfsign_runtime::MapSpec {
                name: "data_foo",
                map_type: 2u32,
                key_size: 4u32,
                value_size: 32u32,
                max_entries: 1u32,
                map_flags: 1024u32,
                mmapable: true,
            },
            ::bpfsign_runtime::MapSpec {
                name: "rodata_bar",
                map_type: 2u32,
                key_size: 4u32,
                value_size: 16u32,
                max_entries: 1u32,
                map_flags: 1152u32,
                mmapable: true,
            },
            ::bpfsign_runtime::MapSpec {
                name: "rodata_str1_1",
                map_type: 2u32,
                key_size: 4u32,
                value_size: 17u32,
                max_entries: 1u32,
                map_flags: 128u32,
                mmapable: false,
            },
        ],
        progs: &[
            ::bpfsign_runtime::ProgSpec {
                name: "touch_all",
                section: "fentry/__do_sys_getpid",
                prog_type: 26u32,
                expected_attach_type: 24u32,
                autoload: true,
                attach: ::bpfsign_runtime::AttachKind::RawTracepoint {
                    tp_name: ::core::option::Option::None,
                },
            },
        ],
        signer_skid: ::core::option::Option::Some(
            "b47dc1af906c3b717fd2649abebb975afff02a48",
        ),
    };
    /// `#[repr(C)]` layouts of the global-data sections and the C types they use.
    pub mod types {
        ///C `union number` (8 bytes).
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct number {
            ///The union's bytes.
            pub __bytes: [::core::primitive::u8; 8usize],
            #[doc(hidden)]
            pub __align: [::core::primitive::u64; 0],
        }
        impl number {
            ///Reads member `u` at byte 0.
            pub fn u(&self) -> ::core::primitive::u64 {
                unsafe {
                    self.__bytes
                        .as_ptr()
                        .cast::<::core::primitive::u64>()
                        .read_unaligned()
                }
            }
            ///Writes member `u` at byte 0 (the union's other bytes are kept).
            pub fn set_u(&mut self, value: ::core::primitive::u64) {
                unsafe {
                    self.__bytes
                        .as_mut_ptr()
                        .cast::<::core::primitive::u64>()
                        .write_unaligned(value)
                }
            }
            ///Reads member `s` at byte 0.
            pub fn s(&self) -> [::core::primitive::i32; 2usize] {
                unsafe {
                    self.__bytes
                        .as_ptr()
                        .cast::<[::core::primitive::i32; 2usize]>()
                        .read_unaligned()
                }
            }
            ///Writes member `s` at byte 0 (the union's other bytes are kept).
            pub fn set_s(&mut self, value: [::core::primitive::i32; 2usize]) {
                unsafe {
                    self.__bytes
                        .as_mut_ptr()
                        .cast::<[::core::primitive::i32; 2usize]>()
                        .write_unaligned(value)
                }
            }
        }
        impl ::core::default::Default for number {
            /// All bytes zero.
            fn default() -> Self {
                unsafe { ::core::mem::zeroed() }
            }
        }
        unsafe impl ::bpfsign_runtime::Plain for number {}
        const _: () = {
            assert!(::core::mem::size_of:: < number > () == 8usize);
            assert!(::core::mem::align_of:: < number > () == 8usize);
            assert!(::core::mem::size_of:: < ::core::primitive::u64 > () <= 8usize);
            assert!(
                ::core::mem::size_of:: < [::core::primitive::i32; 2usize] > () <= 8usize
            );
        };
        ///C `struct point` (20 bytes).
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct point {
            ///`x` at byte 0.
            pub x: ::core::primitive::i32,
            ///`y` at byte 4.
            pub y: ::core::primitive::i32,
            ///`weight` at byte 8.
            pub weight: ::core::primitive::f32,
            ///`__bitfield12` at byte 12.
            pub __bitfield12: [::core::primitive::u8; 1usize],
            ///`tag` at byte 13.
            pub tag: [::core::primitive::i8; 6usize],
            #[doc(hidden)]
            pub __pad_19: [::core::primitive::u8; 1usize],
        }
        impl ::core::default::Default for point {
            /// All bytes zero.
            fn default() -> Self {
                unsafe { ::core::mem::zeroed() }
            }
        }
        unsafe impl ::bpfsign_runtime::Plain for point {}
        const _: () = {
            assert!(::core::mem::size_of:: < point > () == 20usize);
            assert!(::core::mem::offset_of!(point, x) == 0usize);
            assert!(::core::mem::offset_of!(point, y) == 4usize);
            assert!(::core::mem::offset_of!(point, weight) == 8usize);
            assert!(::core::mem::offset_of!(point, __bitfield12) == 12usize);
            assert!(::core::mem::offset_of!(point, tag) == 13usize);
        };
        ///Layout of `.data` (25 bytes), generated from BTF.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct Data {
            ///Global `data_value` at byte 0 of `.data`.
            pub data_value: ::core::primitive::i32,
            ///Global `data_name` at byte 4 of `.data`.
            pub data_name: [::core::primitive::i8; 8usize],
            ///Global `data_colour` at byte 12 of `.data`.
            pub data_colour: ::core::primitive::u32,
            ///Global `data_number` at byte 16 of `.data`.
            pub data_number: number,
            ///Global `data_enabled` at byte 24 of `.data`.
            pub data_enabled: ::core::primitive::u8,
            #[doc(hidden)]
            pub __pad_25: [::core::primitive::u8; 7usize],
        }
        impl ::core::default::Default for Data {
            /// All bytes zero.
            fn default() -> Self {
                unsafe { ::core::mem::zeroed() }
            }
        }
        unsafe impl ::bpfsign_runtime::Plain for Data {}
        const _: () = {
            assert!(::core::mem::size_of:: < Data > () == 32usize);
            assert!(::core::mem::offset_of!(Data, data_value) == 0usize);
            assert!(::core::mem::offset_of!(Data, data_name) == 4usize);
            assert!(::core::mem::offset_of!(Data, data_colour) == 12usize);
            assert!(::core::mem::offset_of!(Data, data_number) == 16usize);
            assert!(::core::mem::offset_of!(Data, data_enabled) == 24usize);
        };
        ///Layout of `.bss` (44 bytes), generated from BTF.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct Bss {
            ///Global `data_ptr` at byte 0 of `.bss`.
            pub data_ptr: ::core::primitive::u64,
            ///Global `bss_counter` at byte 8 of `.bss`.
            pub bss_counter: ::core::primitive::u64,
            ///Global `bss_point` at byte 16 of `.bss`.
            pub bss_point: point,
            #[doc(hidden)]
            pub __pad_36: [::core::primitive::u8; 12usize],
        }
        impl ::core::default::Default for Bss {
            /// All bytes zero.
            fn default() -> Self {
                unsafe { ::core::mem::zeroed() }
            }
        }
        unsafe impl ::bpfsign_runtime::Plain for Bss {}
        const _: () = {
            assert!(::core::mem::size_of:: < Bss > () == 48usize);
            assert!(::core::mem::offset_of!(Bss, data_ptr) == 0usize);
            assert!(::core::mem::offset_of!(Bss, bss_counter) == 8usize);
            assert!(::core::mem::offset_of!(Bss, bss_point) == 16usize);
        };
        ///Layout of `.rodata` (62 bytes), generated from BTF.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct Rodata {
            ///Global `ro_limit` at byte 0 of `.rodata`.
            pub ro_limit: ::core::primitive::u32,
            ///Global `ro_origin` at byte 4 of `.rodata`.
            pub ro_origin: point,
            ///Global `ro_table` at byte 24 of `.rodata`.
            pub ro_table: [::core::primitive::i64; 4usize],
            #[doc(hidden)]
            pub __pad_56: [::core::primitive::u8; 8usize],
        }
        impl ::core::default::Default for Rodata {
            /// All bytes zero.
            fn default() -> Self {
                unsafe { ::core::mem::zeroed() }
            }
        }
        unsafe impl ::bpfsign_runtime::Plain for Rodata {}
        const _: () = {
            assert!(::core::mem::size_of:: < Rodata > () == 64usize);
            assert!(::core::mem::offset_of!(Rodata, ro_limit) == 0usize);
            assert!(::core::mem::offset_of!(Rodata, ro_origin) == 4usize);
            assert!(::core::mem::offset_of!(Rodata, ro_table) == 24usize);
        };
        ///Layout of `.data.foo` (32 bytes), generated from BTF.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct DataFoo {
            ///Global `foo_a` at byte 0 of `.data.foo`.
            pub foo_a: ::core::primitive::u32,
            #[doc(hidden)]
            pub __pad_4: [::core::primitive::u8; 4usize],
            ///Global `foo_b` at byte 8 of `.data.foo`.
            pub foo_b: [::core::primitive::u64; 3usize],
        }
        impl ::core::default::Default for DataFoo {
            /// All bytes zero.
            fn default() -> Self {
                unsafe { ::core::mem::zeroed() }
            }
        }
        unsafe impl ::bpfsign_runtime::Plain for DataFoo {}
        const _: () = {
            assert!(::core::mem::size_of:: < DataFoo > () == 32usize);
            assert!(::core::mem::offset_of!(DataFoo, foo_a) == 0usize);
            assert!(::core::mem::offset_of!(DataFoo, foo_b) == 8usize);
        };
        ///Layout of `.rodata.bar` (16 bytes), generated from BTF.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct RodataBar {
            ///Global `bar_a` at byte 0 of `.rodata.bar`.
            pub bar_a: ::core::primitive::u32,
            ///Global `bar_msg` at byte 4 of `.rodata.bar`.
            pub bar_msg: [::core::primitive::i8; 12usize],
        }
        impl ::core::default::Default for RodataBar {
            /// All bytes zero.
            fn default() -> Self {
                unsafe { ::core::mem::zeroed() }
            }
        }
        unsafe impl ::bpfsign_runtime::Plain for RodataBar {}
        const _: () = {
            assert!(::core::mem::size_of:: < RodataBar > () == 16usize);
            assert!(::core::mem::offset_of!(RodataBar, bar_a) == 0usize);
            assert!(::core::mem::offset_of!(RodataBar, bar_msg) == 4usize);
        };
    }
    /// Per-variable handles of the global-data sections (`bss_vars()`, `rodata_vars()`, …):
    /// loads and stores that are sound while the BPF programs access the same memory.
    pub mod vars {
        #[allow(unused_imports)]
        use super::types::*;
        ///Per-variable handles of `.data` (see `bpfsign_runtime::GlobalVarMut`).
        #[derive(Debug)]
        pub struct Data<'a> {
            ///`data_value` (byte 0 of `.data`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub data_value: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::i32>,
            ///`data_name` (byte 4 of `.data`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub data_name: ::bpfsign_runtime::GlobalVarMut<
                'a,
                [::core::primitive::i8; 8usize],
            >,
            ///`data_colour` (byte 12 of `.data`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub data_colour: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u32>,
            ///`data_number` (byte 16 of `.data`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub data_number: ::bpfsign_runtime::GlobalVarMut<'a, number>,
            ///`data_enabled` (byte 24 of `.data`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub data_enabled: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u8>,
            #[doc(hidden)]
            pub _skel: ::core::marker::PhantomData<&'a ()>,
        }
        ///Per-variable handles of `.bss` (see `bpfsign_runtime::GlobalVarMut`).
        #[derive(Debug)]
        pub struct Bss<'a> {
            ///`data_ptr` (byte 0 of `.bss`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub data_ptr: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u64>,
            ///`bss_counter` (byte 8 of `.bss`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub bss_counter: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u64>,
            ///`bss_point` (byte 16 of `.bss`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub bss_point: ::bpfsign_runtime::GlobalVarMut<'a, point>,
            #[doc(hidden)]
            pub _skel: ::core::marker::PhantomData<&'a ()>,
        }
        ///Per-variable handles of `.rodata` (see `bpfsign_runtime::GlobalVar`).
        #[derive(Debug)]
        pub struct Rodata<'a> {
            ///`ro_limit` (byte 0 of `.rodata`): fixed at signing; `.get()` reads it.
            pub ro_limit: ::bpfsign_runtime::GlobalVar<'a, ::core::primitive::u32>,
            ///`ro_origin` (byte 4 of `.rodata`): fixed at signing; `.get()` reads it.
            pub ro_origin: ::bpfsign_runtime::GlobalVar<'a, point>,
            ///`ro_table` (byte 24 of `.rodata`): fixed at signing; `.get()` reads it.
            pub ro_table: ::bpfsign_runtime::GlobalVar<
                'a,
                [::core::primitive::i64; 4usize],
            >,
            #[doc(hidden)]
            pub _skel: ::core::marker::PhantomData<&'a ()>,
        }
        ///Per-variable handles of `.data.foo` (see `bpfsign_runtime::GlobalVarMut`).
        #[derive(Debug)]
        pub struct DataFoo<'a> {
            ///`foo_a` (byte 0 of `.data.foo`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub foo_a: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u32>,
            ///`foo_b` (byte 8 of `.data.foo`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub foo_b: ::bpfsign_runtime::GlobalVarMut<
                'a,
                [::core::primitive::u64; 3usize],
            >,
            #[doc(hidden)]
            pub _skel: ::core::marker::PhantomData<&'a ()>,
        }
        ///Per-variable handles of `.rodata.bar` (see `bpfsign_runtime::GlobalVar`).
        #[derive(Debug)]
        pub struct RodataBar<'a> {
            ///`bar_a` (byte 0 of `.rodata.bar`): fixed at signing; `.get()` reads it.
            pub bar_a: ::bpfsign_runtime::GlobalVar<'a, ::core::primitive::u32>,
            ///`bar_msg` (byte 4 of `.rodata.bar`): fixed at signing; `.get()` reads it.
            pub bar_msg: ::bpfsign_runtime::GlobalVar<
                'a,
                [::core::primitive::i8; 12usize],
            >,
            #[doc(hidden)]
            pub _skel: ::core::marker::PhantomData<&'a ()>,
        }
    }
    /**Signed light skeleton of the BPF object `globals` (from `globals.bpf.o`, signed at build time).

Loader variants: `p1` (signed), `p1b` (signed), `p2` (signed); the runtime probes the kernel and picks one (`BPFSIGN_PROTOCOL=p1|p1b|p2` overrides; a kernel that needs another protocol fails with `ErrorKind::ProtocolNotEmbedded`). Signed by `CN=bpfsign TEST-ONLY key a (do not trust)` (rsa-2048, SKID `b47dc1af906c3b717fd2649abebb975afff02a48`).

Programs:
- `touch_all` (`SEC("fentry/__do_sys_getpid")`), attaches to BTF target `__do_sys_getpid`.

Load with [`Globals::builder()`]`.keyring(..).load()`, which returns [`LoadedGlobals`].

Initial values of global variables are fixed when the skeleton is signed: the signed loader takes them from the signed data blob and ignores any value supplied at run time. Writable globals (`.bss`, `.data`) are changed after load per variable (`bss_vars()?.x.store(v)`); `.rodata` stays as built (set it at build time with the macro's `rodata = { .. }`).*/
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Globals;
    impl Globals {
        /// Object name (`SEC` file stem) of the skeleton.
        pub const NAME: &'static str = "globals";
        /// Starts loading with default options (builtin keyring, no verifier log,
        /// protocol probed).
        pub fn builder() -> GlobalsBuilder {
            GlobalsBuilder::default()
        }
        /// The embedded skeleton description (data blob, loaders, signatures).
        pub fn spec() -> &'static ::bpfsign_runtime::SkeletonSpec<'static> {
            &SPEC
        }
    }
    /**Load-time options for [`Globals`]; only what the signature does not cover (keyring, verifier log, protocol).

Initial values of global variables are fixed when the skeleton is signed: the signed loader takes them from the signed data blob and ignores any value supplied at run time. Writable globals (`.bss`, `.data`) are changed after load per variable (`bss_vars()?.x.store(v)`); `.rodata` stays as built (set it at build time with the macro's `rodata = { .. }`).*/
    #[derive(Clone, Debug, Default)]
    pub struct GlobalsBuilder {
        options: ::bpfsign_runtime::LoadOptions,
    }
    impl GlobalsBuilder {
        /// The keyring the kernel searches for the signer's certificate.
        pub fn keyring(mut self, keyring: ::bpfsign_runtime::Keyring) -> Self {
            self.options = self.options.keyring(keyring);
            self
        }
        /// Asks for the verifier log of the loader and of the programs it loads
        /// (`VerifierLog::default()`: level 1, 64 KiB growing on demand); it is kept in
        /// load errors and in [`::bpfsign_runtime::LoadedSkeleton::verifier_log`].
        pub fn verifier_log(mut self, log: ::bpfsign_runtime::VerifierLog) -> Self {
            self.options = self.options.verifier_log(log.level, log.size);
            self
        }
        /// Forces a protocol instead of probing the kernel (`BPFSIGN_PROTOCOL` still
        /// wins).
        pub fn protocol(mut self, protocol: ::bpfsign_runtime::Protocol) -> Self {
            self.options = self.options.protocol(protocol);
            self
        }
        /// The options collected so far.
        pub fn options(&self) -> &::bpfsign_runtime::LoadOptions {
            &self.options
        }
        /// Loads the skeleton: runs the signed loader, which creates the maps and loads
        /// the programs; then maps the global data. Nothing stays loaded on error.
        pub fn load(
            self,
        ) -> ::core::result::Result<LoadedGlobals, ::bpfsign_runtime::Error> {
            let skel = ::bpfsign_runtime::load(&SPEC, &self.options)?;
            let loaded = LoadedGlobals { skel };
            loaded.check_progs()?;
            loaded.__bpfsign_maps_checked()?;
            ::core::result::Result::Ok(loaded)
        }
    }
    ///A loaded [`Globals`]: owns every map and program fd and the mmapped global data; dropping it closes them (links already made stay until they are dropped).
    #[derive(Debug)]
    pub struct LoadedGlobals {
        skel: ::bpfsign_runtime::LoadedSkeleton,
    }
    ///The programs of [`LoadedGlobals`]: fd, section and attach methods of each.
    #[derive(Clone, Copy, Debug)]
    pub struct GlobalsProgs<'a> {
        ///Program `touch_all` (`SEC("fentry/__do_sys_getpid")`).
        pub touch_all: ::bpfsign_runtime::Program<'a>,
        _skel: ::core::marker::PhantomData<&'a ()>,
    }
    impl LoadedGlobals {
        /// The skeleton's programs: fd, section and every attach method
        /// ([`::bpfsign_runtime::Program`]). `load()` checked that each loaded program
        /// has an fd.
        pub fn progs(&self) -> GlobalsProgs<'_> {
            GlobalsProgs {
                touch_all: self.skel.program_unchecked(0usize),
                _skel: ::core::marker::PhantomData,
            }
        }
        /// Run once by `load()`: every program the signed loader loads has an fd, so
        /// `progs()` needs no error path. An error means the loader did not do what the
        /// skeleton describes.
        fn check_progs(&self) -> ::core::result::Result<(), ::bpfsign_runtime::Error> {
            self.skel.program(0usize)?;
            ::core::result::Result::Ok(())
        }
    }
    ///Links made by [`LoadedGlobals::attach`], one per loaded program whose section names its target (fentry, fexit, fmod_ret, tp_btf, lsm, raw_tp, iter, kprobe, kretprobe, kprobe.multi, ksyscall, uprobe, uretprobe, uprobe.multi, tracepoint); each detaches when dropped.
    #[derive(Debug)]
    #[must_use = "dropping the links detaches every program; keep them (or call forget()) while the programs should run"]
    pub struct GlobalsLinks {
        ///Link of program `touch_all`; detaches on drop.
        pub touch_all: ::bpfsign_runtime::Link,
    }
    impl GlobalsLinks {
        /// Leaves every program attached after this process exits or drops the links.
        pub fn forget(self) {
            ::bpfsign_runtime::Link::forget(self.touch_all);
        }
    }
    impl LoadedGlobals {
        /// The protocol whose loader was used.
        pub fn protocol(&self) -> ::bpfsign_runtime::Protocol {
            self.skel.protocol()
        }
        /// The runtime's handle, for what the typed API does not cover.
        pub fn inner(&self) -> &::bpfsign_runtime::LoadedSkeleton {
            &self.skel
        }
        /// Attaches every auto-attachable program, in object order; on error the links
        /// made so far are dropped (detached).
        pub fn attach(
            &self,
        ) -> ::core::result::Result<GlobalsLinks, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(GlobalsLinks {
                touch_all: self.attach_touch_all()?,
            })
        }
        ///Attaches program `touch_all` to BTF target `__do_sys_getpid`. The link detaches when dropped (see [`::bpfsign_runtime::Link::forget`]).
        pub fn attach_touch_all(
            &self,
        ) -> ::core::result::Result<::bpfsign_runtime::Link, ::bpfsign_runtime::Error> {
            self.skel.attach_prog(0usize)
        }
        ///Per-variable handles of the `.data` globals: `.load()` and `.store(v)`, atomic (relaxed) for naturally aligned 1, 2, 4 and 8-byte values and volatile copies otherwise, so they are sound while the BPF programs access the same variables. An error means the map is not mapped as this code expects (it does not happen after a successful load of the same skeleton).
        pub fn data_vars(
            &self,
        ) -> ::core::result::Result<vars::Data<'_>, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(vars::Data {
                data_value: self.skel.global_var_mut(0usize, 0usize)?,
                data_name: self.skel.global_var_mut(0usize, 4usize)?,
                data_colour: self.skel.global_var_mut(0usize, 12usize)?,
                data_number: self.skel.global_var_mut(0usize, 16usize)?,
                data_enabled: self.skel.global_var_mut(0usize, 24usize)?,
                _skel: ::core::marker::PhantomData,
            })
        }
        ///A copy of the `.data` globals, read with volatile reads on every call: a snapshot of values the BPF programs change. Not atomic: a value the programs store meanwhile may be torn; use [`data_vars()`](Self::data_vars) for single variables.
        pub fn read_data(
            &self,
        ) -> ::core::result::Result<types::Data, ::bpfsign_runtime::Error> {
            self.skel.read_global::<types::Data>(0usize)
        }
        /**The `.data` globals by shared reference.

# Safety

The BPF programs may store to this memory at any time, and a store while the reference lives is a data race: call this only while no program that writes `.data` runs (before attaching, after detaching), and while nothing else in user space stores to it. Otherwise use [`read_data()`](Self::read_data) or [`data_vars()`](Self::data_vars).*/
        pub unsafe fn data(
            &self,
        ) -> ::core::result::Result<&types::Data, ::bpfsign_runtime::Error> {
            unsafe { self.skel.global_shared::<types::Data>(0usize) }
        }
        /**The `.data` globals by mutable reference: stores reach the BPF programs at once.

# Safety

The BPF programs may read and store this memory at any time: call this only while no program that accesses `.data` runs (before attaching, after detaching). Otherwise store single variables with [`data_vars()`](Self::data_vars).*/
        pub unsafe fn data_mut(
            &mut self,
        ) -> ::core::result::Result<&mut types::Data, ::bpfsign_runtime::Error> {
            unsafe { self.skel.global_mut::<types::Data>(0usize) }
        }
        ///Per-variable handles of the `.bss` globals: `.load()` and `.store(v)`, atomic (relaxed) for naturally aligned 1, 2, 4 and 8-byte values and volatile copies otherwise, so they are sound while the BPF programs access the same variables. An error means the map is not mapped as this code expects (it does not happen after a successful load of the same skeleton).
        pub fn bss_vars(
            &self,
        ) -> ::core::result::Result<vars::Bss<'_>, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(vars::Bss {
                data_ptr: self.skel.global_var_mut(1usize, 0usize)?,
                bss_counter: self.skel.global_var_mut(1usize, 8usize)?,
                bss_point: self.skel.global_var_mut(1usize, 16usize)?,
                _skel: ::core::marker::PhantomData,
            })
        }
        ///A copy of the `.bss` globals, read with volatile reads on every call: a snapshot of values the BPF programs change. Not atomic: a value the programs store meanwhile may be torn; use [`bss_vars()`](Self::bss_vars) for single variables.
        pub fn read_bss(
            &self,
        ) -> ::core::result::Result<types::Bss, ::bpfsign_runtime::Error> {
            self.skel.read_global::<types::Bss>(1usize)
        }
        /**The `.bss` globals by shared reference.

# Safety

The BPF programs may store to this memory at any time, and a store while the reference lives is a data race: call this only while no program that writes `.bss` runs (before attaching, after detaching), and while nothing else in user space stores to it. Otherwise use [`read_bss()`](Self::read_bss) or [`bss_vars()`](Self::bss_vars).*/
        pub unsafe fn bss(
            &self,
        ) -> ::core::result::Result<&types::Bss, ::bpfsign_runtime::Error> {
            unsafe { self.skel.global_shared::<types::Bss>(1usize) }
        }
        /**The `.bss` globals by mutable reference: stores reach the BPF programs at once.

# Safety

The BPF programs may read and store this memory at any time: call this only while no program that accesses `.bss` runs (before attaching, after detaching). Otherwise store single variables with [`bss_vars()`](Self::bss_vars).*/
        pub unsafe fn bss_mut(
            &mut self,
        ) -> ::core::result::Result<&mut types::Bss, ::bpfsign_runtime::Error> {
            unsafe { self.skel.global_mut::<types::Bss>(1usize) }
        }
        ///Per-variable handles of the `.rodata` globals: `.get()` reads a value fixed at signing. An error means the map is not mapped as this code expects (it does not happen after a successful load of the same skeleton).
        pub fn rodata_vars(
            &self,
        ) -> ::core::result::Result<vars::Rodata<'_>, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(vars::Rodata {
                ro_limit: self.skel.global_var(2usize, 0usize)?,
                ro_origin: self.skel.global_var(2usize, 4usize)?,
                ro_table: self.skel.global_var(2usize, 24usize)?,
                _skel: ::core::marker::PhantomData,
            })
        }
        ///A copy of the `.rodata` globals, read with volatile reads on every call: a snapshot of values the BPF programs change. Not atomic: a value the programs store meanwhile may be torn; use [`rodata_vars()`](Self::rodata_vars) for single variables.
        pub fn read_rodata(
            &self,
        ) -> ::core::result::Result<types::Rodata, ::bpfsign_runtime::Error> {
            self.skel.read_global::<types::Rodata>(2usize)
        }
        ///The `.rodata` globals by reference. Safe: the section is read-only for the programs (`BPF_F_RDONLY_PROG`), frozen by the signed loader after it wrote the values fixed at signing, and mapped read-only, so nothing changes the memory while the reference lives. An error means the map is not mapped as this code expects.
        pub fn rodata(
            &self,
        ) -> ::core::result::Result<&types::Rodata, ::bpfsign_runtime::Error> {
            self.skel.global::<types::Rodata>(2usize)
        }
        ///Per-variable handles of the `.data.foo` globals: `.load()` and `.store(v)`, atomic (relaxed) for naturally aligned 1, 2, 4 and 8-byte values and volatile copies otherwise, so they are sound while the BPF programs access the same variables. An error means the map is not mapped as this code expects (it does not happen after a successful load of the same skeleton).
        pub fn data_foo_vars(
            &self,
        ) -> ::core::result::Result<vars::DataFoo<'_>, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(vars::DataFoo {
                foo_a: self.skel.global_var_mut(3usize, 0usize)?,
                foo_b: self.skel.global_var_mut(3usize, 8usize)?,
                _skel: ::core::marker::PhantomData,
            })
        }
        ///A copy of the `.data.foo` globals, read with volatile reads on every call: a snapshot of values the BPF programs change. Not atomic: a value the programs store meanwhile may be torn; use [`data_foo_vars()`](Self::data_foo_vars) for single variables.
        pub fn read_data_foo(
            &self,
        ) -> ::core::result::Result<types::DataFoo, ::bpfsign_runtime::Error> {
            self.skel.read_global::<types::DataFoo>(3usize)
        }
        /**The `.data.foo` globals by shared reference.

# Safety

The BPF programs may store to this memory at any time, and a store while the reference lives is a data race: call this only while no program that writes `.data.foo` runs (before attaching, after detaching), and while nothing else in user space stores to it. Otherwise use [`read_data_foo()`](Self::read_data_foo) or [`data_foo_vars()`](Self::data_foo_vars).*/
        pub unsafe fn data_foo(
            &self,
        ) -> ::core::result::Result<&types::DataFoo, ::bpfsign_runtime::Error> {
            unsafe { self.skel.global_shared::<types::DataFoo>(3usize) }
        }
        /**The `.data.foo` globals by mutable reference: stores reach the BPF programs at once.

# Safety

The BPF programs may read and store this memory at any time: call this only while no program that accesses `.data.foo` runs (before attaching, after detaching). Otherwise store single variables with [`data_foo_vars()`](Self::data_foo_vars).*/
        pub unsafe fn data_foo_mut(
            &mut self,
        ) -> ::core::result::Result<&mut types::DataFoo, ::bpfsign_runtime::Error> {
            unsafe { self.skel.global_mut::<types::DataFoo>(3usize) }
        }
        ///Per-variable handles of the `.rodata.bar` globals: `.get()` reads a value fixed at signing. An error means the map is not mapped as this code expects (it does not happen after a successful load of the same skeleton).
        pub fn rodata_bar_vars(
            &self,
        ) -> ::core::result::Result<vars::RodataBar<'_>, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(vars::RodataBar {
                bar_a: self.skel.global_var(4usize, 0usize)?,
                bar_msg: self.skel.global_var(4usize, 4usize)?,
                _skel: ::core::marker::PhantomData,
            })
        }
        ///A copy of the `.rodata.bar` globals, read with volatile reads on every call: a snapshot of values the BPF programs change. Not atomic: a value the programs store meanwhile may be torn; use [`rodata_bar_vars()`](Self::rodata_bar_vars) for single variables.
        pub fn read_rodata_bar(
            &self,
        ) -> ::core::result::Result<types::RodataBar, ::bpfsign_runtime::Error> {
            self.skel.read_global::<types::RodataBar>(4usize)
        }
        ///The `.rodata.bar` globals by reference. Safe: the section is read-only for the programs (`BPF_F_RDONLY_PROG`), frozen by the signed loader after it wrote the values fixed at signing, and mapped read-only, so nothing changes the memory while the reference lives. An error means the map is not mapped as this code expects.
        pub fn rodata_bar(
            &self,
        ) -> ::core::result::Result<&types::RodataBar, ::bpfsign_runtime::Error> {
            self.skel.global::<types::RodataBar>(4usize)
        }
    }
    ///Typed handles on the maps of [`LoadedGlobals`] (`HashMap`, `RingBuf`, …; `Map` for data maps).
    #[derive(Clone, Copy, Debug)]
    pub struct GlobalsMaps<'a> {
        ///Map `data` (kernel name `globals.data`).
        pub data: ::bpfsign_runtime::Map<'a>,
        ///Map `bss` (kernel name `globals.bss`).
        pub bss: ::bpfsign_runtime::Map<'a>,
        ///Map `rodata` (kernel name `globals.rodata`).
        pub rodata: ::bpfsign_runtime::Map<'a>,
        ///Map `data_foo` (kernel name `.data.foo`).
        pub data_foo: ::bpfsign_runtime::Map<'a>,
        ///Map `rodata_bar` (kernel name `.rodata.bar`).
        pub rodata_bar: ::bpfsign_runtime::Map<'a>,
        ///Map `rodata_str1_1` (kernel name `.rodata.str1.1`).
        pub rodata_str1_1: ::bpfsign_runtime::Map<'a>,
        _skel: ::core::marker::PhantomData<&'a ()>,
    }
    impl LoadedGlobals {
        /// Typed handles on the maps. `load()` checked them against the loaded
        /// skeleton (map types, key and value sizes), so this needs no `Result`.
        pub fn maps(&self) -> GlobalsMaps<'_> {
            GlobalsMaps {
                data: self.skel.__checked_map(0usize),
                bss: self.skel.__checked_map(1usize),
                rodata: self.skel.__checked_map(2usize),
                data_foo: self.skel.__checked_map(3usize),
                rodata_bar: self.skel.__checked_map(4usize),
                rodata_str1_1: self.skel.__checked_map(5usize),
                _skel: ::core::marker::PhantomData,
            }
        }
        /// Makes every map handle with its checks; `load()` calls it once.
        #[doc(hidden)]
        pub fn __bpfsign_maps_checked(
            &self,
        ) -> ::core::result::Result<(), ::bpfsign_runtime::Error> {
            self.skel.map(0usize)?;
            self.skel.map(1usize)?;
            self.skel.map(2usize)?;
            self.skel.map(3usize)?;
            self.skel.map(4usize)?;
            self.skel.map(5usize)?;
            ::core::result::Result::Ok(())
        }
    }
}
pub use globals_skel::{
    Globals, GlobalsBuilder, LoadedGlobals, GlobalsProgs, GlobalsMaps, GlobalsLinks,
};
