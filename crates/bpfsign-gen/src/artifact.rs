//! The versioned skeleton artifact: one data blob, one loader per protocol, their exclusive-map
//! hashes and signatures, the signer's public description and certificate, the generator's
//! version and the skeleton metadata.
//!
//! Serialised as JSON (deterministic: fixed field order, byte strings as lowercase hex, a
//! trailing newline), so the same object and the same RSA key give the same file byte for byte.
//! [`Artifact::write_if_changed`] leaves an identical file untouched (no rebuild cascade), like
//! prost-build. [`Artifact::from_bytes`] refuses other format versions and artifacts whose
//! hashes do not match their instructions.
//!
//! Offline signing (HSM): generate without a signer, hand [`Artifact::payload`] of each
//! protocol to the signing device, and put the detached signatures back with
//! [`Artifact::attach_signature`], which verifies each against the certificate first. Until all
//! three are attached the artifact is partially signed ([`Artifact::missing_signatures`]).
//!
//! [`Artifact::verify`] checks a finished artifact the way the kernel and the loader will at
//! load time (every signature over its protocol's payload with a certificate, the exclusive-map
//! hashes, the data-blob hash built into the P1/P1b loaders), with typed per-protocol errors
//! ([`VerifyError`]); `bpfsign verify` and `include_signed_skel!` both use it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::meta::{Protocol, SkeletonMeta};
use crate::sign::{Certificate, ExternalSigner, SignError, Signer, SignerDescription};

mod verify;
pub use verify::{VerifyError, VerifyErrors, MAX_P2_PAYLOAD};

/// The artifact format this crate writes and reads.
///
/// Still 1 with the `generator` and `certificate` fields: both are optional on input (older
/// files read as `""` / `None`) and ignored by older readers, so no reader misreads a file.
pub const FORMAT_VERSION: u32 = 1;

