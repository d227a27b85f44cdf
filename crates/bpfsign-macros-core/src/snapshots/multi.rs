///Everything `include_signed_skel!` generated for `multi`; the main types are re-exported next to the macro call.
#[allow(
    dead_code,
    non_snake_case,
    non_camel_case_types,
    non_upper_case_globals,
    unused_qualifications,
    clippy::all
)]
pub mod multi_skel {
    /// 8-byte aligned bytes (loader instructions and the data blob).
    #[repr(C, align(8))]
    pub struct Aligned<const N: usize>(pub [u8; N]);
    /// Makes rustc rebuild when an input file changes; never called, holds no bytes.
    #[allow(dead_code)]
    fn __bpfsign_track_files() {
        let _ = include_bytes!("$REPO/tests/fixtures/obj/multi.bpf.o");
        let _ = include_bytes!("$REPO/tests/fixtures/keys/TEST-ONLY-key-a.pem");
    }
    /// The data blob (metadata map value), identical for every protocol.
    pub static DATA: Aligned<4696usize> = Aligned(
        *b"<4696 bytes>",
    );
    ///Loader instructions for protocol `p1` (554 insns).
    pub static INSNS_P1: Aligned<4432usize> = Aligned(
        *b"<4432 bytes>",
    );
    ///SHA-256 of the `p1` loader instructions: 9c743acacf309ed39604f9dd17f529ad4288ba573646e6a10b381b2f967413ee.
    pub static EXCL_HASH_P1: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p1` payload (375 bytes).
    pub static SIG_P1: [u8; 375usize] = *b"<375 bytes>";
    ///Loader instructions for protocol `p1b` (559 insns).
    pub static INSNS_P1B: Aligned<4472usize> = Aligned(
        *b"<4472 bytes>",
    );
    ///SHA-256 of the `p1b` loader instructions: 2edbf2b87793104a433f398efe5a854acf170ad8276fa74408b441586ee80da5.
    pub static EXCL_HASH_P1B: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p1b` payload (375 bytes).
    pub static SIG_P1B: [u8; 375usize] = *b"<375 bytes>";
    ///Loader instructions for protocol `p2` (526 insns).
    pub static INSNS_P2: Aligned<4208usize> = Aligned(
        *b"<4208 bytes>",
    );
    ///SHA-256 of the `p2` loader instructions: ddbf10b7fb852ca3a56f528d21f367b4b237776430388b59d6320b9d9f8105e6.
    pub static EXCL_HASH_P2: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p2` payload (375 bytes).
    pub static SIG_P2: [u8; 375usize] = *b"<375 bytes>";
    /// The skeleton as the runtime sees it.
    pub static SPEC: ::bpfsign_runtime::SkeletonSpec<'static> = ::bpfsign_runtime::SkeletonSpec {
        name: "multi",
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
                name: "bss",
                map_type: 2u32,
                key_size: 4u32,
                value_size: 56u32,
                max_entries: 1u32,
                map_flags: 1024u32,
                mmapable: true,
            },
        ],
        progs: &[
            ::bpfsign_runtime::ProgSpec {
                name: "getpid_entry",
                section: "fentry/__do_sys_getpid",
                prog_type: 26u32,
                expected_attach_type: 24u32,
                autoload: true,
                attach: ::bpfsign_runtime::AttachKind::RawTracepoint {
                    tp_name: ::core::option::Option::None,
                },
            },
            ::bpfsign_runtime::ProgSpec {
                name: "getpid_exit",
                section: "fexit/__do_sys_getpid",
                prog_type: 26u32,
                expected_attach_type: 25u32,
                autoload: true,
                attach: ::bpfsign_runtime::AttachKind::RawTracepoint {
                    tp_name: ::core::option::Option::None,
                },
            },
            ::bpfsign_runtime::ProgSpec {
                name: "nanosleep_entry",
                section: "fentry/do_nanosleep",
                prog_type: 26u32,
                expected_attach_type: 24u32,
                autoload: true,
                attach: ::bpfsign_runtime::AttachKind::RawTracepoint {
                    tp_name: ::core::option::Option::None,
                },
            },
            ::bpfsign_runtime::ProgSpec {
                name: "raw_sys_enter",
                section: "raw_tp/sys_enter",
                prog_type: 17u32,
                expected_attach_type: 0u32,
                autoload: true,
                attach: ::bpfsign_runtime::AttachKind::RawTracepoint {
                    tp_name: ::core::option::Option::Some("sys_enter"),
                },
            },
            ::bpfsign_runtime::ProgSpec {
                name: "on_switch",
                section: "tp_btf/sched_switch",
                prog_type: 26u32,
                expected_attach_type: 23u32,
                autoload: true,
                attach: ::bpfsign_runtime::AttachKind::RawTracepoint {
                    tp_name: ::core::option::Option::None,
                },
            },
            ::bpfsign_runtime::ProgSpec {
                name: "raw_sys_exit",
                section: "raw_tracepoint/sys_exit",
                prog_type: 17u32,
                expected_attach_type: 0u32,
                autoload: true,
                attach: ::bpfsign_runtime::AttachKind::RawTracepoint {
                    tp_name: ::core::option::Option::Some("sys_exit"),
                },
            },
            ::bpfsign_runtime::ProgSpec {
                name: "getppid_optional",
                section: "fentry/__do_sys_getppid",
                prog_type: 26u32,
                expected_attach_type: 24u32,
                autoload: false,
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
        ///Layout of `.bss` (56 bytes), generated from BTF.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct Bss {
            ///Global `sys_enters` at byte 0 of `.bss`.
            pub sys_enters: ::core::primitive::u64,
            ///Global `entries` at byte 8 of `.bss`.
            pub entries: ::core::primitive::u64,
            ///Global `exits` at byte 16 of `.bss`.
            pub exits: ::core::primitive::u64,
            ///Global `last_ret` at byte 24 of `.bss`.
            pub last_ret: ::core::primitive::u64,
            ///Global `switches` at byte 32 of `.bss`.
            pub switches: ::core::primitive::u64,
            ///Global `nanosleeps` at byte 40 of `.bss`.
            pub nanosleeps: ::core::primitive::u64,
            ///Global `never` at byte 48 of `.bss`.
            pub never: ::core::primitive::u64,
        }
        impl ::core::default::Default for Bss {
            /// All bytes zero.
            fn default() -> Self {
                unsafe { ::core::mem::zeroed() }
            }
        }
        unsafe impl ::bpfsign_runtime::Plain for Bss {}
        const _: () = {
            assert!(::core::mem::size_of:: < Bss > () == 56usize);
            assert!(::core::mem::offset_of!(Bss, sys_enters) == 0usize);
            assert!(::core::mem::offset_of!(Bss, entries) == 8usize);
            assert!(::core::mem::offset_of!(Bss, exits) == 16usize);
            assert!(::core::mem::offset_of!(Bss, last_ret) == 24usize);
            assert!(::core::mem::offset_of!(Bss, switches) == 32usize);
            assert!(::core::mem::offset_of!(Bss, nanosleeps) == 40usize);
            assert!(::core::mem::offset_of!(Bss, never) == 48usize);
        };
    }
    /// Per-variable handles of the global-data sections (`bss_vars()`, `rodata_vars()`, …):
    /// loads and stores that are sound while the BPF programs access the same memory.
    pub mod vars {
        #[allow(unused_imports)]
        use super::types::*;
        ///Per-variable handles of `.bss` (see `bpfsign_runtime::GlobalVarMut`).
        #[derive(Debug)]
        pub struct Bss<'a> {
            ///`sys_enters` (byte 0 of `.bss`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub sys_enters: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u64>,
            ///`entries` (byte 8 of `.bss`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub entries: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u64>,
            ///`exits` (byte 16 of `.bss`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub exits: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u64>,
            ///`last_ret` (byte 24 of `.bss`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub last_ret: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u64>,
            ///`switches` (byte 32 of `.bss`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub switches: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u64>,
            ///`nanosleeps` (byte 40 of `.bss`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub nanosleeps: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u64>,
            ///`never` (byte 48 of `.bss`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub never: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::u64>,
            #[doc(hidden)]
            pub _skel: ::core::marker::PhantomData<&'a ()>,
        }
    }
    /**Signed light skeleton of the BPF object `multi` (from `multi.bpf.o`, signed at build time).

Loader variants: `p1` (signed), `p1b` (signed), `p2` (signed); the runtime probes the kernel and picks one (`BPFSIGN_PROTOCOL=p1|p1b|p2` overrides; a kernel that needs another protocol fails with `ErrorKind::ProtocolNotEmbedded`). Signed by `CN=bpfsign TEST-ONLY key a (do not trust)` (rsa-2048, SKID `b47dc1af906c3b717fd2649abebb975afff02a48`).

Programs:
- `getpid_entry` (`SEC("fentry/__do_sys_getpid")`), attaches to BTF target `__do_sys_getpid`.
- `getpid_exit` (`SEC("fexit/__do_sys_getpid")`), attaches to BTF target `__do_sys_getpid`.
- `nanosleep_entry` (`SEC("fentry/do_nanosleep")`), attaches to BTF target `do_nanosleep`.
- `raw_sys_enter` (`SEC("raw_tp/sys_enter")`), attaches to raw tracepoint `sys_enter`.
- `on_switch` (`SEC("tp_btf/sched_switch")`), attaches to BTF target `sched_switch`.
- `raw_sys_exit` (`SEC("raw_tracepoint/sys_exit")`), attaches to raw tracepoint `sys_exit`.
- `getppid_optional` (`SEC("?fentry/__do_sys_getppid")`): not loaded — autoload was off when the skeleton was signed, so it has no fd and no link.

Load with [`Multi::builder()`]`.keyring(..).load()`, which returns [`LoadedMulti`].

Initial values of global variables are fixed when the skeleton is signed: the signed loader takes them from the signed data blob and ignores any value supplied at run time. Writable globals (`.bss`, `.data`) are changed after load per variable (`bss_vars()?.x.store(v)`); `.rodata` stays as built (set it at build time with the macro's `rodata = { .. }`).*/
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Multi;
    impl Multi {
        /// Object name (`SEC` file stem) of the skeleton.
        pub const NAME: &'static str = "multi";
        /// Starts loading with default options (builtin keyring, no verifier log,
        /// protocol probed).
        pub fn builder() -> MultiBuilder {
            MultiBuilder::default()
        }
        /// The embedded skeleton description (data blob, loaders, signatures).
        pub fn spec() -> &'static ::bpfsign_runtime::SkeletonSpec<'static> {
            &SPEC
        }
    }
    /**Load-time options for [`Multi`]; only what the signature does not cover (keyring, verifier log, protocol).

Initial values of global variables are fixed when the skeleton is signed: the signed loader takes them from the signed data blob and ignores any value supplied at run time. Writable globals (`.bss`, `.data`) are changed after load per variable (`bss_vars()?.x.store(v)`); `.rodata` stays as built (set it at build time with the macro's `rodata = { .. }`).*/
    #[derive(Clone, Debug, Default)]
    pub struct MultiBuilder {
        options: ::bpfsign_runtime::LoadOptions,
    }
    impl MultiBuilder {
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
        ) -> ::core::result::Result<LoadedMulti, ::bpfsign_runtime::Error> {
            let skel = ::bpfsign_runtime::load(&SPEC, &self.options)?;
            let loaded = LoadedMulti { skel };
            loaded.check_progs()?;
            loaded.__bpfsign_maps_checked()?;
            ::core::result::Result::Ok(loaded)
        }
    }
    ///A loaded [`Multi`]: owns every map and program fd and the mmapped global data; dropping it closes them (links already made stay until they are dropped).
    #[derive(Debug)]
    pub struct LoadedMulti {
        skel: ::bpfsign_runtime::LoadedSkeleton,
    }
    ///The programs of [`LoadedMulti`]: fd, section and attach methods of each. Always `None`, because autoload was off when the skeleton was signed (the signed loader never loads them): `getppid_optional` (`SEC("?fentry/__do_sys_getppid")`).
    #[derive(Clone, Copy, Debug)]
    pub struct MultiProgs<'a> {
        ///Program `getpid_entry` (`SEC("fentry/__do_sys_getpid")`).
        pub getpid_entry: ::bpfsign_runtime::Program<'a>,
        ///Program `getpid_exit` (`SEC("fexit/__do_sys_getpid")`).
        pub getpid_exit: ::bpfsign_runtime::Program<'a>,
        ///Program `nanosleep_entry` (`SEC("fentry/do_nanosleep")`).
        pub nanosleep_entry: ::bpfsign_runtime::Program<'a>,
        ///Program `raw_sys_enter` (`SEC("raw_tp/sys_enter")`).
        pub raw_sys_enter: ::bpfsign_runtime::Program<'a>,
        ///Program `on_switch` (`SEC("tp_btf/sched_switch")`).
        pub on_switch: ::bpfsign_runtime::Program<'a>,
        ///Program `raw_sys_exit` (`SEC("raw_tracepoint/sys_exit")`).
        pub raw_sys_exit: ::bpfsign_runtime::Program<'a>,
        ///Program `getppid_optional` (`SEC("fentry/__do_sys_getppid")`).
        pub getppid_optional: ::core::option::Option<::bpfsign_runtime::Program<'a>>,
        _skel: ::core::marker::PhantomData<&'a ()>,
    }
    impl LoadedMulti {
        /// The skeleton's programs: fd, section and every attach method
        /// ([`::bpfsign_runtime::Program`]). `load()` checked that each loaded program
        /// has an fd.
        pub fn progs(&self) -> MultiProgs<'_> {
            MultiProgs {
                getpid_entry: self.skel.program_unchecked(0usize),
                getpid_exit: self.skel.program_unchecked(1usize),
                nanosleep_entry: self.skel.program_unchecked(2usize),
                raw_sys_enter: self.skel.program_unchecked(3usize),
                on_switch: self.skel.program_unchecked(4usize),
                raw_sys_exit: self.skel.program_unchecked(5usize),
                getppid_optional: self.skel.program(6usize).ok(),
                _skel: ::core::marker::PhantomData,
            }
        }
        /// Run once by `load()`: every program the signed loader loads has an fd, so
        /// `progs()` needs no error path. An error means the loader did not do what the
        /// skeleton describes.
        fn check_progs(&self) -> ::core::result::Result<(), ::bpfsign_runtime::Error> {
            self.skel.program(0usize)?;
            self.skel.program(1usize)?;
            self.skel.program(2usize)?;
            self.skel.program(3usize)?;
            self.skel.program(4usize)?;
            self.skel.program(5usize)?;
            ::core::result::Result::Ok(())
        }
    }
    ///Links made by [`LoadedMulti::attach`], one per loaded program whose section names its target (fentry, fexit, fmod_ret, tp_btf, lsm, raw_tp, iter, kprobe, kretprobe, kprobe.multi, ksyscall, uprobe, uretprobe, uprobe.multi, tracepoint); each detaches when dropped.
    #[derive(Debug)]
    #[must_use = "dropping the links detaches every program; keep them (or call forget()) while the programs should run"]
    pub struct MultiLinks {
        ///Link of program `getpid_entry`; detaches on drop.
        pub getpid_entry: ::bpfsign_runtime::Link,
        ///Link of program `getpid_exit`; detaches on drop.
        pub getpid_exit: ::bpfsign_runtime::Link,
        ///Link of program `nanosleep_entry`; detaches on drop.
        pub nanosleep_entry: ::bpfsign_runtime::Link,
        ///Link of program `raw_sys_enter`; detaches on drop.
        pub raw_sys_enter: ::bpfsign_runtime::Link,
        ///Link of program `on_switch`; detaches on drop.
        pub on_switch: ::bpfsign_runtime::Link,
        ///Link of program `raw_sys_exit`; detaches on drop.
        pub raw_sys_exit: ::bpfsign_runtime::Link,
    }
    impl MultiLinks {
        /// Leaves every program attached after this process exits or drops the links.
        pub fn forget(self) {
            ::bpfsign_runtime::Link::forget(self.getpid_entry);
            ::bpfsign_runtime::Link::forget(self.getpid_exit);
            ::bpfsign_runtime::Link::forget(self.nanosleep_entry);
            ::bpfsign_runtime::Link::forget(self.raw_sys_enter);
            ::bpfsign_runtime::Link::forget(self.on_switch);
            ::bpfsign_runtime::Link::forget(self.raw_sys_exit);
        }
    }
    impl LoadedMulti {
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
        ) -> ::core::result::Result<MultiLinks, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(MultiLinks {
                getpid_entry: self.attach_getpid_entry()?,
                getpid_exit: self.attach_getpid_exit()?,
                nanosleep_entry: self.attach_nanosleep_entry()?,
                raw_sys_enter: self.attach_raw_sys_enter()?,
                on_switch: self.attach_on_switch()?,
                raw_sys_exit: self.attach_raw_sys_exit()?,
            })
        }
        ///Attaches program `getpid_entry` to BTF target `__do_sys_getpid`. The link detaches when dropped (see [`::bpfsign_runtime::Link::forget`]).
        pub fn attach_getpid_entry(
            &self,
        ) -> ::core::result::Result<::bpfsign_runtime::Link, ::bpfsign_runtime::Error> {
            self.skel.attach_prog(0usize)
        }
        ///Attaches program `getpid_exit` to BTF target `__do_sys_getpid`. The link detaches when dropped (see [`::bpfsign_runtime::Link::forget`]).
        pub fn attach_getpid_exit(
            &self,
        ) -> ::core::result::Result<::bpfsign_runtime::Link, ::bpfsign_runtime::Error> {
            self.skel.attach_prog(1usize)
        }
        ///Attaches program `nanosleep_entry` to BTF target `do_nanosleep`. The link detaches when dropped (see [`::bpfsign_runtime::Link::forget`]).
        pub fn attach_nanosleep_entry(
            &self,
        ) -> ::core::result::Result<::bpfsign_runtime::Link, ::bpfsign_runtime::Error> {
            self.skel.attach_prog(2usize)
        }
        ///Attaches program `raw_sys_enter` to raw tracepoint `sys_enter`. The link detaches when dropped (see [`::bpfsign_runtime::Link::forget`]).
        pub fn attach_raw_sys_enter(
            &self,
        ) -> ::core::result::Result<::bpfsign_runtime::Link, ::bpfsign_runtime::Error> {
            self.skel.attach_prog(3usize)
        }
        ///Attaches program `on_switch` to BTF target `sched_switch`. The link detaches when dropped (see [`::bpfsign_runtime::Link::forget`]).
        pub fn attach_on_switch(
            &self,
        ) -> ::core::result::Result<::bpfsign_runtime::Link, ::bpfsign_runtime::Error> {
            self.skel.attach_prog(4usize)
        }
        ///Attaches program `raw_sys_exit` to raw tracepoint `sys_exit`. The link detaches when dropped (see [`::bpfsign_runtime::Link::forget`]).
        pub fn attach_raw_sys_exit(
            &self,
        ) -> ::core::result::Result<::bpfsign_runtime::Link, ::bpfsign_runtime::Error> {
            self.skel.attach_prog(5usize)
        }
        ///Per-variable handles of the `.bss` globals: `.load()` and `.store(v)`, atomic (relaxed) for naturally aligned 1, 2, 4 and 8-byte values and volatile copies otherwise, so they are sound while the BPF programs access the same variables. An error means the map is not mapped as this code expects (it does not happen after a successful load of the same skeleton).
        pub fn bss_vars(
            &self,
        ) -> ::core::result::Result<vars::Bss<'_>, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(vars::Bss {
                sys_enters: self.skel.global_var_mut(0usize, 0usize)?,
                entries: self.skel.global_var_mut(0usize, 8usize)?,
                exits: self.skel.global_var_mut(0usize, 16usize)?,
                last_ret: self.skel.global_var_mut(0usize, 24usize)?,
                switches: self.skel.global_var_mut(0usize, 32usize)?,
                nanosleeps: self.skel.global_var_mut(0usize, 40usize)?,
                never: self.skel.global_var_mut(0usize, 48usize)?,
                _skel: ::core::marker::PhantomData,
            })
        }
        ///A copy of the `.bss` globals, read with volatile reads on every call: a snapshot of values the BPF programs change. Not atomic: a value the programs store meanwhile may be torn; use [`bss_vars()`](Self::bss_vars) for single variables.
        pub fn read_bss(
            &self,
        ) -> ::core::result::Result<types::Bss, ::bpfsign_runtime::Error> {
            self.skel.read_global::<types::Bss>(0usize)
        }
        /**The `.bss` globals by shared reference.

# Safety

The BPF programs may store to this memory at any time, and a store while the reference lives is a data race: call this only while no program that writes `.bss` runs (before attaching, after detaching), and while nothing else in user space stores to it. Otherwise use [`read_bss()`](Self::read_bss) or [`bss_vars()`](Self::bss_vars).*/
        pub unsafe fn bss(
            &self,
        ) -> ::core::result::Result<&types::Bss, ::bpfsign_runtime::Error> {
            unsafe { self.skel.global_shared::<types::Bss>(0usize) }
        }
        /**The `.bss` globals by mutable reference: stores reach the BPF programs at once.

# Safety

The BPF programs may read and store this memory at any time: call this only while no program that accesses `.bss` runs (before attaching, after detaching). Otherwise store single variables with [`bss_vars()`](Self::bss_vars).*/
        pub unsafe fn bss_mut(
            &mut self,
        ) -> ::core::result::Result<&mut types::Bss, ::bpfsign_runtime::Error> {
            unsafe { self.skel.global_mut::<types::Bss>(0usize) }
        }
    }
    ///Typed handles on the maps of [`LoadedMulti`] (`HashMap`, `RingBuf`, …; `Map` for data maps).
    #[derive(Clone, Copy, Debug)]
    pub struct MultiMaps<'a> {
        ///Map `bss` (kernel name `multi.bss`).
        pub bss: ::bpfsign_runtime::Map<'a>,
        _skel: ::core::marker::PhantomData<&'a ()>,
    }
    impl LoadedMulti {
        /// Typed handles on the maps. `load()` checked them against the loaded
        /// skeleton (map types, key and value sizes), so this needs no `Result`.
        pub fn maps(&self) -> MultiMaps<'_> {
            MultiMaps {
                bss: self.skel.__checked_map(0usize),
                _skel: ::core::marker::PhantomData,
            }
        }
        /// Makes every map handle with its checks; `load()` calls it once.
        #[doc(hidden)]
        pub fn __bpfsign_maps_checked(
            &self,
        ) -> ::core::result::Result<(), ::bpfsign_runtime::Error> {
            self.skel.map(0usize)?;
            ::core::result::Result::Ok(())
        }
    }
}
pub use multi_skel::{
    Multi, MultiBuilder, LoadedMulti, MultiProgs, MultiMaps, MultiLinks,
};
