const _: &str = env!("BPF_KEY");
///Everything `include_signed_skel!` generated for `hello`; the main types are re-exported next to the macro call.
#[allow(
    dead_code,
    non_snake_case,
    non_camel_case_types,
    non_upper_case_globals,
    unused_qualifications,
    clippy::all
)]
pub mod hello_skel {
    /// 8-byte aligned bytes (loader instructions and the data blob).
    #[repr(C, align(8))]
    pub struct Aligned<const N: usize>(pub [u8; N]);
    /// Makes rustc rebuild when an input file changes; never called, holds no bytes.
    #[allow(dead_code)]
    fn __bpfsign_track_files() {
        let _ = include_bytes!("$REPO/tests/fixtures/obj/hello.bpf.o");
        let _ = include_bytes!("$REPO/tests/fixtures/keys/TEST-ONLY-key-a.pem");
    }
    /// The data blob (metadata map value), identical for every protocol.
    pub static DATA: Aligned<2424usize> = Aligned(
        *b"<2424 bytes>",
    );
    ///Loader instructions for protocol `p1` (259 insns).
    pub static INSNS_P1: Aligned<2072usize> = Aligned(
        *b"<2072 bytes>",
    );
    ///SHA-256 of the `p1` loader instructions: 6dd6bd0f63ce3107773e41f07bfa8ec7aaaf2af502d0b2b6ffd0b0f4150e80a2.
    pub static EXCL_HASH_P1: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p1` payload (375 bytes).
    pub static SIG_P1: [u8; 375usize] = *b"<375 bytes>";
    ///Loader instructions for protocol `p1b` (264 insns).
    pub static INSNS_P1B: Aligned<2112usize> = Aligned(
        *b"<2112 bytes>",
    );
    ///SHA-256 of the `p1b` loader instructions: 3c8aacd453c2a0167d637bf01e0e3b31c87d10d51661c137b309b7897e57e2c1.
    pub static EXCL_HASH_P1B: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p1b` payload (375 bytes).
    pub static SIG_P1B: [u8; 375usize] = *b"<375 bytes>";
    ///Loader instructions for protocol `p2` (231 insns).
    pub static INSNS_P2: Aligned<1848usize> = Aligned(
        *b"<1848 bytes>",
    );
    ///SHA-256 of the `p2` loader instructions: e3350c5688cddf49f0ae5856c1ec1cbc564a1b4274160bf0722db63f0f2aa471.
    pub static EXCL_HASH_P2: [u8; 32] = *b"<32 bytes>";
    ///Detached PKCS#7 signature of the `p2` payload (375 bytes).
    pub static SIG_P2: [u8; 375usize] = *b"<375 bytes>";
    /// The skeleton as the runtime sees it.
    pub static SPEC: ::bpfsign_runtime::SkeletonSpec<'static> = ::bpfsign_runtime::SkeletonSpec {
        name: "hello",
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
                value_size: 4u32,
                max_entries: 1u32,
                map_flags: 1024u32,
                mmapable: true,
            },
            ::bpfsign_runtime::MapSpec {
                name: "rodata",
                map_type: 2u32,
                key_size: 4u32,
                value_size: 20u32,
                max_entries: 1u32,
                map_flags: 128u32,
                mmapable: false,
            },
        ],
        progs: &[
            ::bpfsign_runtime::ProgSpec {
                name: "hello",
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
        ///Layout of `.bss` (4 bytes), generated from BTF.
        #[repr(C)]
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct Bss {
            ///Global `prog_A` at byte 0 of `.bss`.
            pub prog_A: ::core::primitive::i32,
        }
        impl ::core::default::Default for Bss {
            /// All bytes zero.
            fn default() -> Self {
                unsafe { ::core::mem::zeroed() }
            }
        }
        unsafe impl ::bpfsign_runtime::Plain for Bss {}
        const _: () = {
            assert!(::core::mem::size_of:: < Bss > () == 4usize);
            assert!(::core::mem::offset_of!(Bss, prog_A) == 0usize);
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
            ///`prog_A` (byte 0 of `.bss`): `.load()` / `.store(v)`, shared with the BPF programs.
            pub prog_A: ::bpfsign_runtime::GlobalVarMut<'a, ::core::primitive::i32>,
            #[doc(hidden)]
            pub _skel: ::core::marker::PhantomData<&'a ()>,
        }
    }
    /**Signed light skeleton of the BPF object `hello` (from `hello.bpf.o`, signed at build time).

Loader variants: `p1` (signed), `p1b` (signed), `p2` (signed); the runtime probes the kernel and picks one (`BPFSIGN_PROTOCOL=p1|p1b|p2` overrides; a kernel that needs another protocol fails with `ErrorKind::ProtocolNotEmbedded`). Signed by `CN=bpfsign TEST-ONLY key a (do not trust)` (rsa-2048, SKID `b47dc1af906c3b717fd2649abebb975afff02a48`).

Programs:
- `hello` (`SEC("fentry/__do_sys_getpid")`), attaches to BTF target `__do_sys_getpid`.

Load with [`Hello::builder()`]`.keyring(..).load()`, which returns [`LoadedHello`].

Initial values of global variables are fixed when the skeleton is signed: the signed loader takes them from the signed data blob and ignores any value supplied at run time. Writable globals (`.bss`, `.data`) are changed after load per variable (`bss_vars()?.x.store(v)`); `.rodata` stays as built (set it at build time with the macro's `rodata = { .. }`).*/
    #[derive(Clone, Copy, Debug, Default)]
    pub struct Hello;
    impl Hello {
        /// Object name (`SEC` file stem) of the skeleton.
        pub const NAME: &'static str = "hello";
        /// Starts loading with default options (builtin keyring, no verifier log,
        /// protocol probed).
        pub fn builder() -> HelloBuilder {
            HelloBuilder::default()
        }
        /// The embedded skeleton description (data blob, loaders, signatures).
        pub fn spec() -> &'static ::bpfsign_runtime::SkeletonSpec<'static> {
            &SPEC
        }
    }
    /**Load-time options for [`Hello`]; only what the signature does not cover (keyring, verifier log, protocol).

Initial values of global variables are fixed when the skeleton is signed: the signed loader takes them from the signed data blob and ignores any value supplied at run time. Writable globals (`.bss`, `.data`) are changed after load per variable (`bss_vars()?.x.store(v)`); `.rodata` stays as built (set it at build time with the macro's `rodata = { .. }`).*/
    #[derive(Clone, Debug, Default)]
    pub struct HelloBuilder {
        options: ::bpfsign_runtime::LoadOptions,
    }
    impl HelloBuilder {
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
        ) -> ::core::result::Result<LoadedHello, ::bpfsign_runtime::Error> {
            let skel = ::bpfsign_runtime::load(&SPEC, &self.options)?;
            let loaded = LoadedHello { skel };
            loaded.check_progs()?;
            loaded.__bpfsign_maps_checked()?;
            ::core::result::Result::Ok(loaded)
        }
    }
    ///A loaded [`Hello`]: owns every map and program fd and the mmapped global data; dropping it closes them (links already made stay until they are dropped).
    #[derive(Debug)]
    pub struct LoadedHello {
        skel: ::bpfsign_runtime::LoadedSkeleton,
    }
    ///The programs of [`LoadedHello`]: fd, section and attach methods of each.
    #[derive(Clone, Copy, Debug)]
    pub struct HelloProgs<'a> {
        ///Program `hello` (`SEC("fentry/__do_sys_getpid")`).
        pub hello: ::bpfsign_runtime::Program<'a>,
        _skel: ::core::marker::PhantomData<&'a ()>,
    }
    impl LoadedHello {
        /// The skeleton's programs: fd, section and every attach method
        /// ([`::bpfsign_runtime::Program`]). `load()` checked that each loaded program
        /// has an fd.
        pub fn progs(&self) -> HelloProgs<'_> {
            HelloProgs {
                hello: self.skel.program_unchecked(0usize),
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
    ///Links made by [`LoadedHello::attach`], one per loaded program whose section names its target (fentry, fexit, fmod_ret, tp_btf, lsm, raw_tp, iter, kprobe, kretprobe, kprobe.multi, ksyscall, uprobe, uretprobe, uprobe.multi, tracepoint); each detaches when dropped.
    #[derive(Debug)]
    #[must_use = "dropping the links detaches every program; keep them (or call forget()) while the programs should run"]
    pub struct HelloLinks {
        ///Link of program `hello`; detaches on drop.
        pub hello: ::bpfsign_runtime::Link,
    }
    impl HelloLinks {
        /// Leaves every program attached after this process exits or drops the links.
        pub fn forget(self) {
            ::bpfsign_runtime::Link::forget(self.hello);
        }
    }
    impl LoadedHello {
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
        ) -> ::core::result::Result<HelloLinks, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(HelloLinks {
                hello: self.attach_hello()?,
            })
        }
        ///Attaches program `hello` to BTF target `__do_sys_getpid`. The link detaches when dropped (see [`::bpfsign_runtime::Link::forget`]).
        pub fn attach_hello(
            &self,
        ) -> ::core::result::Result<::bpfsign_runtime::Link, ::bpfsign_runtime::Error> {
            self.skel.attach_prog(0usize)
        }
        ///Per-variable handles of the `.bss` globals: `.load()` and `.store(v)`, atomic (relaxed) for naturally aligned 1, 2, 4 and 8-byte values and volatile copies otherwise, so they are sound while the BPF programs access the same variables. An error means the map is not mapped as this code expects (it does not happen after a successful load of the same skeleton).
        pub fn bss_vars(
            &self,
        ) -> ::core::result::Result<vars::Bss<'_>, ::bpfsign_runtime::Error> {
            ::core::result::Result::Ok(vars::Bss {
                prog_A: self.skel.global_var_mut(0usize, 0usize)?,
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
    ///Typed handles on the maps of [`LoadedHello`] (`HashMap`, `RingBuf`, …; `Map` for data maps).
    #[derive(Clone, Copy, Debug)]
    pub struct HelloMaps<'a> {
        ///Map `bss` (kernel name `hello.bss`).
        pub bss: ::bpfsign_runtime::Map<'a>,
        ///Map `rodata` (kernel name `hello.rodata`).
        pub rodata: ::bpfsign_runtime::Map<'a>,
        _skel: ::core::marker::PhantomData<&'a ()>,
    }
    impl LoadedHello {
        /// Typed handles on the maps. `load()` checked them against the loaded
        /// skeleton (map types, key and value sizes), so this needs no `Result`.
        pub fn maps(&self) -> HelloMaps<'_> {
            HelloMaps {
                bss: self.skel.__checked_map(0usize),
                rodata: self.skel.__checked_map(1usize),
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
            ::core::result::Result::Ok(())
        }
    }
}
pub use hello_skel::{
    Hello, HelloBuilder, LoadedHello, HelloProgs, HelloMaps, HelloLinks,
};
