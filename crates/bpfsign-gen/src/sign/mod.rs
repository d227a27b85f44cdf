//! PKCS#7 / CMS signing of loader payloads, as the kernel verifies them (docs/protocol.md §4).
//!
//! A [`Signer`] holds one private key and its X.509 certificate. It is built from a PEM file
//! holding both (the seed's `signing_key.pem`), or from separate key and certificate files in
//! PEM or DER. Everything the kernel would refuse is refused here, when the signer is built, so
//! a bad key never produces an artifact:
//!
//! * key and certificate must belong together;
//! * RSA keys must have a 2048, 3072 or 4096-bit modulus (the only sizes ≥ 2048 the kernel's RSA
//!   accepts); ECDSA keys must be on P-256 or P-384 (the curves every signing kernel verifies);
//!   anything else (Ed25519, Ed448, RSA-PSS keys, DSA, other curves) is rejected;
//! * encrypted private keys are rejected with a clear error (no passphrase prompt, ever).
//!
//! The signature is what bpftool's `sign.c` produces (docs/protocol.md §4.1): a DER `ContentInfo` with
//! detached `SignedData`, SHA-256, no certificates, no signed attributes, the signer identified
//! by its certificate's subjectKeyIdentifier, or by issuer and serial number when the
//! certificate has no SKID. RSA signatures use the `rsaEncryption` algorithm identifier (the
//! kernel refuses `sha256WithRSAEncryption` in a SignerInfo) and are deterministic, so they match
//! bpftool byte for byte; ECDSA signatures (`ecdsa-with-SHA256`) are randomised.
//!
//! A [`Certificate`] is the public half alone: it describes a signer and checks signatures made
//! elsewhere (an HSM, `openssl cms -sign`) before they go into an artifact
//! ([`Certificate::verify_detached`]).
//!
//! Measured (2026-11-25, hello's bpftool loaders re-signed by this module, cert registered in the
//! session keyring): RSA-2048 by SKID, RSA-2048 by issuer + serial and ECDSA P-256 signatures load
//! on 6.18.15 (P1), 7.2.13 (P1b) and 7.3.4 (P2); with another certificate registered: -ENOKEY.

use std::fmt;
use std::path::{Path, PathBuf};

use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde::{Deserialize, Serialize};

mod cms;
mod external;
mod kernel_form;
mod keys;
#[cfg(test)]
mod testutil;

pub use external::{ExternalSigner, OUT_PLACEHOLDER, PAYLOAD_PLACEHOLDER, SIGNER_ENV};

/// Largest signature bpftool accepts (`MAX_SIG_SIZE` in its `main.h`); kept for every protocol.
pub use bpfsign_abi::limits::MAX_SIGNATURE_SIZE;

