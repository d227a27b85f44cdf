//! The versioned skeleton artifact: one data blob, one loader per protocol, their exclusive-map
//! hashes and signatures, the signer's public description and the skeleton metadata.
//!
//! Serialised as JSON (deterministic: fixed field order, byte strings as lowercase hex, a
//! trailing newline), so the same object and the same RSA key give the same file byte for byte.
//! [`Artifact::write_if_changed`] leaves an identical file untouched (no rebuild cascade), like
//! prost-build. [`Artifact::from_bytes`] refuses other format versions and artifacts whose
//! hashes do not match their instructions.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::meta::{Protocol, SkeletonMeta};
pub use crate::sign::SignerInfo;
use crate::sign::{SignError, Signer};

/// The artifact format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Why an artifact could not be built, read or written.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// Signing a variant failed.
    #[error("signing the {protocol} loader: {source}")]
    Sign {
        /// The variant being signed.
        protocol: String,
        /// The signer's error.
        source: SignError,
    },
    /// The bytes are not an artifact (bad JSON, missing field, bad hex).
    #[error("not a bpfsign artifact: {0}")]
    Format(String),
    /// The artifact was written by an incompatible bpfsign.
    #[error("artifact format_version {found}, this bpfsign reads version {FORMAT_VERSION}; regenerate it with this bpfsign (`bpfsign gen`)")]
    Version {
        /// The version in the file.
        found: u64,
    },
    /// The artifact contradicts itself (hash of other instructions, duplicate protocol, ...).
    #[error("inconsistent artifact: {0}")]
    Inconsistent(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One loader variant: the instructions for one kernel signing protocol.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Kernel signing protocol this loader is for.
    pub protocol: Protocol,
    /// Loader program instructions (8-byte `struct bpf_insn`s, target byte order).
    #[serde(with = "hex_bytes")]
    pub insns: Vec<u8>,
    /// SHA-256 of `insns`: the metadata map's `excl_prog_hash`.
    #[serde(with = "hex_array32")]
    pub excl_prog_hash: [u8; 32],
    /// Detached CMS signature (DER) over the protocol's payload; `None` for the unsigned
    /// variant and for every variant of an artifact built without a signer.
    #[serde(with = "hex_opt")]
    pub signature: Option<Vec<u8>>,
}

/// A generated light skeleton, ready to be embedded by the macro or dumped by the CLI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// Always [`FORMAT_VERSION`] for artifacts this crate writes.
    pub format_version: u32,
    /// Skeleton metadata (maps, programs, global-data layouts).
    pub meta: SkeletonMeta,
    /// The data blob (the metadata map's value), shared by every variant.
    #[serde(with = "hex_bytes")]
    pub data: Vec<u8>,
    /// One loader per protocol, in generator order (Unsigned, P1, P1b, P2).
    pub variants: Vec<Variant>,
    /// Who signed the variants; `None` for an unsigned artifact.
    pub signer: Option<SignerInfo>,
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(bytes)
}

/// The bytes a protocol's signature covers: P1/P1b the instructions, P2 instructions ‖ data,
/// unsigned nothing (`None`).
pub fn signed_payload(protocol: Protocol, insns: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    match protocol {
        Protocol::Unsigned => None,
        Protocol::P1 | Protocol::P1b => Some(insns.to_vec()),
        Protocol::P2 => Some([insns, data].concat()),
    }
}

impl Artifact {
    /// Builds the artifact from the generator's output, hashing every loader and, with a
    /// signer, signing every variant except the unsigned one over its protocol's payload.
    pub fn from_generated(generated: crate::Generated, signer: Option<&Signer>) -> Result<Artifact, ArtifactError> {
        let crate::Generated { data, loaders, meta, .. } = generated;
        let mut variants = Vec::with_capacity(loaders.len());
        for (protocol, insns) in loaders {
            let signature = match (signer, signed_payload(protocol, &insns, &data)) {
                (Some(signer), Some(payload)) => Some(signer.sign(&payload).map_err(|source| ArtifactError::Sign {
                    protocol: protocol_name(protocol),
                    source,
                })?),
                _ => None,
            };
            variants.push(Variant { protocol, excl_prog_hash: sha256(&insns), insns, signature });
        }
        let artifact = Artifact {
            format_version: FORMAT_VERSION,
            meta,
            data,
            variants,
            signer: signer.map(|s| s.info().clone()),
        };
        artifact.check()?;
        Ok(artifact)
    }

    /// The variant for `protocol`, if the artifact has one.
    pub fn variant(&self, protocol: Protocol) -> Option<&Variant> {
        self.variants.iter().find(|v| v.protocol == protocol)
    }