/// What [`Artifact::generator`] holds for artifacts made by this crate: `bpfsign-gen <version>`.
pub const GENERATOR: &str = concat!("bpfsign-gen ", env!("CARGO_PKG_VERSION"));

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
    /// An externally made signature was refused (malformed, or does not verify).
    #[error("the {protocol} signature: {source}")]
    Signature {
        /// The variant the signature was meant for.
        protocol: String,
        /// Why it was refused.
        source: SignError,
    },
    /// A signature cannot go into this artifact (no such variant, another signer, no
    /// certificate to verify it with).
    #[error("cannot attach the {protocol} signature: {reason}")]
    Attach {
        /// The variant the signature was meant for.
        protocol: String,
        /// Why not, and what to do.
        reason: String,
    },
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
    #[serde(with = "hex")]
    pub insns: Vec<u8>,
    /// SHA-256 of `insns`: the metadata map's `excl_prog_hash`.
    #[serde(with = "hex")]
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
    /// The tool that generated the loaders ([`GENERATOR`]); empty in files written before the
    /// field existed.
    #[serde(default)]
    pub generator: String,
    /// Skeleton metadata (maps, programs, global-data layouts).
    pub meta: SkeletonMeta,
    /// The data blob (the metadata map's value), shared by every variant.
    #[serde(with = "hex")]
    pub data: Vec<u8>,
    /// One loader per protocol, in generator order (Unsigned, P1, P1b, P2).
    pub variants: Vec<Variant>,
    /// Who signed the variants; `None` for an unsigned artifact.
    pub signer: Option<SignerDescription>,
    /// The signer's X.509 certificate (DER, public): what to register in the kernel keyring,
    /// and what [`Artifact::attach_signature`] verifies further signatures with. `None` when
    /// unsigned, or when the signatures were attached by a tool that did not record it.
    #[serde(default, with = "hex_opt")]
    pub certificate: Option<Vec<u8>>,
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
    pub fn from_generated(
        generated: crate::pipeline::Generated,
        signer: Option<&Signer>,
    ) -> Result<Artifact, ArtifactError> {
        let crate::pipeline::Generated {
            data,
            loaders,
            meta,
            ..
        } = generated;
        let mut variants = Vec::with_capacity(loaders.len());
        for (protocol, insns) in loaders {
            let signature =
                match (signer, signed_payload(protocol, &insns, &data)) {
                    (Some(signer), Some(payload)) => Some(signer.sign(&payload).map_err(
                        |source| ArtifactError::Sign {
                            protocol: protocol_name(protocol),
                            source,
                        },
                    )?),
                    _ => None,
                };
            variants.push(Variant {
                protocol,
                excl_prog_hash: sha256(&insns),
                insns,
                signature,
            });
        }
        let certificate = signer.map(|s| s.certificate().der().to_vec());
        let artifact = Artifact {
            format_version: FORMAT_VERSION,
            generator: GENERATOR.to_string(),
            meta,
            data,
            variants,
            signer: signer.map(|s| s.info().clone()),
            certificate,
        };
        artifact.check()?;
        Ok(artifact)
    }

    /// The variant for `protocol`, if the artifact has one.
    pub fn variant(&self, protocol: Protocol) -> Option<&Variant> {
        self.variants.iter().find(|v| v.protocol == protocol)
    }

    /// The exact bytes the `protocol` signature covers ([`signed_payload`]); `None` for the
    /// unsigned protocol or a protocol the artifact has no variant for.
    pub fn payload(&self, protocol: Protocol) -> Option<Vec<u8>> {
        signed_payload(protocol, &self.variant(protocol)?.insns, &self.data)
    }

    /// Signed protocols whose variant has no signature yet (all of them for an unsigned
    /// artifact, none for a fully signed one).
    pub fn missing_signatures(&self) -> Vec<Protocol> {
        self.variants
            .iter()
            .filter(|v| v.protocol != Protocol::Unsigned && v.signature.is_none())
            .map(|v| v.protocol)
            .collect()
    }

    /// Inserts a detached CMS signature made elsewhere (HSM, `openssl cms -sign`) for
    /// `protocol`, after checking that the kernel would accept it: it must verify over
    /// [`Artifact::payload`] with `cert`, or, without `cert`, with the certificate the artifact
    /// already carries. The first signature makes `cert` the artifact's signer; later ones must
    /// come from the same signer. An existing signature of the variant is replaced.
    /// `origin` names the signature in errors.
    pub fn attach_signature(
        &mut self,
        protocol: Protocol,
        signature: Vec<u8>,
        cert: Option<&Certificate>,
        origin: &str,
    ) -> Result<(), ArtifactError> {
        let name = protocol_name(protocol);
        let refuse = |reason: String| ArtifactError::Attach {
            protocol: name.clone(),
            reason,
        };
        let payload = match (protocol, self.payload(protocol)) {
            (Protocol::Unsigned, _) => {
                return Err(refuse(
                    "the unsigned variant is never signed (sign p1, p1b or p2)".to_string(),
                ))
            }
            (_, None) => return Err(refuse(format!("the artifact has no {name} variant"))),
            (_, Some(p)) => p,
        };
        let sign_err = |source| ArtifactError::Signature {
            protocol: name.clone(),
            source,
        };
        let stored;
        let cert = match (cert, &self.certificate) {
            (Some(c), _) => c,
            (None, Some(der)) => {
                stored = Certificate::from_bytes(der, "the artifact's certificate").map_err(sign_err)?;
                &stored
            }
            (None, None) => {
                return Err(refuse(
                    "the artifact carries no certificate to verify it with; pass the signer's certificate (--cert CERT)"
                        .to_string(),
                ))
            }
        };
        if let Some(signer) = &self.signer {
            if signer != cert.info() {
                return Err(refuse(format!(
                    "the artifact is already signed by '{}' ({}), the certificate is '{}' ({}); \
                     sign with the same key, or start again from `bpfsign gen --unsigned`",
                    signer.subject,
                    signer.key_algorithm,
                    cert.info().subject,
                    cert.info().key_algorithm
                )));
            }
        }
        cert.verify_detached(&payload, &signature, origin)
            .map_err(sign_err)?;
        // Change a copy, so a refused result leaves `self` as it was.
        let mut next = self.clone();
        if let Some(v) = next.variants.iter_mut().find(|v| v.protocol == protocol) {
            v.signature = Some(signature);
        }
        next.signer = Some(cert.info().clone());
        next.certificate.get_or_insert_with(|| cert.der().to_vec());
        next.check()?;
        *self = next;
        Ok(())
    }

    /// Signs every variant still without a signature ([`Artifact::missing_signatures`]) by
    /// running the external signer on its protocol's payload; each signature is verified with
    /// the signer's certificate before it is attached ([`Artifact::attach_signature`]). On an
    /// error the artifact keeps the signatures attached so far.
    pub fn sign_externally(&mut self, signer: &ExternalSigner) -> Result<(), ArtifactError> {
        for protocol in self.missing_signatures() {
            let name = protocol_name(protocol);
            let payload = self.payload(protocol).unwrap_or_default();
            let sig = signer
                .sign(&payload, &format!("the {name} payload"))
                .map_err(|source| ArtifactError::Sign {
                    protocol: name.clone(),
                    source,
                })?;
            let origin = format!("the {name} signature made by `{}`", signer.command());
            self.attach_signature(protocol, sig, Some(signer.certificate()), &origin)?;
        }
        Ok(())
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
        // serde_json's own limit (128) is below what the generator writes for a type nested
        // to the metadata's depth limit; check a bound of our own instead.
        let depth = json_nesting_depth(bytes);
        if depth > MAX_JSON_DEPTH {
            return Err(ArtifactError::Format(format!(
                "JSON nested {depth} levels deep, more than the {MAX_JSON_DEPTH} an artifact can have"
            )));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        de.disable_recursion_limit();
        let value = serde_json::Value::deserialize(&mut de)
            .and_then(|v| de.end().map(|()| v))
            .map_err(|e| ArtifactError::Format(e.to_string()))?;
        match value.get("format_version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(FORMAT_VERSION) => {}
            Some(found) => return Err(ArtifactError::Version { found }),
            None => {
                return Err(ArtifactError::Format(
                    "no numeric format_version field".to_string(),
                ))
            }
        }
        let artifact: Artifact =
            serde_json::from_value(value).map_err(|e| ArtifactError::Format(e.to_string()))?;
        artifact.check()?;
        Ok(artifact)
    }

    /// Reads and parses an artifact file.
    pub fn read(path: impl AsRef<Path>) -> Result<Artifact, ArtifactError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ArtifactError::Io {
            path: path.to_path_buf(),
            source,
        })?;
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
                return Err(ArtifactError::Inconsistent(format!(
                    "{name} excl_prog_hash is not SHA-256 of its insns"
                )));
            }
            if v.protocol == Protocol::Unsigned && v.signature.is_some() {
                return Err(ArtifactError::Inconsistent(
                    "the unsigned variant carries a signature".to_string(),
                ));
            }
            if self.signer.is_none() && v.signature.is_some() {
                return Err(ArtifactError::Inconsistent(format!(
                    "{name} is signed but the artifact names no signer"
                )));
            }
        }
        // A signer without any signature would be a lie; a partially signed artifact is a
        // legitimate step of offline signing (see `missing_signatures`).
        if self.signer.is_some() && self.variants.iter().all(|v| v.signature.is_none()) {
            return Err(ArtifactError::Inconsistent(
                "the artifact names a signer but has no signature".to_string(),
            ));
        }
        match (&self.certificate, &self.signer) {
            (Some(_), None) => {
                return Err(ArtifactError::Inconsistent(
                    "the artifact carries a certificate but names no signer".to_string(),
                ))
            }
            (Some(der), Some(signer)) => {
                let cert = Certificate::from_bytes(der, "the artifact's certificate")
                    .map_err(|e| ArtifactError::Inconsistent(e.to_string()))?;
                if cert.info() != signer {
                    return Err(ArtifactError::Inconsistent(format!(
                        "the certificate ('{}') is not the signer's ('{}')",
                        cert.info().subject,
                        signer.subject
                    )));
                }
            }
            _ => {}
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
            self.signature
                .as_ref()
                .map_or("none".to_string(), |s| format!("{} bytes", s.len()))
        )
    }
}

