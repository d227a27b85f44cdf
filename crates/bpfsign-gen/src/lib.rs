//! bpfsign-build: turns a compiled BPF object into a signed light skeleton, with no syscalls.
//!
//! Pipeline: compile → parse → link → emit → sign → artifact. The one-call shortcut is
//! [`sign_object`] (what `bpfsign gen` does), with one error type, [`BuildError`]:
//!
//! ```no_run
//! use bpfsign_gen::{sign_object, GenOptions, Signer};
//!
//! fn build() -> Result<(), bpfsign_gen::BuildError> {
//!     let signer = Signer::from_pem_file("keys/signing_key.pem")?;
//!     let artifact = sign_object("hello.bpf.o", Some(&signer), &GenOptions::default())?;
//!     artifact.write_if_changed("hello.skel")?;
//!     Ok(())
//! }
//! ```
//!
//! The steps one by one:
//!
//! ```no_run
//! let elf = std::fs::read("hello.bpf.o").unwrap();
//! let obj = bpfsign_gen::parse_object("hello.bpf.o", &elf).unwrap();
//! let out = bpfsign_gen::generate(&obj, &bpfsign_gen::GenOptions::default()).unwrap();
//! for (protocol, insns) in &out.loaders {
//!     println!("{protocol:?}: {} loader bytes, {} data bytes", insns.len(), out.data.len());
//! }
//! ```
//!
//! # Byte-exactness and deliberate differences from bpftool
//!
//! The data blob and the P1b / P2 loaders are byte-identical to `bpftool gen skeleton -L -S`
//! of the kernel 7.2.13 / 7.3.4 bpftools, and the unsigned loader to `bpftool gen skeleton -L`
//! (7.3.4), for the objects bpfsign supports. Deliberate differences:
//!
//! * **P1 is hardened** (spec "Decisions" 2): bpfsign's P1 loader is its P1b loader without
//!   the `map->excl` check. It differs from bpftool-p1 (libbpf 1.7.0) in two places only: the
//!   check-block jumps land exactly on the cleanup label (1.7.0 lands one instruction late),
//!   and the run-time ctx cannot override `max_entries` / initial values.
//!   [`emit::LoaderConfig::bpftool_p1_compat`] reproduces bpftool-p1 for tests.
//! * **No build-host inputs** (spec "Decisions" 3): `.kconfig` values, `LINUX_KERNEL_VERSION`,
//!   typeless-ksym addresses, the CPU count for `PERF_EVENT_ARRAY` maps with `max_entries 0`
//!   and the page size for ring buffers come from [`GenOptions`], never from the build host.
//!   A strong typeless ksym without an address in [`GenOptions::ksym_addrs`] is accepted
//!   (the loader resolves it at run time; libbpf would fail if the build host lacked it).
//! * **Default object name** strips `.o` *and* `.bpf` (`hello.bpf.o` → `hello`); bpftool only
//!   strips `.o` (`hello_bpf`). Pass [`GenOptions::name`] to choose.
//! * **Map pinning** (`pinning = LIBBPF_PIN_BY_NAME`) is recorded but ignored; bpftool would
//!   try to reuse/pin maps on the build host.
//! * **Stricter input checks**: a corrupt `.BTF.ext` is an error (libbpf may ignore it), and a
//!   program section libbpf does not know is an error at generation time (libbpf fails later,
//!   at load).
//!
//! Not supported (typed [`ErrorKind::Unsupported`] errors): big-endian objects, struct_ops,
//! freplace, tracing multi-link programs, arena globals, jump tables, `.percpu` data,
//! prog arrays with `.values` initialisers, legacy `maps` sections.

pub mod artifact;
pub mod emit;
pub mod error;
pub mod link;
pub mod meta;
pub mod parse;
pub mod sign;

use std::collections::BTreeMap;
use std::path::Path;

pub use artifact::Artifact;
pub use error::{BuildError, Error, ErrorKind, Limit, Stage};
pub use meta::Protocol;
pub use sign::{Certificate, Signer};