    /// Serialises to the deterministic JSON form.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Parses an artifact, checking its format version first and then its consistency.
    pub fn from_bytes(bytes: &[u8]) -> Result<Artifact, ArtifactError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| ArtifactError::Format(e.to_string()))?;
        match value.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(found) => return Err(ArtifactError::Version { found }),
            None => return Err(ArtifactError::Format("no numeric format_version field".to_string())),
        }
        let artifact: Artifact = serde_json::from_value(value).map_err(|e| ArtifactError::Format(e.to_string()))?;
        artifact.check()?;
        Ok(artifact)
    }

    /// Reads and parses an artifact file.
    pub fn read(path: impl AsRef<Path>) -> Result<Artifact, ArtifactError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ArtifactError::Io { path: path.to_path_buf(), source })?;
        Artifact::from_bytes(&bytes)
    }

    /// Writes the artifact unless `path` already holds exactly these bytes. Returns whether
    /// the file was written. The write goes to a temporary file renamed over `path`, so readers
    /// never see a partial artifact.
    pub fn write_if_changed(&self, path: impl AsRef<Path>) -> Result<bool, ArtifactError> {
        write_if_changed(path.as_ref(), &self.to_bytes())
    }

    fn check(&self) -> Result<(), ArtifactError> {
        for (i, v) in self.variants.iter().enumerate() {
            let name = protocol_name(v.protocol);
            if self.variants[..i].iter().any(|w| w.protocol == v.protocol) {
                return Err(ArtifactError::Inconsistent(format!("two {name} variants")));
            }
            if v.insns.is_empty() || v.insns.len() % 8 != 0 {
                return Err(ArtifactError::Inconsistent(format!(
                    "{name} insns are {} bytes, not a positive multiple of 8",
                    v.insns.len()
                )));
            }
            if sha256(&v.insns) != v.excl_prog_hash {
                return Err(ArtifactError::Inconsistent(format!("{name} excl_prog_hash is not SHA-256 of its insns")));
            }
            if v.protocol == Protocol::Unsigned && v.signature.is_some() {
                return Err(ArtifactError::Inconsistent("the unsigned variant carries a signature".to_string()));
            }
            if self.signer.is_none() && v.signature.is_some() {
                return Err(ArtifactError::Inconsistent(format!("{name} is signed but the artifact names no signer")));
            }
            if self.signer.is_some() && v.protocol != Protocol::Unsigned && v.signature.is_none() {
                return Err(ArtifactError::Inconsistent(format!("{name} has no signature but the artifact has a signer")));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} insns, signature {}",
            protocol_name(self.protocol),
            self.insns.len() / 8,
            self.signature.as_ref().map_or("none".to_string(), |s| format!("{} bytes", s.len()))
        )
    }
}

/// The serde name of a protocol ("unsigned", "p1", "p1b", "p2").
pub fn protocol_name(protocol: Protocol) -> String {
    match serde_json::to_value(protocol) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{protocol:?}"),
    }
}

/// Parses a protocol from its serde name ("unsigned", "p1", "p1b", "p2").
pub fn parse_protocol(name: &str) -> Option<Protocol> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