/// Deepest JSON nesting [`Artifact::from_bytes`] reads. The generator's deepest artifact is
/// 140 levels: 6 down to a variable's type, then 4 per struct level of
/// [`crate::meta::TypeMeta`] (object, variant, `members`, member) for at most 33 levels, and
/// 2 for the `Opaque` type that ends it.
const MAX_JSON_DEPTH: usize = 160;

/// Deepest nesting of `[`/`{` in JSON text (brackets inside strings do not count). Bounds the
/// recursion of the parser, which runs without serde_json's recursion limit.
fn json_nesting_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The name of a protocol in the artifact ("unsigned", "p1", "p1b", "p2"): its
/// [`Protocol::as_str`], which is also its serde form.
pub fn protocol_name(protocol: Protocol) -> String {
    protocol.as_str().to_string()
}

/// Writes `bytes` to `path` unless it already holds them; returns whether it wrote.
pub(crate) fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool, ArtifactError> {
    write_file_if_changed(path, bytes).map_err(|source| ArtifactError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The I/O of [`Artifact::write_if_changed`], shared with the compile stage: compares, then writes a
/// temporary file beside `path` and renames it over, so readers never see a partial file.
///
/// The temporary file has a random name and is created exclusively (`O_CREAT | O_EXCL`, which
/// never follows a symbolic link), with mode 0644 before the umask: a link or file planted at
/// a predictable temporary name cannot redirect the write. The final rename replaces `path`
/// itself, also when `path` is a symbolic link (the link is replaced, its target untouched).
pub fn write_file_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    use std::io::Write;
    match std::fs::read(path) {
        Ok(old) if old == bytes => return Ok(false),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let prefix = format!(".{file_name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // On failure the temporary file is removed when the error (which owns it) is dropped.
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(true)
}

/// `Option<Vec<u8>>` as `null` or a lowercase hex string, like `#[serde(with = "hex")]`.
mod hex_opt {
    use serde::{de::Error, Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        bytes.as_ref().map(hex::encode).serialize(s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<std::borrow::Cow<'de, str>>::deserialize(d)?
            .map(|text| hex::decode(text.as_bytes()).map_err(D::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
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
    fn golden_generated() -> crate::pipeline::Generated {
        crate::pipeline::Generated {
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
        for (p, stem) in [
            (Protocol::P1, "p1-libbpf170"),
            (Protocol::P1b, "p1b"),
            (Protocol::P2, "p2"),
        ] {
            let v = a.variant(p).unwrap();
            assert_eq!(
                v.excl_prog_hash.to_vec(),
                golden(&format!("{stem}.excl")),
                "{p:?}"
            );
            assert_eq!(
                v.signature.clone().unwrap(),
                golden(&format!("{stem}.sig")),
                "{p:?}"
            );
        }
        assert_eq!(a.signer.as_ref(), Some(signer().info()));
    }

    #[test]
    fn json_round_trip_is_deterministic() {
        let a = Artifact::from_generated(golden_generated(), Some(&signer())).unwrap();
        let bytes = a.to_bytes();
        assert_eq!(
            bytes,
            Artifact::from_generated(golden_generated(), Some(&signer()))
                .unwrap()
                .to_bytes()
        );
        let back = Artifact::from_bytes(&bytes).unwrap();
        assert_eq!(back, a);
        assert_eq!(back.to_bytes(), bytes);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains(&format!(
            "\"data\": \"{}\"",
            hex::encode(golden("data.bin"))
        )));
        assert!(text.contains(&format!("\"generator\": \"{GENERATOR}\"")));
        assert_eq!(
            a.generator,
            format!("bpfsign-gen {}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(a.certificate, Some(signer().cert_der().unwrap()));
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
        v["variants"][3]["insns"] = hex::encode(golden("p1b.insns")).into();
        let e = Artifact::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(e.to_string().contains("p2 excl_prog_hash"), "{e}");

        let mut v: serde_json::Value = serde_json::from_slice(&a.to_bytes()).unwrap();
        v["data"] = "abc".into();
        let e = Artifact::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(
            matches!(e, ArtifactError::Format(_)) && e.to_string().contains("Odd number of digits"),
            "{e}"
        );

        for junk in [&b"not json"[..], b"{}", b"[1,2]"] {
            assert!(matches!(
                Artifact::from_bytes(junk).unwrap_err(),
                ArtifactError::Format(_)
            ));
        }
    }

    #[test]
    fn older_files_without_generator_or_certificate_still_read() {
        let a = Artifact::from_generated(golden_generated(), Some(&signer())).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&a.to_bytes()).unwrap();
        let obj = v.as_object_mut().unwrap();
        obj.remove("generator");
        obj.remove("certificate");
        let back = Artifact::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(
            (back.generator.as_str(), back.certificate.as_ref()),
            ("", None)
        );
        assert_eq!(back.variants, a.variants);
    }

    #[test]
    fn certificate_must_be_the_signers() {
        let a = Artifact::from_generated(golden_generated(), Some(&signer())).unwrap();
        let other = Signer::from_pem_file(fixtures().join("keys/TEST-ONLY-key-b.pem")).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&a.to_bytes()).unwrap();
        v["certificate"] = hex::encode(other.cert_der().unwrap()).into();
        let e = Artifact::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(e.to_string().contains("is not the signer's"), "{e}");
        let mut v: serde_json::Value = serde_json::from_slice(&a.to_bytes()).unwrap();
        v["certificate"] = "00ff".into();
        let e = Artifact::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(matches!(e, ArtifactError::Inconsistent(_)), "{e}");
    }

    #[test]
    fn offline_signatures_attach_one_protocol_at_a_time() {
        let signer = signer();
        let cert = signer.certificate();
        let signed = Artifact::from_generated(golden_generated(), Some(&signer)).unwrap();
        let mut a = Artifact::from_generated(golden_generated(), None).unwrap();
        assert_eq!(
            a.missing_signatures(),
            [Protocol::P1, Protocol::P1b, Protocol::P2]
        );
        assert_eq!(a.payload(Protocol::Unsigned), None);
        assert_eq!(a.payload(Protocol::P1b).unwrap(), golden("p1b.insns"));
        let p2 = [golden("p2.insns"), golden("data.bin")].concat();
        assert_eq!(a.payload(Protocol::P2).unwrap(), p2);

        // Wrong payload (P2 signed over insns only) and no certificate are refused.
        let bad = signer.sign(&golden("p2.insns")).unwrap();
        let e = a
            .attach_signature(Protocol::P2, bad, Some(cert), "p2.sig")
            .unwrap_err();
        assert!(matches!(e, ArtifactError::Signature { .. }), "{e}");
        let sig = signer.sign(&p2).unwrap();
        let e = a
            .attach_signature(Protocol::P2, sig.clone(), None, "p2.sig")
            .unwrap_err();
        assert!(e.to_string().contains("--cert"), "{e}");
        let e = a
            .attach_signature(Protocol::Unsigned, sig.clone(), Some(cert), "u.sig")
            .unwrap_err();
        assert!(matches!(e, ArtifactError::Attach { .. }), "{e}");
        assert_eq!(
            a.missing_signatures().len(),
            3,
            "failed attempts change nothing"
        );

        a.attach_signature(Protocol::P2, sig, Some(cert), "p2.sig")
            .unwrap();
        assert_eq!(a.missing_signatures(), [Protocol::P1, Protocol::P1b]);
        let partial = Artifact::from_bytes(&a.to_bytes()).unwrap();
        assert_eq!(partial, a);

        // Later signatures verify with the recorded certificate; another signer is refused.
        let other = Signer::from_pem_file(fixtures().join("keys/TEST-ONLY-key-b.pem")).unwrap();
        let e = a
            .attach_signature(
                Protocol::P1,
                other.sign(&golden("p1-libbpf170.insns")).unwrap(),
                Some(other.certificate()),
                "p1.sig",
            )
            .unwrap_err();
        assert!(e.to_string().contains("already signed by"), "{e}");
        for p in [Protocol::P1, Protocol::P1b] {
            let sig = signer.sign(&a.payload(p).unwrap()).unwrap();
            a.attach_signature(p, sig, None, "x.sig").unwrap();
        }
        assert!(a.missing_signatures().is_empty());
        assert_eq!(a.to_bytes(), signed.to_bytes());
    }

    #[test]
    fn write_if_changed_skips_identical_content() {
        let dir =
            std::env::temp_dir().join(format!("bpfsign-artifact-test-{}", std::process::id()));
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
        let e = a
            .write_if_changed(dir.join("no/such/dir/x.skel"))
            .unwrap_err();
        assert!(matches!(e, ArtifactError::Io { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_the_deepest_metadata_the_generator_writes() {
        use crate::meta::{DatasecMeta, MemberMeta, TypeMeta, VarMeta};
        // meta::type_meta stops at depth 33 with Opaque: 33 struct levels, then Opaque.
        let mut ty = TypeMeta::Opaque { size: 4 };
        for _ in 0..33 {
            ty = TypeMeta::Struct {
                name: Some("w".into()),
                size: 4,
                members: vec![MemberMeta {
                    name: "x".into(),
                    offset: 0,
                    ty,
                }],
            };
        }
        let mut generated = golden_generated();
        generated.meta.datasecs.push(DatasecMeta {
            map_index: 0,
            section: ".bss".into(),
            ident: "bss".into(),
            size: 4,
            readonly: false,
            vars: vec![VarMeta {
                name: "v".into(),
                offset: 0,
                size: 4,
                ty,
            }],
        });
        let a = Artifact::from_generated(generated, None).unwrap();
        let bytes = a.to_bytes();
        assert_eq!(json_nesting_depth(&bytes), 140);
        assert_eq!(Artifact::from_bytes(&bytes).unwrap(), a);
        // Deeper than any artifact: refused before parsing, however deep.
        for depth in [MAX_JSON_DEPTH + 1, 1_000_000] {
            let text = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let e = Artifact::from_bytes(text.as_bytes()).unwrap_err();
            assert!(
                matches!(&e, ArtifactError::Format(m) if m.contains("nested")),
                "{e}"
            );
        }
        // Brackets inside strings do not nest.
        assert_eq!(json_nesting_depth(br#"{"a":"[[[{\"[","b":[1]}"#), 2);
    }

    #[test]
    fn verify_accepts_the_signed_artifact_and_names_each_tampered_protocol() {
        let golden = Artifact::from_generated(golden_generated(), Some(&signer())).unwrap();
        // The golden P1 slot is bpftool-p1's loader, which differs from bpfsign's only in jump
        // offsets: the verifier accepts it as a P1 loader.
        let cert = signer().certificate().clone();
        golden.verify(&cert).unwrap();
        for p in Protocol::SIGNED {
            assert!(golden.verify_protocol(p, &cert).is_empty(), "{p:?}");
        }

        // One data byte changed: P2's signature (over insns ‖ data) and the blob hash built
        // into P1/P1b fail; nothing else.
        let mut a = golden.clone();
        a.data[0] ^= 1;
        let e = a.verify(&cert).unwrap_err().0;
        let kinds: Vec<(Protocol, bool)> = e
            .iter()
            .map(|e| (e.protocol(), matches!(e, VerifyError::DataHash { .. })))
            .collect();
        assert_eq!(
            kinds,
            [
                (Protocol::P1, true),
                (Protocol::P1b, true),
                (Protocol::P2, false)
            ],
            "{e:?}"
        );
        assert!(matches!(e[2], VerifyError::Signature { .. }), "{e:?}");

        // Another protocol's signature, an emptied one, another certificate.
        let mut a = golden.clone();
        let p1b_sig = a.variant(Protocol::P1b).unwrap().signature.clone();
        a.variants[3].signature = p1b_sig;
        let e = a.verify(&cert).unwrap_err().0;
        assert!(
            matches!(
                e[..],
                [VerifyError::Signature {
                    protocol: Protocol::P2,
                    ..
                }]
            ),
            "{e:?}"
        );
        let mut a = golden.clone();
        a.variants[1].signature = Some(Vec::new());
        let e = a.verify(&cert).unwrap_err();
        assert!(
            matches!(
                e.0[..],
                [VerifyError::Signature {
                    protocol: Protocol::P1,
                    ..
                }]
            ),
            "{e}"
        );
        assert!(e.to_string().starts_with("p1: the p1 signature"), "{e}");
        let other = Signer::from_pem_file(fixtures().join("keys/TEST-ONLY-key-b.pem")).unwrap();
        let e = golden.verify(other.certificate()).unwrap_err().0;
        assert_eq!(e.len(), 3, "{e:?}");

        // A missing signature is not an error of `verify`, but of `verify_protocol`.
        let mut a = golden.clone();
        a.variants[2].signature = None;
        a.verify(&cert).unwrap();
        let e = a.verify_protocol(Protocol::P1b, &cert);
        assert!(matches!(e[..], [VerifyError::NoSignature { .. }]), "{e:?}");
        let e = a.verify_protocol(Protocol::Unsigned, &cert);
        assert!(e.is_empty(), "{e:?}");
        a.variants.pop();
        let e = a.verify_protocol(Protocol::P2, &cert);
        assert!(matches!(e[..], [VerifyError::NoVariant { .. }]), "{e:?}");
    }

    #[test]
    fn external_signer_signs_every_missing_protocol() {
        let pem = fixtures().join("keys/TEST-ONLY-key-a.pem");
        let pem = pem.to_str().unwrap();
        let cmd = format!(
            "openssl cms -sign -binary -noattr -nocerts -nosmimecap -keyid -md sha256 \
             -signer '{pem}' -inkey '{pem}' -in {{payload}} -outform DER -out {{out}}"
        );
        let cert = signer().certificate().clone();
        let external = ExternalSigner::new(&cmd, cert.clone()).unwrap();
        let mut a = Artifact::from_generated(golden_generated(), None).unwrap();
        a.sign_externally(&external).unwrap();
        assert!(a.missing_signatures().is_empty());
        a.verify(&cert).unwrap();
        // RSA: the same artifact as signing with the key in-process.
        let direct = Artifact::from_generated(golden_generated(), Some(&signer())).unwrap();
        assert_eq!(a.to_bytes(), direct.to_bytes());

        // A signer with another key than the certificate: nothing is attached.
        let b = Signer::from_pem_file(fixtures().join("keys/TEST-ONLY-key-b.pem")).unwrap();
        let wrong = ExternalSigner::new(&cmd, b.certificate().clone()).unwrap();
        let mut a = Artifact::from_generated(golden_generated(), None).unwrap();
        let e = a.sign_externally(&wrong).unwrap_err();
        assert!(matches!(e, ArtifactError::Sign { .. }), "{e}");
        assert_eq!(a.missing_signatures().len(), 3);
    }

    #[cfg(unix)]
    #[test]
    fn write_never_follows_a_planted_link() {
        let dir =
            std::env::temp_dir().join(format!("bpfsign-artifact-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let path = dir.join("hello.skel");
        // The old predictable temporary name, and a few guesses at new ones, point at `victim`.
        for name in [
            format!(".hello.skel.tmp{}", std::process::id()),
            ".hello.skel.tmp".to_string(),
            ".hello.skel..tmp".to_string(),
        ] {
            std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
        }
        assert!(write_file_if_changed(&path, b"new bytes").unwrap());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&path).unwrap(), b"new bytes");
        assert!(!std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o600, 0o600, "{mode:o}");
        // Only the planted links and the result remain: no temporary file is left behind.
        let left = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(left, 5);
        // A link at the destination itself is replaced, not written through.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        assert!(write_file_if_changed(&path, b"other").unwrap());
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(!std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn protocol_names() {
        for (p, n) in [
            (Protocol::Unsigned, "unsigned"),
            (Protocol::P1, "p1"),
            (Protocol::P1b, "p1b"),
            (Protocol::P2, "p2"),
        ] {
            assert_eq!(protocol_name(p), n);
            // The artifact's JSON (serde) uses the same names.
            assert_eq!(serde_json::to_value(p).unwrap(), serde_json::json!(n));
            assert_eq!(
                serde_json::from_value::<Protocol>(serde_json::json!(n)).unwrap(),
                p
            );
        }
        assert!(serde_json::from_value::<Protocol>(serde_json::json!("p3")).is_err());
    }
}