/// Options of [`generate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenOptions {
    /// Object (skeleton) name; prefixes internal map names. Default: the file stem without
    /// `.o` and `.bpf`, non-identifier characters replaced by `_`.
    pub name: Option<String>,
    /// Values of `CONFIG_*` `.kconfig` externs, written like a kernel `.config` value
    /// (`y`, `m`, `n`, a number, or a quoted string). Weak externs default to 0.
    pub kconfig: BTreeMap<String, String>,
    /// Value of the `LINUX_KERNEL_VERSION` extern.
    pub kernel_version: Option<u32>,
    /// Addresses baked into typeless ksym `ld_imm64` (the loader overwrites them at run time;
    /// only needed to match bpftool bytes). Default 0.
    pub ksym_addrs: BTreeMap<String, u64>,
    /// Page size used to round ring buffer sizes (default 4096).
    pub page_size: u32,
    /// CPU count for `PERF_EVENT_ARRAY` maps declared with `max_entries = 0`.
    pub possible_cpus: Option<u32>,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            name: None,
            kconfig: BTreeMap::new(),
            kernel_version: None,
            ksym_addrs: BTreeMap::new(),
            page_size: 4096,
            possible_cpus: None,
        }
    }
}

/// Output of [`generate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// The data blob, identical for all protocols.
    pub data: Vec<u8>,
    /// Loader instructions for Unsigned, P1, P1b, P2 (in that order).
    pub loaders: Vec<(Protocol, Vec<u8>)>,
    /// Skeleton metadata.
    pub meta: meta::SkeletonMeta,
}

impl Generated {
    /// Loader instructions of `protocol`.
    pub fn loader(&self, protocol: Protocol) -> Option<&[u8]> {
        self.loaders
            .iter()
            .find(|(p, _)| *p == protocol)
            .map(|(_, i)| i.as_slice())
    }
}

/// Parses a compiled BPF object. `file_name` is used in error messages and for the default
/// object name.
pub fn parse_object(file_name: &str, elf_bytes: &[u8]) -> Result<parse::Object, Error> {
    parse::parse(file_name, elf_bytes)
}

/// Default object name for a file: basename, minus `.o` and `.bpf`, sanitised.
pub fn default_object_name(file_name: &str) -> String {
    let base = file_name.rsplit('/').next().unwrap_or(file_name);
    let base = base.strip_suffix(".o").unwrap_or(base);
    let base = base.strip_suffix(".bpf").unwrap_or(base);
    meta::sanitize_ident(base)
}

/// Links `obj` and emits the data blob and all loader variants.
pub fn generate(obj: &parse::Object, opts: &GenOptions) -> Result<Generated, Error> {
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| default_object_name(&obj.file));
    let linked = link::link(obj, opts, &name)?;
    let mut loaders = Vec::with_capacity(4);
    let mut data: Option<Vec<u8>> = None;
    for p in Protocol::ALL {
        let l = emit::emit_loader(&obj.file, &linked, &emit::LoaderConfig::for_protocol(p))?;
        match &data {
            None => data = Some(l.data),
            Some(d) => debug_assert_eq!(d, &l.data, "the blob must not depend on the protocol"),
        }
        loaders.push((p, l.insns));
    }
    let meta = meta::build(obj, &linked, &name);
    Ok(Generated {
        data: data.unwrap_or_default(),
        loaders,
        meta,
    })
}