/// Why a key, certificate or signature was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A key or certificate file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No private key in the input.
    #[error("{origin}: no private key found (expected a PEM \"PRIVATE KEY\" block or a DER private key)")]
    NoPrivateKey {
        /// Where the key was expected.
        origin: String,
    },
    /// The private key is encrypted; bpfsign never prompts for a passphrase.
    #[error("{origin}: the private key is encrypted; decrypt it first (e.g. `openssl pkey -in KEY -out PLAIN`)")]
    EncryptedKey {
        /// Where the key came from.
        origin: String,
    },
    /// The private key could not be parsed.
    #[error("{origin}: cannot parse the private key: {detail}")]
    BadKey {
        /// Where the key came from.
        origin: String,
        /// OpenSSL's message.
        detail: String,
    },
    /// No certificate in the input.
    #[error("{origin}: no X.509 certificate found; pass the certificate with --cert (PEM or DER)")]
    NoCertificate {
        /// Where the certificate was expected.
        origin: String,
    },
    /// The certificate could not be parsed.
    #[error("{origin}: cannot parse the X.509 certificate: {detail}")]
    BadCertificate {
        /// Where the certificate came from.
        origin: String,
        /// OpenSSL's message.
        detail: String,
    },
    /// The certificate does not hold the public key of the private key.
    #[error("{key}: the private key does not match the certificate in {cert}")]
    KeyCertMismatch {
        /// Where the key came from.
        key: String,
        /// Where the certificate came from.
        cert: String,
    },
    /// The key type or size is one the kernel cannot verify.
    #[error(
        "{origin}: unsupported signing key: {what}; use RSA 2048/3072/4096 or ECDSA P-256/P-384"
    )]
    UnsupportedKey {
        /// Where the key came from.
        origin: String,
        /// What the key is.
        what: String,
    },
    /// The certificate cannot identify the signer to the kernel.
    #[error("{origin}: certificate unusable by the kernel: {reason}")]
    UnusableCertificate {
        /// Where the certificate came from.
        origin: String,
        /// Why.
        reason: String,
    },
    /// OpenSSL failed while signing (its reasons, without OpenSSL's source locations).
    #[error("CMS signing failed: {}", openssl_reason(.0))]
    Cms(ErrorStack),
    /// The signature is larger than bpftool's 4096-byte buffer.
    #[error("signature is {len} bytes, more than the {MAX_SIGNATURE_SIZE}-byte limit; use a smaller key")]
    SignatureTooLarge {
        /// The signature size.
        len: usize,
    },
    /// A signature made elsewhere is not something the kernel accepts (not DER CMS, content
    /// not detached, too large).
    #[error("{origin}: {reason}; make it with `openssl cms -sign -binary -noattr -nocerts -keyid -md sha256 -outform DER` (detached DER CMS)")]
    MalformedSignature {
        /// Where the signature came from.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A signature made elsewhere does not verify with the certificate over the payload.
    #[error("{origin} does not verify with the certificate {cert} over this payload ({detail}); it was made over other bytes (P2 signs insns ‖ data, P1/P1b the insns; regenerate the payload with `bpfsign payload`) or with another key")]
    SignatureMismatch {
        /// Where the signature came from.
        origin: String,
        /// The certificate's subject.
        cert: String,
        /// Which check failed (bpfsign's words).
        detail: String,
    },
    /// The external signer command ([`SIGNER_ENV`]) is malformed, failed or wrote no
    /// signature.
    #[error("the signer command `{command}` ({SIGNER_ENV}): {reason}")]
    ExternalSigner {
        /// The command line as given.
        command: String,
        /// What went wrong.
        reason: String,
    },
}

/// OpenSSL's reasons for `e`, joined by `; `: without the library/function names and source
/// file:line that OpenSSL's `Display` adds, which change with every OpenSSL release.
pub(crate) fn openssl_reason(e: &ErrorStack) -> String {
    let mut reasons: Vec<&str> = Vec::new();
    for err in e.errors() {
        let reason = err.reason().unwrap_or("unspecified OpenSSL error");
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    if reasons.is_empty() {
        "unspecified OpenSSL error".to_string()
    } else {
        reasons.join("; ")
    }
}

/// Result of the signing functions.
pub type Result<T, E = SignError> = std::result::Result<T, E>;

/// The public-key algorithm of a [`Signer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyAlgorithm {
    /// RSA (PKCS#1 v1.5, `rsaEncryption`) with this modulus size in bits.
    Rsa {
        /// Modulus size.
        bits: u32,
    },
    /// ECDSA on NIST P-256 (`ecdsa-with-SHA256`).
    EcdsaP256,
    /// ECDSA on NIST P-384 (`ecdsa-with-SHA256`).
    EcdsaP384,
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Rsa { bits } => write!(f, "rsa-{bits}"),
            KeyAlgorithm::EcdsaP256 => f.write_str("ecdsa-p256"),
            KeyAlgorithm::EcdsaP384 => f.write_str("ecdsa-p384"),
        }
    }
}

