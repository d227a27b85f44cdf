//! The one-call API: [`sign_object`] (read, parse, generate and sign one object) and the
//! build-input helpers ([`read_kconfig`], [`parse_kernel_version`], …), with [`BuildError`],
//! the one error type that wraps every stage's error.

use std::collections::BTreeMap;
use std::path::Path;

use crate::artifact::{Artifact, ArtifactError};
use crate::error::Error;
use crate::options::{GenOptions, ProtocolSelection};
use crate::pipeline::{generate_for, parse_object};
use crate::sign::{SignError, Signer};

/// Any error of the one-call API ([`sign_object`]) and the build-input helpers
/// ([`read_kconfig`], [`parse_kernel_version`], …): one type for library users,
/// with every part's typed error inside.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An input file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The object could not be parsed ([`parse_object`]).
    #[error("{0}")]
    Parse(Error),
    /// The loaders could not be generated ([`crate::generate_for`]).
    #[error("{0}")]
    Generate(Error),
    /// A key, certificate or signature was refused.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The artifact could not be built, read, written or signed.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// A build input given as text (a `.config` line, a kernel version, …) is malformed.
    #[error("{origin}: {message}")]
    Input {
        /// Where the text came from (`FILE:LINE`, or the option).
        origin: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

/// Reads, parses, generates and (with a signer) signs one BPF object: the one-call form of
/// [`parse_object`] + [`generate_for`] + [`Artifact::from_generated`], with the default
/// [`ProtocolSelection`] (the P1, P1b and P2 loaders; no unsigned loader). The object's file
/// name (without directories) names it in errors and gives the default object name.
pub fn sign_object(
    path: impl AsRef<Path>,
    signer: Option<&Signer>,
    opts: &GenOptions,
) -> Result<Artifact, BuildError> {
    sign_object_for(path, signer, opts, &ProtocolSelection::default())
}

/// [`sign_object`] embedding the loaders `selection` names (chosen signed protocols, and the
/// unsigned loader only with [`ProtocolSelection::allow_unsigned`]).
pub fn sign_object_for(
    path: impl AsRef<Path>,
    signer: Option<&Signer>,
    opts: &GenOptions,
    selection: &ProtocolSelection,
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
    let generated = generate_for(&obj, opts, selection).map_err(BuildError::Generate)?;
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
pub(crate) fn parse_kconfig(
    text: &str,
    origin: &str,
) -> Result<BTreeMap<String, String>, BuildError> {
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

/// Reads a kernel `.config` file into [`GenOptions::kconfig`] values: `CONFIG_NAME=value`
/// lines; blank lines and `#` comments are skipped, `# CONFIG_X is not set` included (the
/// option stays unset: a weak extern reads 0, a strong one is an error); a later line overrides
/// an earlier one, and errors name the file and line. A gzip-compressed file (like
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

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
    fn only_selected_loaders_are_embedded_byte_for_byte() {
        use crate::meta::Protocol;
        let obj =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/obj/hello.bpf.o");
        let elf = std::fs::read(&obj).unwrap();
        let parsed = parse_object("hello.bpf.o", &elf).unwrap();
        let all = crate::pipeline::generate(&parsed, &GenOptions::default()).unwrap();
        let protocols = |a: &Artifact| a.variants.iter().map(|v| v.protocol).collect::<Vec<_>>();

        let default = sign_object(&obj, None, &GenOptions::default()).unwrap();
        assert_eq!(protocols(&default), Protocol::SIGNED);
        let sel = ProtocolSelection::new()
            .with_signed(&[Protocol::P2, Protocol::P1b])
            .unwrap();
        let two = sign_object_for(&obj, None, &GenOptions::default(), &sel).unwrap();
        assert_eq!(protocols(&two), [Protocol::P1b, Protocol::P2]);
        let with_unsigned = sign_object_for(
            &obj,
            None,
            &GenOptions::default(),
            &sel.clone().allow_unsigned(true),
        )
        .unwrap();
        assert_eq!(
            protocols(&with_unsigned),
            [Protocol::Unsigned, Protocol::P1b, Protocol::P2]
        );
        for a in [&default, &two, &with_unsigned] {
            assert_eq!(a.data, all.data);
            for v in &a.variants {
                assert_eq!(Some(v.insns.as_slice()), all.loader(v.protocol));
            }
        }
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