/// Reads, parses, generates and (with a signer) signs one BPF object: the one-call form of
/// [`parse_object`] + [`generate`] + [`Artifact::from_generated`]. The object's file name
/// (without directories) names it in errors and gives the default object name.
pub fn sign_object(
    path: impl AsRef<Path>,
    signer: Option<&Signer>,
    opts: &GenOptions,
) -> Result<Artifact, BuildError> {
    let path = path.as_ref();
    let elf = std::fs::read(path).map_err(|source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let obj = parse_object(&file_name, &elf).map_err(BuildError::Parse)?;
    let generated = generate(&obj, opts).map_err(BuildError::Generate)?;
    Ok(Artifact::from_generated(generated, signer)?)
}

/// `KERNEL_VERSION(major, minor, patch)` as the kernel's `version.h` computes it (the patch
/// level saturates at 255): the value of the `LINUX_KERNEL_VERSION` extern.
pub fn kernel_version(major: u8, minor: u8, patch: u32) -> u32 {
    (u32::from(major) << 16) | (u32::from(minor) << 8) | patch.min(255)
}

/// Parses a [`GenOptions::kernel_version`]: a release like `6.18.44`, `6.18` or
/// `6.18.0-rc1+` (what `uname -r` prints; anything after the numbers is ignored), or the raw
/// `KERNEL_VERSION` value in hex (`0x61200`).
pub fn parse_kernel_version(text: &str) -> Result<u32, BuildError> {
    let bad = |why: &str| {
        BuildError::Input {
        origin: format!("kernel version '{text}'"),
        message: format!(
            "{why}; expected MAJOR.MINOR[.PATCH] (e.g. 6.18.44, as `uname -r` prints) or a hex KERNEL_VERSION value (0x6122c)"
        ),
    }
    };
    if let Some(h) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u32::from_str_radix(h, 16).map_err(|_| bad("not a hex number"));
    }
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (numbers, rest) = text.split_at(end);
    let numbers = numbers
        .strip_suffix('.')
        .filter(|_| !rest.is_empty())
        .unwrap_or(numbers);
    let parts: Vec<&str> = numbers.split('.').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return Err(bad("not a kernel release"));
    }
    let major = parts[0].parse::<u8>().map_err(|_| bad("major above 255"))?;
    let minor = parts[1].parse::<u8>().map_err(|_| bad("minor above 255"))?;
    let patch = match parts.get(2) {
        Some(p) => p.parse::<u32>().map_err(|_| bad("patch level too large"))?,
        None => 0,
    };
    Ok(kernel_version(major, minor, patch))
}

/// Parses one `CONFIG_NAME=value` assignment (a `.config` line, or `bpfsign gen
/// --kconfig-value`) into a [`GenOptions::kconfig`] entry. The value is kept as written (`y`,
/// `m`, `n`, a number or a quoted string); `origin` names the text in errors.
pub fn parse_kconfig_assignment(text: &str, origin: &str) -> Result<(String, String), BuildError> {
    let bad = |message: String| BuildError::Input {
        origin: origin.to_string(),
        message,
    };
    let Some((name, value)) = text.split_once('=') else {
        return Err(bad(format!("'{text}' is not CONFIG_NAME=VALUE")));
    };
    let valid_name = name.len() > "CONFIG_".len()
        && name.starts_with("CONFIG_")
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !valid_name {
        return Err(bad(format!(
            "'{name}' is not a kernel config option name (CONFIG_[A-Za-z0-9_]+)"
        )));
    }
    if value.is_empty() {
        return Err(bad(format!(
            "{name} has no value (y, m, n, a number or a \"string\")"
        )));
    }
    Ok((name.to_string(), value.to_string()))
}

/// Parses a kernel `.config` into [`GenOptions::kconfig`] values: `CONFIG_NAME=value` lines;
/// blank lines and `#` comments are skipped, `# CONFIG_X is not set` included (like libbpf, the
/// option then stays unset: a weak extern reads 0, a strong one is an error). A later line
/// overrides an earlier one. `origin` (the file name) prefixes errors with the line number.
pub fn parse_kconfig(text: &str, origin: &str) -> Result<BTreeMap<String, String>, BuildError> {
    let mut values = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (name, value) = parse_kconfig_assignment(line, &format!("{origin}:{}", i + 1))?;
        values.insert(name, value);
    }
    Ok(values)
}

/// Reads a kernel `.config` file with [`parse_kconfig`]. A gzip-compressed file (like
/// `/proc/config.gz`) is refused with the command that decompresses it.
pub fn read_kconfig(path: impl AsRef<Path>) -> Result<BTreeMap<String, String>, BuildError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| BuildError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let origin = path.display().to_string();
    let input = |message: &str| BuildError::Input {
        origin: origin.clone(),
        message: message.to_string(),
    };
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(input(
            "gzip-compressed; decompress it first (`zcat FILE > kernel.config`)",
        ));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| input("not a text file (.config)"))?;
    parse_kconfig(text, &origin)
}