/// How the CMS `SignerInfo` names the signer; the kernel looks the key up by this id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignerId {
    /// The certificate's subjectKeyIdentifier, lowercase hex (SignerInfo version 3).
    SubjectKeyIdentifier {
        /// SKID bytes as lowercase hex.
        skid: String,
    },
    /// Issuer name and serial number (SignerInfo version 1); used when the cert has no SKID.
    IssuerAndSerial {
        /// Issuer distinguished name, `SN=value` pairs joined by `, `.
        issuer: String,
        /// Serial number, lowercase hex.
        serial: String,
    },
}

/// Public description of the key that signed an artifact (no secret material).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignerDescription {
    /// How signatures identify the signer.
    pub id: SignerId,
    /// Key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// Certificate subject, `SN=value` pairs joined by `, `.
    pub subject: String,
}

impl SignerDescription {
    /// Whether the certificate marks itself as a test key: its subject contains `TEST-ONLY`
    /// (the repository's fixture keys, whose private halves are public).
    pub fn is_test_only(&self) -> bool {
        self.subject.contains(TEST_ONLY_MARK)
    }
}

/// The subject marker of test keys ([`SignerDescription::is_test_only`]).
pub const TEST_ONLY_MARK: &str = "TEST-ONLY";

/// What a build that signs with `signer` should warn about, one sentence each: a TEST-ONLY
/// certificate, and (Unix) a private key file `key_file` that users other than its owner may
/// read. Empty when there is nothing to say.
pub fn signing_warnings(signer: &SignerDescription, key_file: Option<&Path>) -> Vec<String> {
    let mut out = Vec::new();
    if signer.is_test_only() {
        out.push(format!(
            "signed with the TEST-ONLY key '{}': its private key is published with bpfsign, so \
             anyone can sign for it; never register its certificate in a real kernel keyring, and \
             sign real builds with your own key (BPF_KEY / `key = …`, or BPFSIGN_SIGNER)",
            signer.subject
        ));
    }
    if let Some(path) = key_file {
        if let Some(mode) = loose_mode(path) {
            out.push(format!(
                "the private key file {} is readable by other users (mode {mode:04o}): restrict it \
                 with `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    out
}

/// The permission bits of `path` when group or others may read or write it (Unix).
#[cfg(unix)]
fn loose_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o066 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn loose_mode(_: &Path) -> Option<u32> {
    None
}

/// A validated signing key and certificate. See the [module docs](self).
pub struct Signer {
    key: PKey<Private>,
    cert: Certificate,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("Signer")
            .field("info", self.info())
            .finish_non_exhaustive()
    }
}

/// An X.509 certificate the kernel can verify signatures with (RSA 2048/3072/4096 or ECDSA
/// P-256/P-384, usable signer id), without a private key: describes the signer and checks
/// signatures made elsewhere.
#[derive(Clone)]
pub struct Certificate {
    cert: X509,
    der: Vec<u8>,
    info: SignerDescription,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// Reads a certificate file, PEM (the first certificate) or DER (detected from the content).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Certificate> {
        let path = path.as_ref();
        Certificate::from_bytes(&keys::read(path)?, &path.display().to_string())
    }

    /// Like [`Certificate::from_file`], from bytes; `origin` names them in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Certificate> {
        keys::certificate_from_bytes(bytes, origin)
    }

    /// Public description of the signer this certificate names.
    pub fn info(&self) -> &SignerDescription {
        &self.info
    }

    /// The certificate as DER (what a user registers in a kernel keyring).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Checks that `signature` (named `origin` in errors) is what the kernel verifies for
    /// `payload` with this certificate: a DER CMS `SignedData` of at most
    /// [`MAX_SIGNATURE_SIZE`] bytes, content detached, whose signer is this certificate (a
    /// certificate carried inside the signature is never trusted) and whose signature matches
    /// `payload`.
    pub fn verify_detached(&self, payload: &[u8], signature: &[u8], origin: &str) -> Result<()> {
        cms::verify_detached(self, payload, signature, origin)
    }
}

impl Signer {
    /// Reads a PEM file holding the private key and its certificate (the seed's
    /// `signing_key.pem`). With several certificates, the one matching the key is used.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Signer> {
        let path = path.as_ref();
        let bytes = keys::read(path)?;
        Signer::from_pem(&bytes, &path.display().to_string())
    }

    /// Like [`Signer::from_pem_file`], from bytes; `origin` names them in errors.
    pub fn from_pem(pem: &[u8], origin: &str) -> Result<Signer> {
        keys::signer_from_pem(pem, origin)
    }

    /// Reads the private key and the certificate from separate files, each PEM or DER
    /// (detected from the content).
    pub fn from_key_and_cert(
        key_path: impl AsRef<Path>,
        cert_path: impl AsRef<Path>,
    ) -> Result<Signer> {
        let (key_path, cert_path) = (key_path.as_ref(), cert_path.as_ref());
        let key_bytes = keys::read(key_path)?;
        let cert_bytes = keys::read(cert_path)?;
        Signer::from_key_and_cert_bytes(
            &key_bytes,
            &key_path.display().to_string(),
            &cert_bytes,
            &cert_path.display().to_string(),
        )
    }

    /// Like [`Signer::from_key_and_cert`], from bytes; the origins name them in errors.
    pub fn from_key_and_cert_bytes(
        key: &[u8],
        key_origin: &str,
        cert: &[u8],
        cert_origin: &str,
    ) -> Result<Signer> {
        keys::signer_from_parts(key, key_origin, cert, cert_origin)
    }

    /// Signs `payload` (P1/P1b: loader insns; P2: insns ‖ data blob): DER CMS, detached,
    /// SHA-256, no certificates, no signed attributes.
    pub fn sign(&self, payload: &[u8]) -> Result<Vec<u8>> {
        cms::sign(self, payload)
    }

    /// The certificate's subjectKeyIdentifier, if it has one (then signatures use it).
    pub fn skid(&self) -> Option<&[u8]> {
        self.cert.cert.subject_key_id().map(|s| s.as_slice())
    }

    /// Public description of this signer, for the artifact.
    pub fn info(&self) -> &SignerDescription {
        &self.cert.info
    }

    /// The signer's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The certificate as DER (what a user registers in a kernel keyring).
    pub fn cert_der(&self) -> Result<Vec<u8>> {
        Ok(self.cert.der().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::key;
    use super::*;

    #[cfg(unix)]
    #[test]
    fn warns_about_test_keys_and_readable_key_files() {
        use std::os::unix::fs::PermissionsExt;
        let a = Signer::from_pem_file(key("TEST-ONLY-key-a.pem")).unwrap();
        assert!(a.info().is_test_only());
        let w = signing_warnings(a.info(), None);
        assert!(w.len() == 1 && w[0].contains("TEST-ONLY key"), "{w:?}");
        let mut real = a.info().clone();
        real.subject = "CN=production".into();
        assert!(!real.is_test_only());
        assert!(signing_warnings(&real, None).is_empty());

        let dir = std::env::temp_dir().join(format!("bpfsign-key-mode-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("k.pem");
        std::fs::write(&file, b"x").unwrap();
        for (mode, warns) in [
            (0o600, false),
            (0o400, false),
            (0o640, true),
            (0o604, true),
            (0o620, true),
        ] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            let w = signing_warnings(&real, Some(&file));
            assert_eq!(w.len(), usize::from(warns), "{mode:o}: {w:?}");
            if warns {
                assert!(
                    w[0].contains("chmod 600") && w[0].contains(&format!("{mode:04o}")),
                    "{w:?}"
                );
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_does_not_leak_key() {
        let signer = Signer::from_pem_file(key("TEST-ONLY-key-a.pem")).unwrap();
        let text = format!("{signer:?}");
        assert!(text.contains("Signer") && !text.contains("PRIVATE"));
    }
}
