///Everything `include_signed_skel!` generated for `maps`; the main types are re-exported next to the macro call.
#[allow(
    dead_code,
    non_snake_case,
    non_camel_case_types,
    non_upper_case_globals,
    unused_qualifications,
    clippy::all
)]
pub mod maps_skel {
    /// 8-byte aligned bytes (loader instructions and the data blob).
    #[repr(C, align(8))]
    pub struct Aligned<const N: usize>(pub [u8; N]);
    /// Makes rustc rebuild when an input file changes; never called, holds no bytes.
    #[allow(dead_code)]
    fn __bpfsign_track_files() {
        let _ = include_bytes!("$REPO/tests/fixtures/obj/maps.bpf.o");
        let _ = include_bytes!("$REPO/tests/fixtures/keys/TEST-ONLY-key-a.pem");
    }
    /// The data blob (metadata map value), identical for every protocol.
    pub static DATA: Aligned<6408usize> = Aligned(
        *b"<6408 bytes>",
    );
    ///Loader instructions for protocol `p1` (321 insns).
    pub static INSNS_P1: Aligned<2568usize> = Aligned(
        *b"<2568 bytes>",
    );
    ///SHA-256 of the `p1` loader instructions: cfde54220508114a4a1daffaa9cab38b37885231a9d4b09850003f5b124084be.
    pub static EXCL_HASH_P1: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p1` payload (375 bytes).
    pub static SIG_P1: [u8; 375usize] = *b"<375 bytes>";
    ///Loader instructions for protocol `p1b` (326 insns).
    pub static INSNS_P1B: Aligned<2608usize> = Aligned(
        *b"<2608 bytes>",
    );
    ///SHA-256 of the `p1b` loader instructions: 43131d672880b94548be094471014b31c6846a0ecccd3f8cf6f778fe9a1a7ab9.
    pub static EXCL_HASH_P1B: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p1b` payload (375 bytes).
    pub static SIG_P1B: [u8; 375usize] = *b"<375 bytes>";
    ///Loader instructions for protocol `p2` (293 insns).
    pub static INSNS_P2: Aligned<2344usize> = Aligned(
        *b"<2344 bytes>",
    );
    ///SHA-256 of the `p2` loader instructions: 51d65ebf9e38062ce2c3629c4c83bc85fa1317ab374ed2aa8c85178d1ea1518f.
    pub static EXCL_HASH_P2: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p2` payload (375 bytes).
    pub static SIG_P2: [u8; 375usize] = *b"<375 bytes>";
    /// The skeleton as the runtime sees it.
    pub static SPEC: ::bpfsign_runtime::SkeletonSpec<'static> = ::bpfsign_runtime::SkeletonSpec {
        name: "maps",
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
                name: "pid_counts",
                map_type: 1u32,
                key_size: 4u32,
                value_size: 8u32,
                max_entries: 1024u32,
                map_flags: 0u32,
                mmapable: false,
            },
            ::bpfsign_runtime::MapSpec {
                name: "sparse",
                map_type: 1u32,
                key_size: 8u32,
                value_size: 16u32,
                max_entries: 256u32,
                map_flags: 1u32,
                mmapable: false,
            },
            ::bpfsign_runtime::MapSpec {
                name: "slots",
                map_type: 2u32,
                key_size: 4u32,
                value_size: 8u32,
                max_entries: 16u32,
                map_flags: 0u32,
                mmapable: false,
            },
            ::bpfsign_runtime::MapSpec {
                name: "scratch",
                map_type: 6u32,
                key_size: 4u32,
                value_size: 16u32,
                max_entries: 4u32,
                map_flags: 0u32,
                mmapable: false,
            },
            ::bpfsign_runtime::MapSpec {
                name: "cpu_counts",
                map_type: 5u32,
                key_size: 4u32,
                value_size: 8u32,
                max_entries: 128u32,
                map_flags: 0u32,
                mmapable: false,
            },
            ::bpfsign_runtime::MapSpec {
                name: "recent",
                map_type: 9u32,
                key_size: 4u32,
                value_size: 8u32,
                max_entries: 512u32,
                map_flags: 0u32,
                mmapable: false,
            },
            ::bpfsign_runtime::MapSpec {
                name: "recent_cpu",
                map_type: 10u32,
                key_size: 4u32,
                value_size: 4u32,
                max_entries: 64u32,
                map_flags: 0u32,
                mmapable: false,
            },
            ::bpfsign_runtime::MapSpec {
                name: "events",
                map_type: 27u32,
                key_size: 0u32,
                value_size: 0u32,
                max_entries: 16384u32,
                map_flags: 0u32,
                mmapable: false,
            },
        ],
        progs: &[
            ::bpfsign_runtime::ProgSpec {
                name: "nanosleep_probe",
                section: "kprobe/do_nanosleep",
                prog_type: 2u32,
                expected_attach_type: 0u32,
                autoload: true,
                attach: ::bpfsign_runtime::AttachKind::Kprobe {
                    func: "do_nanosleep",
                    offset: 0u64,
                    retprobe: false,
                },
            },
        ],
        signer_skid: ::core::option::Option::Some(
            "b47dc1af906c3b717fd2649abebb975afff02a48",
        ),
    };
    /// `#[repr(C)]` layouts of the global-data sections and the C types they use.
    pub mod types {
        ///The C type of the key of map `pid_counts` (4 bytes).
        pub type PidCountsKey = ::core::primitive::u32;
        ///The C type of the value of map `pid_counts` (8 bytes).
        pub type PidCountsValue = ::core::primitive::u64;
        ///The C type of the key of map `sparse` (8 bytes).
        pub type SparseKey = ::core::primitive::u64;
        ///C `struct event` (16 bytes).
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct event {
            ///`pid` at byte 0.
            pub pid: ::core::primitive::u32,
            ///`cpu` at byte 4.
            pub cpu: ::core::primitive::u32,
            ///`ts` at byte 8.
            pub ts: ::core::primitive::u64,
        }
        impl ::core::default::Default for event {
            /// All bytes zero.
            fn default() -> Self {
                unsafe { ::core::mem::zeroed() }
            }
        }
        unsafe impl ::bpfsign_runtime::Plain for event {}
        const _: () = {
            assert!(::core::mem::size_of:: < event > () == 16usize);
            assert!(::core::mem::offset_of!(event, pid) == 0usize);
            assert!(::core::mem::offset_of!(event, cpu) == 4usize);
            assert!(::core::mem::offset_of!(event, ts) == 8usize);
        };
        ///The C type of the value of map `sparse` (16 bytes).
        pub type SparseValue = event;
        ///The C type of the key of map `slots` (4 bytes).
        pub type SlotsKey = ::core::primitive::u32;
        ///The C type of the value of map `slots` (8 bytes).
        pub type SlotsValue = ::core::primitive::u64;
        ///The C type of the key of map `scratch` (4 bytes).
        pub type ScratchKey = ::core::primitive::u32;
        ///The C type of the value of map `scratch` (16 bytes).
        pub type ScratchValue = event;
        ///The C type of the key of map `cpu_counts` (4 bytes).
        pub type CpuCountsKey = ::core::primitive::u32;
        ///The C type of the value of map `cpu_counts` (8 bytes).
        pub type CpuCountsValue = ::core::primitive::u64;
        ///The C type of the key of map `recent` (4 bytes).
        pub type RecentKey = ::core::primitive::u32;
        ///The C type of the value of map `recent` (8 bytes).
        pub type RecentValue = ::core::primitive::u64;
        ///The C type of the key of map `recent_cpu` (4 bytes).
        pub type RecentCpuKey = ::core::primitive::u32;
        ///The C type of the value of map `recent_cpu` (4 bytes).
        pub type RecentCpuValue = ::core::primitive::u32;
    }
    /// Per-variable handles of the global-data sections (`bss_vars()`, `rodata_vars()`, …):
    /// loads and stores that are sound while the BPF programs access the same memory.
    pub mod vars {
        #[allow(unused_imports)]
        use super::types::*;
    }
    /**Signed light skeleton of the BPF object `maps` (from `maps.bpf.o`, signed at build time).

Loader variants: `p1` (signed), `p1b` (signed), `p2` (signed); the runtime probes the kernel and picks one (`BPFSIGN_PROTOCOL=p1|p1b|p2` overrides; a kernel that needs another protocol fails with `ErrorKind::ProtocolNotEmbedded`). Signed by `CN=bpfsign TEST-ONLY key a (do not trust)` (rsa-2048, SKID `b47dc1af906c3b717fd2649abebb975afff02a48`).

Programs:
- `nanosleep_probe` (`SEC("kprobe/do_nanosleep")`), attaches to kernel function `do_nanosleep` (kprobe).

Load with [`Maps::builder()`]`.keyring(..).load()`, which returns [`LoadedMaps`].

Initial values of global variables are fixed when the skeleton is signed: the signed loader takes them from the signed data blob and ignores any value supplied at run time. Writable globals (`.bss`, `.data`) are changed after load per variable (`bss_vars()?.x.store(v)`); `.rodata` stays as built (set it at build time with the macro's `rodata = { .. }`).*/
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Maps;
    impl Maps {
        /// Object name (`SEC` file stem) of the skeleton.
        pub const NAME: &'static str = "maps";
        /// Starts loading with default options (builtin keyring, no verifier log,
        /// protocol probed).
        pub fn builder() -> MapsBuilder {
            MapsBuilder::default()
        }
        /// The embedded skeleton description (data blob, loaders, signatures).
        pub fn spec() -> &'static ::bpfsign_runtime::SkeletonSpec<'static> {
            &SPEC
        }
    }
    /**Load-time options for [`Maps`]; only what the signature does not cover (keyring, verifier log, protocol).

Initial values of global variables are fixed when the skeleton is signed: the signed loader takes them from the signed data blob and ignores any value supplied at run time. Writable globals (`.bss`, `.data`) are changed after load per variable (`bss_vars()?.x.store(v)`); `.rodata` stays as built (set it at build time with the macro's `rodata = { .. }`).*/
    #[derive(Clone, Debug, Default)]
    pub struct MapsBuilder {
        options: ::bpfsign_runtime::LoadOptions,
    }
    impl MapsBuilder {
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
        ) -> ::core::result::Result<LoadedMaps, ::bpfsign_runtime::Error> {
            let skel = ::bpfsign_runtime::load(&SPEC, &self.options)?;
            let loaded = LoadedMaps { skel };
            loaded.check_progs()?;
            loaded.__bpfsign_maps_checked()?;
            ::core::result::Result::Ok(loaded)
        }
    }
    ///A loaded [`Maps`]: owns every map and program fd and the mmapped global data; dropping it closes them (links already made stay until they are dropped).
    #[derive(Debug)]
    pub struct LoadedMaps {
        skel: ::bpfsign_runtime::LoadedSkeleton,
    }
    ///The programs of [`LoadedMaps`]: fd, section and attach methods of each.
    #[derive(Clone, Copy, Debug)]
    pub struct MapsProgs<'a> {
        ///Program `nanosleep_probe` (`SEC("kprobe/do_nanosleep")`).
        pub nanosleep_probe: ::bpfsign_runtime::Program<'a>,
        _skel: ::core::marker::PhantomData<&'a ()>,
    }
    impl LoadedMaps {
        /// The skeleton's programs: fd, section and every attach method
        /// ([`::bpfsign_runtime::Program`]). `load()` checked that each loaded program
        /// has an fd.
        pub fn progs(&self) -> MapsProgs<'_> {
            MapsProgs {
                nanosleep_probe: self.skel.program_unchecked(0usize),
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
    ///Links made by [`LoadedMaps::attach`], one per loaded program whose section names its target (fentry, fexit, fmod_ret, tp_btf, lsm, raw_tp, iter, kprobe, kretprobe, kprobe.multi, ksyscall, uprobe, uretprobe, uprobe.multi, tracepoint); each detaches when dropped.
    #[derive(Debug)]
    #[must_use = "dropping the links detaches every program; keep them (or call forget()) while the programs should run"]
    pub struct MapsLinks {
        ///Link of program `nanosleep_probe`; detaches on drop.
        pub nanosleep_probe: ::bpfsign_runtime::Link,
    }
    impl MapsLinks {
        /// Leaves every program attached after this process exits or drops the links.
        pub fn forget(self) {
            ::bpfsign_runtime::Link::forget(self.nanosleep_probe);
        }
    }
    impl LoadedMaps {
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
        ) -> ::core::result::Result<MapsLinks, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(MapsLinks {
                nanosleep_probe: self.attach_nanosleep_probe()?,
            })
        }
        ///Attaches program `nanosleep_probe` to kernel function `do_nanosleep` (kprobe). The link detaches when dropped (see [`::bpfsign_runtime::Link::forget`]).
        pub fn attach_nanosleep_probe(
            &self,
        ) -> ::core::result::Result<::bpfsign_runtime::Link, ::bpfsign_runtime::Error> {
            self.skel.attach_prog(0usize)
        }
    }
    ///Typed handles on the maps of [`LoadedMaps`] (`HashMap`, `RingBuf`, …; `Map` for data maps).
    #[derive(Clone, Copy, Debug)]
    pub struct MapsMaps<'a> {
        ///Map `pid_counts` (kernel name `pid_counts`).
        pub pid_counts: ::bpfsign_runtime::HashMap<
            'a,
            types::PidCountsKey,
            types::PidCountsValue,
        >,
        ///Map `sparse` (kernel name `sparse`).
        pub sparse: ::bpfsign_runtime::HashMap<'a, types::SparseKey, types::SparseValue>,
        ///Map `slots` (kernel name `slots`).
        pub slots: ::bpfsign_runtime::HashMap<'a, types::SlotsKey, types::SlotsValue>,
        ///Map `scratch` (kernel name `scratch`).
        pub scratch: ::bpfsign_runtime::PerCpuMap<
            'a,
            types::ScratchKey,
            types::ScratchValue,
        >,
        ///Map `cpu_counts` (kernel name `cpu_counts`).
        pub cpu_counts: ::bpfsign_runtime::PerCpuMap<
            'a,
            types::CpuCountsKey,
            types::CpuCountsValue,
        >,
        ///Map `recent` (kernel name `recent`).
        pub recent: ::bpfsign_runtime::HashMap<'a, types::RecentKey, types::RecentValue>,
        ///Map `recent_cpu` (kernel name `recent_cpu`).
        pub recent_cpu: ::bpfsign_runtime::PerCpuMap<
            'a,
            types::RecentCpuKey,
            types::RecentCpuValue,
        >,
        ///Map `events` (kernel name `events`).
        pub events: ::bpfsign_runtime::RingBuf<'a>,
        _skel: ::core::marker::PhantomData<&'a ()>,
    }
    impl LoadedMaps {
        /// Typed handles on the maps. `load()` checked them against the loaded
        /// skeleton (map types, key and value sizes), so this needs no `Result`.
        pub fn maps(&self) -> MapsMaps<'_> {
            MapsMaps {
                pid_counts: ::bpfsign_runtime::HashMap::<
                    types::PidCountsKey,
                    types::PidCountsValue,
                >::__checked(self.skel.__checked_map(0usize)),
                sparse: ::bpfsign_runtime::HashMap::<
                    types::SparseKey,
                    types::SparseValue,
                >::__checked(self.skel.__checked_map(1usize)),
                slots: ::bpfsign_runtime::HashMap::<
                    types::SlotsKey,
                    types::SlotsValue,
                >::__checked(self.skel.__checked_map(2usize)),
                scratch: ::bpfsign_runtime::PerCpuMap::<
                    types::ScratchKey,
                    types::ScratchValue,
                >::__checked(self.skel.__checked_map(3usize)),
                cpu_counts: ::bpfsign_runtime::PerCpuMap::<
                    types::CpuCountsKey,
                    types::CpuCountsValue,
                >::__checked(self.skel.__checked_map(4usize)),
                recent: ::bpfsign_runtime::HashMap::<
                    types::RecentKey,
                    types::RecentValue,
                >::__checked(self.skel.__checked_map(5usize)),
                recent_cpu: ::bpfsign_runtime::PerCpuMap::<
                    types::RecentCpuKey,
                    types::RecentCpuValue,
                >::__checked(self.skel.__checked_map(6usize)),
                events: ::bpfsign_runtime::RingBuf::__checked(
                    self.skel.__checked_map(7usize),
                ),
                _skel: ::core::marker::PhantomData,
            }
        }
        /// Makes every map handle with its checks; `load()` calls it once.
        #[doc(hidden)]
        pub fn __bpfsign_maps_checked(
            &self,
        ) -> ::core::result::Result<(), ::bpfsign_runtime::Error> {
            ::bpfsign_runtime::HashMap::<
                types::PidCountsKey,
                types::PidCountsValue,
            >::new(self.skel.map(0usize)?)?;
            ::bpfsign_runtime::HashMap::<
                types::SparseKey,
                types::SparseValue,
            >::new(self.skel.map(1usize)?)?;
            ::bpfsign_runtime::HashMap::<
                types::SlotsKey,
                types::SlotsValue,
            >::new(self.skel.map(2usize)?)?;
            ::bpfsign_runtime::PerCpuMap::<
                types::ScratchKey,
                types::ScratchValue,
            >::new(self.skel.map(3usize)?)?;
            ::bpfsign_runtime::PerCpuMap::<
                types::CpuCountsKey,
                types::CpuCountsValue,
            >::new(self.skel.map(4usize)?)?;
            ::bpfsign_runtime::HashMap::<
                types::RecentKey,
                types::RecentValue,
            >::new(self.skel.map(5usize)?)?;
            ::bpfsign_runtime::PerCpuMap::<
                types::RecentCpuKey,
                types::RecentCpuValue,
            >::new(self.skel.map(6usize)?)?;
            ::bpfsign_runtime::RingBuf::new(self.skel.map(7usize)?)?;
            ::core::result::Result::Ok(())
        }
    }
}
pub use maps_skel::{Maps, MapsBuilder, LoadedMaps, MapsProgs, MapsMaps, MapsLinks};