/// Emits one loader with an explicit configuration (e.g. the test-only
/// [`emit::LoaderConfig::bpftool_p1_compat`]). Returns `(insns, data)`.
pub fn generate_with_config(
    obj: &parse::Object,
    opts: &GenOptions,
    cfg: &emit::LoaderConfig,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| default_object_name(&obj.file));
    let linked = link::link(obj, opts, &name)?;
    let l = emit::emit_loader(&obj.file, &linked, cfg)?;
    Ok((l.insns, l.data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kernel_versions() {
        assert_eq!(parse_kernel_version("6.18.44").unwrap(), 0x06122c);
        assert_eq!(parse_kernel_version("6.18").unwrap(), 0x061200);
        assert_eq!(parse_kernel_version("6.18.0-rc1+").unwrap(), 0x061200);
        assert_eq!(
            parse_kernel_version("6.18.44+deb13-amd64").unwrap(),
            0x06122c
        );
        assert_eq!(parse_kernel_version("4.19.300").unwrap(), 0x0413ff);
        assert_eq!(parse_kernel_version("0x61200").unwrap(), 0x061200);
        for bad in [
            "",
            "6",
            "6.",
            "6..1",
            "256.1.1",
            "0xZZ",
            "v6.18",
            "6.18.1.2",
            "99999999999.1",
        ] {
            let e = parse_kernel_version(bad).unwrap_err();
            assert!(matches!(e, BuildError::Input { .. }), "{bad}: {e}");
            assert!(e.to_string().contains("expected MAJOR.MINOR"), "{e}");
        }
    }

    #[test]
    fn kconfig_text() {
        let text = "#\n# Automatically generated file\n\nCONFIG_HZ=250\n# CONFIG_FOO is not set\n\
                    CONFIG_LOCALVERSION=\"-x\"\nCONFIG_HZ=1000\r\n";
        let v = parse_kconfig(text, "c").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v["CONFIG_HZ"], "1000");
        assert_eq!(v["CONFIG_LOCALVERSION"], "\"-x\"");
        let e = parse_kconfig("CONFIG_A=y\nHZ=250\n", "my.config").unwrap_err();
        assert!(e.to_string().starts_with("my.config:2: 'HZ' is not"), "{e}");
        let e = parse_kconfig("CONFIG_A\n", "c").unwrap_err();
        assert!(e.to_string().contains("not CONFIG_NAME=VALUE"), "{e}");
        let e = parse_kconfig_assignment("CONFIG_A=", "--kconfig-value").unwrap_err();
        assert!(e.to_string().contains("has no value"), "{e}");
        assert!(parse_kconfig_assignment("CONFIG_=y", "x").is_err());
        assert!(parse_kconfig_assignment("CONFIG_A-B=y", "x").is_err());
    }

    #[test]
    fn read_kconfig_refuses_gzip_and_missing_files() {
        let dir = std::env::temp_dir().join(format!("bpfsign-kconfig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let gz = dir.join("config.gz");
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0]).unwrap();
        let e = read_kconfig(&gz).unwrap_err();
        assert!(e.to_string().contains("zcat"), "{e}");
        let e = read_kconfig(dir.join("missing")).unwrap_err();
        assert!(matches!(e, BuildError::Io { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sign_object_reports_each_stage_in_one_type() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let e = sign_object(
            fixtures.join("obj/nope.bpf.o"),
            None,
            &GenOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e, BuildError::Io { .. }), "{e}");
        let e = sign_object(
            fixtures.join("keys/TEST-ONLY-key-a.pem"),
            None,
            &GenOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&e, BuildError::Parse(g) if g.kind == ErrorKind::NotElf),
            "{e}"
        );
        let kcfg =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/gen/kcfg/kcfg.bpf.o");
        let e = sign_object(&kcfg, None, &GenOptions::default()).unwrap_err();
        assert!(
            matches!(&e, BuildError::Generate(g) if g.kind == ErrorKind::MissingInput),
            "{e}"
        );
        let signer = Signer::from_pem_file(fixtures.join("keys/TEST-ONLY-key-a.pem")).unwrap();
        let a = sign_object(
            fixtures.join("obj/hello.bpf.o"),
            Some(&signer),
            &GenOptions::default(),
        )
        .unwrap();
        assert_eq!(a.meta.name, "hello");
        assert!(a.missing_signatures().is_empty());
        // `?` converts the parts' errors.
        fn via_question_mark() -> Result<(), BuildError> {
            Signer::from_pem_file("/nonexistent/key.pem")?;
            Ok(())
        }
        assert!(matches!(via_question_mark(), Err(BuildError::Sign(_))));
        let art: Result<Artifact, BuildError> = Artifact::from_bytes(b"{}").map_err(Into::into);
        assert!(matches!(art, Err(BuildError::Artifact(_))));
    }
}