/// Writes `bytes` to `path` unless it already holds them; returns whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool, ArtifactError> {
    let io = |source| ArtifactError::Io { path: path.to_path_buf(), source };
    match std::fs::read(path) {
        Ok(old) if old == bytes => return Ok(false),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{file_name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|source| ArtifactError::Io { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })?;
    Ok(true)
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn from_hex(s: &str) -> Result<Vec<u8>, String> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let s = s.as_bytes();
    if s.len() % 2 != 0 {
        return Err(format!("hex string of odd length {}", s.len()));
    }
    s.chunks(2)
        .enumerate()
        .map(|(i, p)| match (nibble(p[0]), nibble(p[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(format!("non-hex character at offset {}", 2 * i)),
        })
        .collect()
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_hex(bytes))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

mod hex_array32 {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        super::hex_bytes::serialize(bytes, s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let v = super::hex_bytes::deserialize(d)?;
        let n = v.len();
        v.try_into()
            .map_err(|_| serde::de::Error::custom(format!("expected 32 bytes, found {n}")))
    }
}

mod hex_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_some(&super::to_hex(b)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        s.map(|s| super::from_hex(&s).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
    }
    fn golden(file: &str) -> Vec<u8> {
        std::fs::read(fixtures().join("golden/hello").join(file)).unwrap()
    }
    fn signer() -> Signer {
        Signer::from_pem_file(fixtures().join("keys/TEST-ONLY-key-a.pem")).unwrap()
    }
    fn empty_meta() -> SkeletonMeta {
        serde_json::from_str(r#"{"name":"hello","maps":[],"progs":[],"datasecs":[]}"#).unwrap()
    }

    /// The hello goldens shaped as generator output (the P1 slot holds bpftool-p1's loader).
    fn golden_generated() -> crate::Generated {
        crate::Generated {
            data: golden("data.bin"),
            loaders: vec![
                (Protocol::Unsigned, golden("unsigned.insns")),
                (Protocol::P1, golden("p1-libbpf170.insns")),
                (Protocol::P1b, golden("p1b.insns")),
                (Protocol::P2, golden("p2.insns")),
            ],
            meta: empty_meta(),
        }
    }

    #[test]
    fn signs_each_protocol_over_its_payload() {
        let a = Artifact::from_generated(golden_generated(), Some(&signer())).unwrap();
        assert_eq!(a.format_version, FORMAT_VERSION);
        assert!(a.variant(Protocol::Unsigned).unwrap().signature.is_none());
        for (p, stem) in [(Protocol::P1, "p1-libbpf170"), (Protocol::P1b, "p1b"), (Protocol::P2, "p2")] {
            let v = a.variant(p).unwrap();
            assert_eq!(v.excl_prog_hash.to_vec(), golden(&format!("{stem}.excl")), "{p:?}");
            assert_eq!(v.signature.clone().unwrap(), golden(&format!("{stem}.sig")), "{p:?}");
        }
        assert_eq!(a.signer.as_ref(), Some(signer().info()));
    }

    #[test]
    fn json_round_trip_is_deterministic() {
        let a = Artifact::from_generated(golden_generated(), Some(&signer())).unwrap();
        let bytes = a.to_bytes();
        assert_eq!(bytes, Artifact::from_generated(golden_generated(), Some(&signer())).unwrap().to_bytes());
        let back = Artifact::from_bytes(&bytes).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.to_bytes(), bytes);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains(&format!("\"data\": \"{}\"", to_hex(&golden("data.bin")))));
        assert!(to_hex(&[0xAB, 0x0c]) == "ab0c");
    }

    #[test]
    fn unsigned_artifact_has_no_signatures() {
        let a = Artifact::from_generated(golden_generated(), None).unwrap();
        assert!(a.signer.is_none());
        assert!(a.variants.iter().all(|v| v.signature.is_none()));
        assert_eq!(Artifact::from_bytes(&a.to_bytes()).unwrap(), a);
    }

    #[test]
    fn rejects_other_versions_and_tampering() {
        let a = Artifact::from_generated(golden_generated(), Some(&signer())).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&a.to_bytes()).unwrap();
        v["format_version"] = 2.into();
        let e = Artifact::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(matches!(e, ArtifactError::Version { found: 2 }), "{e}");
        assert!(e.to_string().contains("regenerate"), "{e}");

        let mut v: serde_json::Value = serde_json::from_slice(&a.to_bytes()).unwrap();
        v["variants"][3]["insns"] = to_hex(&golden("p1b.insns")).into();
        let e = Artifact::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(e.to_string().contains("p2 excl_prog_hash"), "{e}");

        let mut v: serde_json::Value = serde_json::from_slice(&a.to_bytes()).unwrap();
        v["data"] = "abc".into();
        let e = Artifact::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(matches!(e, ArtifactError::Format(_)) && e.to_string().contains("odd length"), "{e}");

        for junk in [&b"not json"[..], b"{}", b"[1,2]"] {
            assert!(matches!(Artifact::from_bytes(junk).unwrap_err(), ArtifactError::Format(_)));
        }
    }

    #[test]
    fn write_if_changed_skips_identical_content() {
        let dir = std::env::temp_dir().join(format!("bpfsign-artifact-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hello.skel");
        let a = Artifact::from_generated(golden_generated(), None).unwrap();
        assert!(a.write_if_changed(&path).unwrap());
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert!(!a.write_if_changed(&path).unwrap());
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        let signed = Artifact::from_generated(golden_generated(), Some(&signer())).unwrap();
        assert!(signed.write_if_changed(&path).unwrap());
        assert_eq!(Artifact::read(&path).unwrap(), signed);
        let e = a.write_if_changed(dir.join("no/such/dir/x.skel")).unwrap_err();
        assert!(matches!(e, ArtifactError::Io { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn protocol_names() {
        for (p, n) in [(Protocol::Unsigned, "unsigned"), (Protocol::P1, "p1"), (Protocol::P1b, "p1b"), (Protocol::P2, "p2")] {
            assert_eq!(protocol_name(p), n);
            assert_eq!(parse_protocol(n), Some(p));
        }
        assert_eq!(parse_protocol("p3"), None);
    }
}
