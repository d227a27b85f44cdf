//! Build configuration of the signed artifact ([`BpfCompiler::signed_artifact`]): initial
//! values of global variables, `max_entries` per map and the generator inputs libbpf would
//! read from the build host. They are applied before the loader is generated and signed, so
//! the kernel loads exactly these values; each is checked against the object's BTF and a
//! mismatch makes [`BpfCompiler::compile`] fail with [`crate::CompileError::Signing`] naming
//! the variable or map (see [`bpfsign_gen::ConfigError`]).

use crate::compiler::BpfCompiler;
use crate::GenOptions;
use bpfsign_gen::GlobalValue;

impl BpfCompiler {
    /// Sets the initial value of global variable `name` (of `.data*`, `.rodata*` or
    /// `.bss*`): an integer (`42u32`, `-1i64`), a `bool`, a string for a `char` array, or the
    /// raw bytes (`[u8; N]`, `Vec<u8>`) of exactly the variable's size.
    pub fn global(&mut self, name: impl Into<String>, value: impl Into<GlobalValue>) -> &mut Self {
        self.gen_options.globals.insert(name.into(), value.into());
        self
    }

    /// Sets `max_entries` of the BTF-defined map `map`.
    pub fn max_entries(&mut self, map: impl Into<String>, max_entries: u32) -> &mut Self {
        self.gen_options.max_entries.insert(map.into(), max_entries);
        self
    }

    /// Sets the value of `.kconfig` extern `name` (`CONFIG_HZ`), written like a kernel
    /// `.config` value: `y`, `m`, `n`, a number or a quoted string.
    pub fn kconfig(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.gen_options.kconfig.insert(name.into(), value.into());
        self
    }

    /// Sets the `LINUX_KERNEL_VERSION` value (`bpfsign_gen::kernel_version(6, 18, 0)` or
    /// `bpfsign_gen::parse_kernel_version("6.18.0")`).
    pub fn kernel_version(&mut self, version: u32) -> &mut Self {
        self.gen_options.kernel_version = Some(version);
        self
    }

    /// Sets the page size ring buffer sizes are rounded to (default 4096).
    pub fn page_size(&mut self, page_size: u32) -> &mut Self {
        self.gen_options.page_size = page_size;
        self
    }

    /// Sets the CPU count used for `PERF_EVENT_ARRAY` maps declared with `max_entries` 0.
    pub fn cpu_count(&mut self, cpus: u32) -> &mut Self {
        self.gen_options.possible_cpus = Some(cpus);
        self
    }

    /// Replaces the whole generator configuration (the object name in
    /// [`GenOptions::name`] included).
    pub fn gen_options(&mut self, options: GenOptions) -> &mut Self {
        self.gen_options = options;
        self
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::{Artifact, BpfCompiler, CompileError};

    #[test]
    fn configured_values_reach_the_signed_artifact_and_bad_ones_fail() {
        let dir = std::env::temp_dir().join(format!("bpfsign-cc-config-{}", std::process::id()));
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let src = root.join("tests/fixtures/src/globals.bpf.c");
        let key = root.join("tests/fixtures/keys/TEST-ONLY-key-a.pem");
        let build = |f: &dyn Fn(&mut BpfCompiler)| {
            let mut c = BpfCompiler::new(&src);
            c.out_dir(&dir).cargo_output(false).signed_artifact(&key);
            f(&mut c);
            c.compile()
        };
        let plain = build(&|_| {}).unwrap();
        let plain = Artifact::read(plain.artifact.unwrap()).unwrap();
        let configured = build(&|c| {
            c.global("ro_limit", 0x0a0b_0c0du32)
                .global("bar_msg", "configured!")
                .page_size(4096)
                .cpu_count(4);
        })
        .unwrap();
        let configured = Artifact::read(configured.artifact.unwrap()).unwrap();
        let signer = crate::Signer::from_pem_file(&key).unwrap();
        configured.verify(signer.certificate()).unwrap();
        let has = |a: &Artifact, needle: &[u8]| a.data.windows(needle.len()).any(|w| w == needle);
        assert!(has(&configured, &0x0a0b_0c0du32.to_le_bytes()));
        assert!(has(&configured, b"configured!\0"));
        assert!(!has(&plain, b"configured!\0"));
        assert_eq!(configured.data.len(), plain.data.len());

        for (what, f, want) in [
            (
                "unknown variable",
                &(|c: &mut BpfCompiler| {
                    c.global("nope", 1u8);
                }) as &dyn Fn(&mut BpfCompiler),
                "no global variable `nope`",
            ),
            (
                "out of range",
                &|c: &mut BpfCompiler| {
                    c.global("ro_limit", -1i32);
                },
                "does not fit `ro_limit`",
            ),
            (
                "unknown map",
                &|c: &mut BpfCompiler| {
                    c.max_entries("nope", 8);
                },
                "no map `nope`",
            ),
        ] {
            let err = build(f).unwrap_err();
            assert!(
                matches!(err, CompileError::Signing { .. }) && err.to_string().contains(want),
                "{what}: {err}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
