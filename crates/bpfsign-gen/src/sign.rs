//! PKCS#7 / CMS signing of loader payloads, as the kernel verifies them (spec §4).
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
//! The signature is what bpftool's `sign.c` produces (spec §4.1): a DER `ContentInfo` with
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

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl::stack::Stack;
use openssl::x509::{X509NameRef, X509};
use serde::{Deserialize, Serialize};

/// Largest signature bpftool accepts (`MAX_SIG_SIZE` in its `main.h`); kept for every protocol.
pub const MAX_SIGNATURE_SIZE: usize = 4096;

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
pub struct SignerInfo {
    /// How signatures identify the signer.
    pub id: SignerId,
    /// Key algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// Certificate subject, `SN=value` pairs joined by `, `.
    pub subject: String,
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
    info: SignerInfo,
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
        Certificate::from_bytes(&read(path)?, &path.display().to_string())
    }

    /// Like [`Certificate::from_file`], from bytes; `origin` names them in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Certificate> {
        let bad = |e: ErrorStack| SignError::BadCertificate {
            origin: origin.to_string(),
            detail: openssl_reason(&e),
        };
        let cert = if is_pem(bytes) {
            let mut certs = X509::stack_from_pem(bytes).map_err(bad)?;
            if certs.is_empty() {
                return Err(SignError::NoCertificate {
                    origin: origin.to_string(),
                });
            }
            certs.swap_remove(0)
        } else {
            X509::from_der(bytes).map_err(bad)?
        };
        Certificate::new(cert, origin)
    }

    fn new(cert: X509, origin: &str) -> Result<Certificate> {
        let public = cert.public_key().map_err(|e| SignError::BadCertificate {
            origin: origin.to_string(),
            detail: openssl_reason(&e),
        })?;
        let key_algorithm = key_algorithm(&public, origin)?;
        let der = cert.to_der().map_err(|e| SignError::BadCertificate {
            origin: origin.to_string(),
            detail: openssl_reason(&e),
        })?;
        let id = match cert.subject_key_id() {
            Some(skid) if skid.as_slice().is_empty() => {
                return Err(SignError::UnusableCertificate {
                    origin: origin.to_string(),
                    reason: "its subjectKeyIdentifier is empty".to_string(),
                })
            }
            Some(skid) => SignerId::SubjectKeyIdentifier {
                skid: hex::encode(skid.as_slice()),
            },
            None => {
                let serial =
                    cert.serial_number()
                        .to_bn()
                        .map_err(|e| SignError::UnusableCertificate {
                            origin: origin.to_string(),
                            reason: format!("unreadable serial number: {}", openssl_reason(&e)),
                        })?;
                if serial.is_negative() {
                    return Err(SignError::UnusableCertificate {
                        origin: origin.to_string(),
                        reason: "negative serial number and no subjectKeyIdentifier".to_string(),
                    });
                }
                SignerId::IssuerAndSerial {
                    issuer: name_text(cert.issuer_name()),
                    serial: hex::encode(serial.to_vec()),
                }
            }
        };
        let info = SignerInfo {
            id,
            key_algorithm,
            subject: name_text(cert.subject_name()),
        };
        Ok(Certificate { cert, der, info })
    }

    /// Public description of the signer this certificate names.
    pub fn info(&self) -> &SignerInfo {
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
        let malformed = |reason: String| SignError::MalformedSignature {
            origin: origin.to_string(),
            reason,
        };
        if signature.len() > MAX_SIGNATURE_SIZE {
            return Err(malformed(format!(
                "{} bytes, more than the {MAX_SIGNATURE_SIZE}-byte limit",
                signature.len()
            )));
        }
        let mut cms = CmsContentInfo::from_der(signature)
            .map_err(|e| malformed(format!("not a DER CMS signature ({})", openssl_reason(&e))))?;
        let mut certs = Stack::new().map_err(SignError::Cms)?;
        certs.push(self.cert.clone()).map_err(SignError::Cms)?;
        // NOINTERN: only our certificate may be the signer, never one inside the message.
        let flags = CMSOptions::NOINTERN | CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY;
        // Without detached content OpenSSL only gets past its content check when the message
        // carries the content itself, which the kernel refuses (-EBADMSG).
        let structural = flags | CMSOptions::NOSIGS | CMSOptions::NO_CONTENT_VERIFY;
        if cms
            .verify(Some(&certs), None, None, None, structural)
            .is_ok()
        {
            return Err(malformed(
                "the signature carries its content; the kernel needs a detached signature".into(),
            ));
        }
        if cms
            .verify(Some(&certs), None, Some(payload), None, flags)
            .is_err()
        {
            // Say which of the two checks failed in bpfsign's words: OpenSSL's text changes
            // between its versions. Without NOSIGS the signer lookup alone is checked.
            let signer_found = cms
                .verify(
                    Some(&certs),
                    None,
                    Some(payload),
                    None,
                    flags | CMSOptions::NOSIGS,
                )
                .is_ok();
            let detail = if signer_found {
                "the signer is this certificate, but the signature does not match the payload"
            } else {
                "the signature names another signer than this certificate"
            };
            return Err(SignError::SignatureMismatch {
                origin: origin.to_string(),
                cert: self.info.subject.clone(),
                detail: detail.to_string(),
            });
        }
        // OpenSSL accepts forms the kernel refuses (RSA-PSS, sha256WithRSAEncryption, MD5...):
        // check the SignerInfos against the kernel's parser (spec §4.2).
        kernel_form::check(signature, self.info.key_algorithm).map_err(malformed)
    }
}

/// The CMS forms the kernel's PKCS#7 parser accepts (spec §4.2), checked on the DER of a
/// signature OpenSSL has already verified: ContentInfo → SignedData → every SignerInfo.
mod kernel_form {
    use super::KeyAlgorithm;

    /// One DER element: its tag byte and its contents.
    struct Tlv<'a> {
        tag: u8,
        body: &'a [u8],
    }

    /// Reads DER elements one after another from a buffer.
    struct Reader<'a>(&'a [u8]);

    impl<'a> Reader<'a> {
        fn is_empty(&self) -> bool {
            self.0.is_empty()
        }

        fn peek_tag(&self) -> Option<u8> {
            self.0.first().copied()
        }

        fn next(&mut self, what: &str) -> Result<Tlv<'a>, String> {
            let bad = || format!("not DER CMS: truncated or malformed {what}");
            let (&tag, rest) = self.0.split_first().ok_or_else(bad)?;
            if tag & 0x1f == 0x1f {
                return Err(bad());
            }
            let (&first, rest) = rest.split_first().ok_or_else(bad)?;
            let (len, rest) = if first < 0x80 {
                (usize::from(first), rest)
            } else {
                let n = usize::from(first & 0x7f);
                if n == 0 || n > 4 || rest.len() < n {
                    // 0x80 is BER's indefinite length: not DER.
                    return Err(bad());
                }
                let len = rest[..n]
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
                (len, &rest[n..])
            };
            if rest.len() < len {
                return Err(bad());
            }
            let (body, rest) = rest.split_at(len);
            self.0 = rest;
            Ok(Tlv { tag, body })
        }

        /// The next element, which must have `tag`.
        fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], String> {
            let t = self.next(what)?;
            if t.tag != tag {
                return Err(format!(
                    "not DER CMS: {what} has tag 0x{:02x}, expected 0x{tag:02x}",
                    t.tag
                ));
            }
            Ok(t.body)
        }
    }

    const SEQUENCE: u8 = 0x30;
    const SET: u8 = 0x31;
    const INTEGER: u8 = 0x02;
    const OID: u8 = 0x06;

    /// Dotted form of an OID's contents.
    fn dotted(body: &[u8]) -> String {
        let mut arcs: Vec<u64> = Vec::new();
        let mut v: u64 = 0;
        for &b in body {
            v = (v << 7) | u64::from(b & 0x7f);
            if b & 0x80 == 0 {
                if arcs.is_empty() {
                    let first = (v / 40).min(2);
                    arcs.push(first);
                    arcs.push(v - first * 40);
                } else {
                    arcs.push(v);
                }
                v = 0;
            }
        }
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Digests the kernel's PKCS#7 parser knows (`pkcs7_sig_note_digest_algo`).
    const DIGESTS: &[(&str, &str)] = &[
        ("1.3.14.3.2.26", "sha1"),
        ("2.16.840.1.101.3.4.2.4", "sha224"),
        ("2.16.840.1.101.3.4.2.1", "sha256"),
        ("2.16.840.1.101.3.4.2.2", "sha384"),
        ("2.16.840.1.101.3.4.2.3", "sha512"),
        ("2.16.840.1.101.3.4.2.8", "sha3-256"),
        ("2.16.840.1.101.3.4.2.9", "sha3-384"),
        ("2.16.840.1.101.3.4.2.10", "sha3-512"),
        ("1.2.156.10197.1.401", "sm3"),
        ("1.2.643.7.1.1.2.2", "streebog256"),
        ("1.2.643.7.1.1.2.3", "streebog512"),
    ];

    /// The only RSA signature algorithm OID the kernel accepts in a SignerInfo.
    const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

    /// ECDSA signature algorithms the kernel accepts (`pkcs7_sig_note_pkey_algo`).
    const ECDSA: &[(&str, &str)] = &[
        ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
        ("1.2.840.10045.4.3.1", "ecdsa-with-SHA224"),
        ("1.2.840.10045.4.3.2", "ecdsa-with-SHA256"),
        ("1.2.840.10045.4.3.3", "ecdsa-with-SHA384"),
        ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512"),
        ("2.16.840.1.101.3.4.3.10", "ecdsa-with-SHA3-256"),
        ("2.16.840.1.101.3.4.3.11", "ecdsa-with-SHA3-384"),
        ("2.16.840.1.101.3.4.3.12", "ecdsa-with-SHA3-512"),
    ];

    /// Names of OIDs the kernel refuses, for the error message.
    const REFUSED: &[(&str, &str)] = &[
        ("1.2.840.113549.1.1.5", "sha1WithRSAEncryption"),
        ("1.2.840.113549.1.1.10", "RSASSA-PSS"),
        ("1.2.840.113549.1.1.11", "sha256WithRSAEncryption"),
        ("1.2.840.113549.1.1.12", "sha384WithRSAEncryption"),
        ("1.2.840.113549.1.1.13", "sha512WithRSAEncryption"),
        ("1.2.840.113549.1.1.14", "sha224WithRSAEncryption"),
        ("1.2.840.10045.2.1", "id-ecPublicKey"),
        ("1.3.101.112", "Ed25519"),
        ("1.2.840.113549.2.5", "md5"),
    ];

    fn name_of(oid: &str) -> String {
        DIGESTS
            .iter()
            .chain(ECDSA)
            .chain(REFUSED)
            .chain(&[(RSA_ENCRYPTION, "rsaEncryption")])
            .find(|(o, _)| *o == oid)
            .map_or_else(|| oid.to_string(), |(_, n)| format!("{n} ({oid})"))
    }

    /// A small non-negative INTEGER (CMS versions).
    fn small_int(body: &[u8], what: &str) -> Result<u64, String> {
        if body.is_empty() || body.len() > 4 || body[0] & 0x80 != 0 {
            return Err(format!("not DER CMS: bad {what}"));
        }
        Ok(body.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// The OID of an AlgorithmIdentifier `SEQUENCE { OID, params }`.
    fn algorithm(r: &mut Reader<'_>, what: &str) -> Result<String, String> {
        let body = r.expect(SEQUENCE, what)?;
        Ok(dotted(Reader(body).expect(OID, what)?))
    }

    /// Checks the structure of `der` (a CMS ContentInfo) against what the kernel accepts for a
    /// signer with key `key`. Errors name the refused item and the kernel's errno.
    pub(super) fn check(der: &[u8], key: KeyAlgorithm) -> Result<(), String> {
        let mut top = Reader(der);
        let mut ci = Reader(top.expect(SEQUENCE, "ContentInfo")?);
        let ctype = dotted(ci.expect(OID, "ContentInfo contentType")?);
        if ctype != "1.2.840.113549.1.7.2" {
            return Err(format!(
                "content type {ctype} is not signedData; the kernel refuses it (EBADMSG)"
            ));
        }
        let mut explicit = Reader(ci.expect(0xa0, "ContentInfo content")?);
        let mut sd = Reader(explicit.expect(SEQUENCE, "SignedData")?);
        let sd_version = small_int(
            sd.expect(INTEGER, "SignedData version")?,
            "SignedData version",
        )?;
        if sd_version != 1 && sd_version != 3 {
            return Err(format!(
                "SignedData version {sd_version}; the kernel accepts 1 or 3 (EINVAL)"
            ));
        }
        sd.expect(SET, "SignedData digestAlgorithms")?;
        let mut encap = Reader(sd.expect(SEQUENCE, "EncapsulatedContentInfo")?);
        let etype = dotted(encap.expect(OID, "eContentType")?);
        if etype != "1.2.840.113549.1.7.1" {
            return Err(format!(
                "signed content type {etype} is not id-data; the kernel refuses it (EKEYREJECTED)"
            ));
        }
        if !encap.is_empty() {
            return Err(
                "the signature carries its content; the kernel needs a detached signature (EBADMSG)"
                    .into(),
            );
        }
        // Optional certificates [0] and crls [1], then signerInfos.
        let mut signer_infos = None;
        while !sd.is_empty() {
            let t = sd.next("SignedData")?;
            if t.tag == SET {
                signer_infos = Some(t.body);
                break;
            }
        }
        let mut infos = Reader(signer_infos.ok_or("not DER CMS: SignedData has no signerInfos")?);
        if infos.is_empty() {
            return Err("the signature has no SignerInfo; the kernel refuses it (EBADMSG)".into());
        }
        let mut index = 0;
        while !infos.is_empty() {
            let mut si = Reader(infos.expect(SEQUENCE, "SignerInfo")?);
            let version = small_int(
                si.expect(INTEGER, "SignerInfo version")?,
                "SignerInfo version",
            )?;
            let sid = si.next("SignerInfo sid")?;
            let consistent = match version {
                1 => sd_version == 1 && sid.tag == SEQUENCE,
                3 => sd_version != 1 && sid.tag == 0x80,
                _ => false,
            };
            if !consistent {
                let form = if sid.tag == SEQUENCE {
                    "issuerAndSerialNumber"
                } else {
                    "subjectKeyIdentifier"
                };
                return Err(format!(
                    "SignerInfo {index}: version {version} with an {form} signer id in SignedData \
                     version {sd_version} (v1 needs issuerAndSerialNumber and SignedData v1, v3 a \
                     subjectKeyIdentifier and SignedData v3); the kernel refuses it (EBADMSG)"
                ));
            }
            let digest = algorithm(&mut si, "SignerInfo digestAlgorithm")?;
            if !DIGESTS.iter().any(|(o, _)| *o == digest) {
                return Err(format!(
                    "SignerInfo {index}: digest algorithm {} is not one the kernel knows (sha256, \
                     sha384, sha512, sha224, sha1, sha3-*, sm3, streebog); it refuses it (ENOPKG)",
                    name_of(&digest)
                ));
            }
            if si.peek_tag() == Some(0xa0) {
                si.next("SignerInfo signedAttrs")?;
            }
            let sig_alg = algorithm(&mut si, "SignerInfo signatureAlgorithm")?;
            let accepted = match key {
                KeyAlgorithm::Rsa { .. } => sig_alg == RSA_ENCRYPTION,
                KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
                    ECDSA.iter().any(|(o, _)| *o == sig_alg)
                }
            };
            if !accepted {
                let wanted = match key {
                    KeyAlgorithm::Rsa { .. } => "only rsaEncryption (PKCS#1 v1.5) for an RSA key",
                    _ => "only ecdsa-with-SHA* for an ECDSA key",
                };
                return Err(format!(
                    "SignerInfo {index}: signature algorithm {}; the kernel accepts {wanted} and \
                     refuses this with ENOPKG",
                    name_of(&sig_alg)
                ));
            }
            index += 1;
        }
        Ok(())
    }
}

impl Signer {
    /// Reads a PEM file holding the private key and its certificate (the seed's
    /// `signing_key.pem`). With several certificates, the one matching the key is used.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Signer> {
        let path = path.as_ref();
        let bytes = read(path)?;
        Signer::from_pem(&bytes, &path.display().to_string())
    }

    /// Like [`Signer::from_pem_file`], from bytes; `origin` names them in errors.
    pub fn from_pem(pem: &[u8], origin: &str) -> Result<Signer> {
        let key = parse_key(pem, origin)?;
        let certs = X509::stack_from_pem(pem).map_err(|e| SignError::BadCertificate {
            origin: origin.to_string(),
            detail: openssl_reason(&e),
        })?;
        if certs.is_empty() {
            return Err(SignError::NoCertificate {
                origin: origin.to_string(),
            });
        }
        let cert = pick_matching(certs, &key).ok_or_else(|| SignError::KeyCertMismatch {
            key: origin.to_string(),
            cert: origin.to_string(),
        })?;
        Signer::new(key, cert, origin, origin)
    }

    /// Reads the private key and the certificate from separate files, each PEM or DER
    /// (detected from the content).
    pub fn from_key_and_cert(
        key_path: impl AsRef<Path>,
        cert_path: impl AsRef<Path>,
    ) -> Result<Signer> {
        let (key_path, cert_path) = (key_path.as_ref(), cert_path.as_ref());
        let key_bytes = read(key_path)?;
        let cert_bytes = read(cert_path)?;
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
        let key = parse_key(key, key_origin)?;
        let cert = parse_cert(cert, cert_origin, &key)?;
        Signer::new(key, cert, key_origin, cert_origin)
    }

    fn new(key: PKey<Private>, cert: X509, key_origin: &str, cert_origin: &str) -> Result<Signer> {
        key_algorithm(&key, key_origin)?;
        let cert_key = cert.public_key().map_err(|e| SignError::BadCertificate {
            origin: cert_origin.to_string(),
            detail: openssl_reason(&e),
        })?;
        if !cert_key.public_eq(&key) {
            return Err(SignError::KeyCertMismatch {
                key: key_origin.to_string(),
                cert: cert_origin.to_string(),
            });
        }
        let cert = Certificate::new(cert, cert_origin)?;
        Ok(Signer { key, cert })
    }

    /// Signs `payload` (P1/P1b: loader insns; P2: insns ‖ data blob): DER CMS, detached,
    /// SHA-256, no certificates, no signed attributes.
    pub fn sign(&self, payload: &[u8]) -> Result<Vec<u8>> {
        let mut flags = CMSOptions::CMS_NOCERTS
            | CMSOptions::BINARY
            | CMSOptions::DETACHED
            | CMSOptions::NOATTR
            | CMSOptions::NOSMIMECAP;
        if matches!(self.info().id, SignerId::SubjectKeyIdentifier { .. }) {
            flags |= CMSOptions::USE_KEYID;
        }
        // One-shot CMS_sign == bpftool's CMS_sign(PARTIAL) + CMS_add1_signer(sha256) + CMS_final:
        // OpenSSL's default digest for RSA and EC keys is SHA-256 (asserted by the tests).
        let cms = CmsContentInfo::sign(
            Some(&self.cert.cert),
            Some(&self.key),
            None,
            Some(payload),
            flags,
        )
        .map_err(SignError::Cms)?;
        let der = cms.to_der().map_err(SignError::Cms)?;
        if der.len() > MAX_SIGNATURE_SIZE {
            return Err(SignError::SignatureTooLarge { len: der.len() });
        }
        Ok(der)
    }

    /// The certificate's subjectKeyIdentifier, if it has one (then signatures use it).
    pub fn skid(&self) -> Option<&[u8]> {
        self.cert.cert.subject_key_id().map(|s| s.as_slice())
    }

    /// Public description of this signer, for the artifact.
    pub fn info(&self) -> &SignerInfo {
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

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| SignError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

fn parse_key(bytes: &[u8], origin: &str) -> Result<PKey<Private>> {
    if is_pem(bytes) {
        let has_key = bytes.windows(12).any(|w| w == b"PRIVATE KEY-");
        if !has_key {
            return Err(SignError::NoPrivateKey {
                origin: origin.to_string(),
            });
        }
        let mut asked_passphrase = false;
        let parsed = PKey::private_key_from_pem_callback(bytes, |_buf| {
            asked_passphrase = true;
            Ok(0)
        });
        match parsed {
            Ok(key) => Ok(key),
            Err(_) if asked_passphrase => Err(SignError::EncryptedKey {
                origin: origin.to_string(),
            }),
            Err(e) => Err(SignError::BadKey {
                origin: origin.to_string(),
                detail: openssl_reason(&e),
            }),
        }
    } else {
        PKey::private_key_from_der(bytes).map_err(|e| SignError::BadKey {
            origin: origin.to_string(),
            detail: openssl_reason(&e),
        })
    }
}

fn parse_cert(bytes: &[u8], origin: &str, key: &PKey<Private>) -> Result<X509> {
    let bad = |e: ErrorStack| SignError::BadCertificate {
        origin: origin.to_string(),
        detail: openssl_reason(&e),
    };
    if is_pem(bytes) {
        let certs = X509::stack_from_pem(bytes).map_err(bad)?;
        if certs.is_empty() {
            return Err(SignError::NoCertificate {
                origin: origin.to_string(),
            });
        }
        // With several certificates, take the one for this key; else the first (the mismatch
        // is then reported with both names).
        let first = certs[0].clone();
        Ok(pick_matching(certs, key).unwrap_or(first))
    } else {
        X509::from_der(bytes).map_err(bad)
    }
}

fn pick_matching(certs: Vec<X509>, key: &PKey<Private>) -> Option<X509> {
    certs
        .into_iter()
        .find(|c| c.public_key().map(|pk| pk.public_eq(key)).unwrap_or(false))
}

fn key_algorithm<T: HasPublic>(key: &PKeyRef<T>, origin: &str) -> Result<KeyAlgorithm> {
    let unsupported = |what: String| SignError::UnsupportedKey {
        origin: origin.to_string(),
        what,
    };
    match key.id() {
        Id::RSA => match key.bits() {
            bits @ (2048 | 3072 | 4096) => Ok(KeyAlgorithm::Rsa { bits }),
            bits if bits < 2048 => Err(unsupported(format!("RSA-{bits} is too small"))),
            bits => Err(unsupported(format!(
                "RSA-{bits}: the kernel's RSA only takes 2048, 3072 or 4096 bits"
            ))),
        },
        Id::EC => {
            let ec = key
                .ec_key()
                .map_err(|e| unsupported(format!("unreadable EC key: {}", openssl_reason(&e))))?;
            match ec.group().curve_name() {
                Some(Nid::X9_62_PRIME256V1) => Ok(KeyAlgorithm::EcdsaP256),
                Some(Nid::SECP384R1) => Ok(KeyAlgorithm::EcdsaP384),
                Some(nid) => Err(unsupported(format!(
                    "ECDSA on curve {}",
                    nid.short_name().unwrap_or("(unknown)")
                ))),
                None => Err(unsupported(
                    "ECDSA with explicit curve parameters".to_string(),
                )),
            }
        }
        Id::ED25519 => Err(unsupported(
            "Ed25519 (the kernel's PKCS#7 parser has no EdDSA)".to_string(),
        )),
        Id::ED448 => Err(unsupported("Ed448".to_string())),
        Id::RSA_PSS => Err(unsupported(
            "RSA-PSS key (the kernel verifies PKCS#1 v1.5 only)".to_string(),
        )),
        Id::DSA => Err(unsupported("DSA".to_string())),
        other => Err(unsupported(format!("key type id {}", other.as_raw()))),
    }
}

/// `SN=value, SN=value` text of an X.509 name.
fn name_text(name: &X509NameRef) -> String {
    let mut parts = Vec::new();
    for entry in name.entries() {
        let field = entry.object().nid().short_name().unwrap_or("?").to_string();
        let value = match entry.data().to_string() {
            Ok(v) => v,
            Err(_) => hex::encode(entry.data().as_slice()),
        };
        parts.push(format!("{field}={value}"));
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};
    use std::path::PathBuf;

    fn fixtures() -> PathBuf {
        bpfsign_test_support::fixtures()
    }
    fn key(name: &str) -> PathBuf {
        fixtures().join("keys").join(name)
    }
    fn golden(stem: &str, file: &str) -> Vec<u8> {
        let p = fixtures().join("golden").join(stem).join(file);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }
    fn golden_stems() -> Vec<String> {
        bpfsign_test_support::golden::fixture_list()
            .into_iter()
            .map(|f| f.stem)
            .collect()
    }

    const OID_SHA256: &[u8] = &[
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    ];
    const OID_RSA_ENCRYPTION: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    const OID_SHA256_WITH_RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
    ];
    const OID_ECDSA_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    fn verify(sig: &[u8], payload: &[u8], cert: &X509) -> bool {
        let mut cms = CmsContentInfo::from_der(sig).unwrap();
        let mut certs = Stack::new().unwrap();
        certs.push(cert.clone()).unwrap();
        cms.verify(
            Some(&certs),
            None,
            Some(payload),
            None,
            CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY,
        )
        .is_ok()
    }

    #[test]
    fn rsa_signatures_equal_bpftool_goldens() {
        let signer = Signer::from_pem_file(key("TEST-ONLY-key-a.pem")).unwrap();
        let stems = golden_stems();
        assert!(
            stems.len() >= 12,
            "golden index lists {} objects",
            stems.len()
        );
        for stem in stems {
            let data = golden(&stem, "data.bin");
            for proto in ["p1-libbpf170", "p1b"] {
                let insns = golden(&stem, &format!("{proto}.insns"));
                assert_eq!(
                    signer.sign(&insns).unwrap(),
                    golden(&stem, &format!("{proto}.sig")),
                    "{stem} {proto}"
                );
            }
            let mut payload = golden(&stem, "p2.insns");
            payload.extend_from_slice(&data);
            assert_eq!(
                signer.sign(&payload).unwrap(),
                golden(&stem, "p2.sig"),
                "{stem} p2"
            );
        }
    }

    #[test]
    fn separate_der_cert_gives_same_signature() {
        let pem = Signer::from_pem_file(key("TEST-ONLY-key-a.pem")).unwrap();
        let split =
            Signer::from_key_and_cert(key("TEST-ONLY-key-a.pem"), key("TEST-ONLY-key-a.der"))
                .unwrap();
        assert_eq!(pem.info(), split.info());
        assert_eq!(
            pem.sign(b"payload").unwrap(),
            split.sign(b"payload").unwrap()
        );
        let SignerId::SubjectKeyIdentifier { skid } = &pem.info().id else {
            panic!("expected SKID")
        };
        assert_eq!(*skid, hex::encode(pem.skid().unwrap()));
        assert_eq!(pem.info().key_algorithm, KeyAlgorithm::Rsa { bits: 2048 });
        assert!(
            pem.info().subject.contains("TEST-ONLY key a"),
            "{}",
            pem.info().subject
        );
    }

    #[test]
    fn rsa_signature_structure() {
        let signer = Signer::from_pem_file(key("TEST-ONLY-key-a.pem")).unwrap();
        let sig = signer.sign(b"some insns").unwrap();
        assert!(contains(&sig, OID_SHA256));
        assert!(contains(&sig, OID_RSA_ENCRYPTION));
        assert!(!contains(&sig, OID_SHA256_WITH_RSA));
        let skid = signer.skid().unwrap();
        // sid [0] IMPLICIT OCTET STRING <skid>
        let mut sid = vec![0x80, skid.len() as u8];
        sid.extend_from_slice(skid);
        assert!(contains(&sig, &sid));
        let cert = X509::from_der(&std::fs::read(key("TEST-ONLY-key-a.der")).unwrap()).unwrap();
        assert!(verify(&sig, b"some insns", &cert));
        assert!(!verify(&sig, b"other insns", &cert));
    }

    #[test]
    fn no_skid_falls_back_to_issuer_and_serial() {
        for (k, c) in [
            ("TEST-ONLY-noskid.key.pem", "TEST-ONLY-noskid.crt.pem"),
            ("TEST-ONLY-noskid.key.der", "TEST-ONLY-noskid.der"),
        ] {
            let signer = Signer::from_key_and_cert(key(k), key(c)).unwrap();
            assert!(signer.skid().is_none());
            let SignerId::IssuerAndSerial { issuer, serial } = &signer.info().id else {
                panic!("expected issuer+serial, got {:?}", signer.info().id)
            };
            assert!(issuer.contains("without SKID"), "{issuer}");
            assert!(!serial.is_empty());
            let sig = signer.sign(b"payload").unwrap();
            // SignedData version 1 (02 01 01) right after the [0] wrapper: issuerAndSerialNumber.
            assert!(contains(&sig, &[0x02, 0x01, 0x01, 0x31]));
            let cert =
                X509::from_pem(&std::fs::read(key("TEST-ONLY-noskid.crt.pem")).unwrap()).unwrap();
            assert!(verify(&sig, b"payload", &cert));
            assert!(contains(
                &sig,
                cert.serial_number().to_bn().unwrap().to_vec().as_slice()
            ));
        }
    }

    #[test]
    fn ecdsa_p256_verifies_with_openssl() {
        let signer = Signer::from_pem_file(key("TEST-ONLY-ec-p256.pem")).unwrap();
        assert_eq!(signer.info().key_algorithm, KeyAlgorithm::EcdsaP256);
        let insns = golden("hello", "p2.insns");
        let mut payload = insns.clone();
        payload.extend_from_slice(&golden("hello", "data.bin"));
        let sig = signer.sign(&payload).unwrap();
        assert!(contains(&sig, OID_SHA256));
        assert!(contains(&sig, OID_ECDSA_SHA256));
        let cert = X509::from_der(&std::fs::read(key("TEST-ONLY-ec-p256.der")).unwrap()).unwrap();
        assert!(verify(&sig, &payload, &cert));
        assert!(!verify(&sig, &insns, &cert));
    }

    /// A self-signed cert for `key`, optionally with a SKID, built in memory.
    fn self_signed(key: &PKey<Private>, md: MessageDigest) -> X509 {
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "bpfsign TEST-ONLY generated")
            .unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(key).unwrap();
        let serial = openssl::bn::BigNum::from_u32(7)
            .unwrap()
            .to_asn1_integer()
            .unwrap();
        b.set_serial_number(&serial).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        let skid = openssl::x509::extension::SubjectKeyIdentifier::new()
            .build(&b.x509v3_context(None, None))
            .unwrap();
        b.append_extension(skid).unwrap();
        b.sign(key, md).unwrap();
        b.build()
    }

    fn signer_for(key: PKey<Private>, md: MessageDigest) -> Result<Signer> {
        let cert = self_signed(&key, md);
        let key_der = key.private_key_to_der().unwrap();
        Signer::from_key_and_cert_bytes(&key_der, "gen.key", &cert.to_der().unwrap(), "gen.crt")
    }

    #[test]
    fn ecdsa_p384_uses_sha256() {
        let group = EcGroup::from_curve_name(Nid::SECP384R1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let signer = signer_for(key, MessageDigest::sha384()).unwrap();
        assert_eq!(signer.info().key_algorithm, KeyAlgorithm::EcdsaP384);
        let sig = signer.sign(b"p384 payload").unwrap();
        assert!(contains(&sig, OID_SHA256));
        assert!(contains(&sig, OID_ECDSA_SHA256));
        assert!(verify(&sig, b"p384 payload", &signer.cert.cert));
    }

    #[test]
    fn unsupported_keys_are_rejected() {
        let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let e = signer_for(small, MessageDigest::sha256()).unwrap_err();
        assert!(matches!(e, SignError::UnsupportedKey { .. }), "{e}");
        assert!(e.to_string().contains("RSA-1024 is too small"), "{e}");

        let odd = PKey::from_rsa(Rsa::generate(2560).unwrap()).unwrap();
        let e = signer_for(odd, MessageDigest::sha256()).unwrap_err();
        assert!(e.to_string().contains("RSA-2560"), "{e}");

        let ed = PKey::generate_ed25519().unwrap();
        let e = signer_for(ed, MessageDigest::null()).unwrap_err();
        assert!(
            matches!(e, SignError::UnsupportedKey { .. }) && e.to_string().contains("Ed25519"),
            "{e}"
        );

        let group = EcGroup::from_curve_name(Nid::SECP256K1).unwrap();
        let k1 = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let e = signer_for(k1, MessageDigest::sha256()).unwrap_err();
        assert!(e.to_string().contains("secp256k1"), "{e}");
    }

    #[test]
    fn key_cert_mismatch_is_rejected() {
        let e = Signer::from_key_and_cert(key("TEST-ONLY-key-a.pem"), key("TEST-ONLY-key-b.der"))
            .unwrap_err();
        assert!(matches!(e, SignError::KeyCertMismatch { .. }), "{e}");
        assert!(e.to_string().contains("TEST-ONLY-key-b.der"), "{e}");

        // A PEM whose only certificate belongs to another key.
        let a = std::fs::read(key("TEST-ONLY-key-a.pem")).unwrap();
        let b = std::fs::read(key("TEST-ONLY-key-b.pem")).unwrap();
        let key_a = &a[..find(&a, b"-----BEGIN CERTIFICATE")];
        let cert_b = &b[find(&b, b"-----BEGIN CERTIFICATE")..];
        let mixed = [key_a, cert_b].concat();
        let e = Signer::from_pem(&mixed, "mixed.pem").unwrap_err();
        assert!(matches!(e, SignError::KeyCertMismatch { .. }), "{e}");
    }

    fn find(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).position(|w| w == needle).unwrap()
    }

    #[test]
    fn bad_inputs_give_typed_errors() {
        let e = Signer::from_pem_file(key("does-not-exist.pem")).unwrap_err();
        assert!(matches!(e, SignError::Io { .. }), "{e}");
        // cert only
        let e = Signer::from_pem_file(key("TEST-ONLY-noskid.crt.pem")).unwrap_err();
        assert!(matches!(e, SignError::NoPrivateKey { .. }), "{e}");
        // key only
        let e = Signer::from_pem_file(key("TEST-ONLY-noskid.key.pem")).unwrap_err();
        assert!(matches!(e, SignError::NoCertificate { .. }), "{e}");
        // garbage DER
        let e =
            Signer::from_key_and_cert_bytes(b"\x30\x03\x02\x01", "junk.der", b"", "x").unwrap_err();
        assert!(matches!(e, SignError::BadKey { .. }), "{e}");
        let a = std::fs::read(key("TEST-ONLY-key-a.pem")).unwrap();
        let e =
            Signer::from_key_and_cert_bytes(&a, "a.pem", b"not a cert", "junk.crt").unwrap_err();
        assert!(
            matches!(e, SignError::BadCertificate { .. }) && e.to_string().contains("junk.crt"),
            "{e}"
        );
    }

    #[test]
    fn encrypted_key_is_rejected_without_prompt() {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let cert = self_signed(&key, MessageDigest::sha256());
        let enc = key
            .private_key_to_pem_pkcs8_passphrase(openssl::symm::Cipher::aes_128_cbc(), b"secret")
            .unwrap();
        let e = Signer::from_key_and_cert_bytes(&enc, "enc.pem", &cert.to_pem().unwrap(), "c.pem")
            .unwrap_err();
        assert!(matches!(e, SignError::EncryptedKey { .. }), "{e}");
    }

    #[test]
    fn certificate_describes_the_signer_and_verifies_its_signatures() {
        let signer = Signer::from_pem_file(key("TEST-ONLY-key-a.pem")).unwrap();
        for file in ["TEST-ONLY-key-a.pem", "TEST-ONLY-key-a.der"] {
            let cert = Certificate::from_file(key(file)).unwrap();
            assert_eq!(cert.info(), signer.info(), "{file}");
            assert_eq!(cert.der(), signer.cert_der().unwrap());
        }
        let cert = signer.certificate();
        let sig = signer.sign(b"payload").unwrap();
        cert.verify_detached(b"payload", &sig, "p.sig").unwrap();
        let e = cert.verify_detached(b"other", &sig, "p.sig").unwrap_err();
        assert!(matches!(e, SignError::SignatureMismatch { .. }), "{e}");
        assert!(e.to_string().contains("p.sig does not verify"), "{e}");
        assert!(e.to_string().contains("does not match the payload"), "{e}");
        assert!(
            !e.to_string().contains(".c:"),
            "no OpenSSL source locations: {e}"
        );
        // Another key's signature fails, even when it carries that key's certificate.
        let b = Signer::from_pem_file(key("TEST-ONLY-key-b.pem")).unwrap();
        let e = cert
            .verify_detached(b"payload", &b.sign(b"payload").unwrap(), "b.sig")
            .unwrap_err();
        assert!(matches!(e, SignError::SignatureMismatch { .. }), "{e}");
        assert!(e.to_string().contains("names another signer"), "{e}");
        let with_cert = CmsContentInfo::sign(
            Some(&b.cert.cert),
            Some(&b.key),
            None,
            Some(b"payload"),
            CMSOptions::BINARY | CMSOptions::DETACHED | CMSOptions::NOATTR | CMSOptions::USE_KEYID,
        )
        .unwrap()
        .to_der()
        .unwrap();
        b.certificate()
            .verify_detached(b"payload", &with_cert, "b.sig")
            .unwrap();
        let e = cert
            .verify_detached(b"payload", &with_cert, "b.sig")
            .unwrap_err();
        assert!(matches!(e, SignError::SignatureMismatch { .. }), "{e}");
        // Embedded content, garbage, oversize.
        let attached = CmsContentInfo::sign(
            Some(&signer.cert.cert),
            Some(&signer.key),
            None,
            Some(b"payload"),
            CMSOptions::BINARY
                | CMSOptions::NOATTR
                | CMSOptions::CMS_NOCERTS
                | CMSOptions::USE_KEYID,
        )
        .unwrap()
        .to_der()
        .unwrap();
        let e = cert
            .verify_detached(b"payload", &attached, "att.sig")
            .unwrap_err();
        assert!(
            matches!(e, SignError::MalformedSignature { .. }) && e.to_string().contains("detached"),
            "{e}"
        );
        let e = cert
            .verify_detached(b"payload", b"\x30\x03\x02\x01\x01", "junk.sig")
            .unwrap_err();
        assert!(
            matches!(e, SignError::MalformedSignature { .. })
                && e.to_string().contains("not a DER CMS"),
            "{e}"
        );
        let e = cert
            .verify_detached(b"payload", &[0u8; MAX_SIGNATURE_SIZE + 1], "big.sig")
            .unwrap_err();
        assert!(e.to_string().contains("4097 bytes"), "{e}");
    }

    #[test]
    fn certificate_refuses_what_the_kernel_cannot_use() {
        let e = Certificate::from_bytes(b"junk", "junk.crt").unwrap_err();
        assert!(matches!(e, SignError::BadCertificate { .. }), "{e}");
        let e = Certificate::from_file(key("TEST-ONLY-noskid.key.pem")).unwrap_err();
        assert!(matches!(e, SignError::NoCertificate { .. }), "{e}");
        let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let der = self_signed(&small, MessageDigest::sha256())
            .to_der()
            .unwrap();
        let e = Certificate::from_bytes(&der, "small.der").unwrap_err();
        assert!(matches!(e, SignError::UnsupportedKey { .. }), "{e}");
        let c = Certificate::from_file(key("TEST-ONLY-noskid.der")).unwrap();
        assert!(matches!(c.info().id, SignerId::IssuerAndSerial { .. }));
    }

    #[test]
    fn debug_does_not_leak_key() {
        let signer = Signer::from_pem_file(key("TEST-ONLY-key-a.pem")).unwrap();
        let text = format!("{signer:?}");
        assert!(text.contains("Signer") && !text.contains("PRIVATE"));
    }

    fn sig_data(name: &str) -> Vec<u8> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/gen/sig")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn rsa_pss_signature_is_refused_like_the_kernel_does() {
        // OpenSSL verifies this signature; the kernel's PKCS#7 parser returns ENOPKG for it.
        let cert = Certificate::from_file(key("TEST-ONLY-key-a.der")).unwrap();
        let e = cert
            .verify_detached(&sig_data("payload.bin"), &sig_data("pss.sig"), "pss.sig")
            .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, SignError::MalformedSignature { .. }), "{msg}");
        assert!(
            msg.contains("RSASSA-PSS") && msg.contains("ENOPKG") && msg.contains("pss.sig"),
            "{msg}"
        );
    }

    #[test]
    fn own_signatures_have_the_kernel_form() {
        // RSA with a SKID (v3), ECDSA P-256, RSA with issuer+serial (v1).
        for (k, c) in [
            ("TEST-ONLY-key-a.pem", "TEST-ONLY-key-a.der"),
            ("TEST-ONLY-ec-p256.pem", "TEST-ONLY-ec-p256.der"),
            ("TEST-ONLY-noskid.key.pem", "TEST-ONLY-noskid.der"),
        ] {
            let signer = Signer::from_key_and_cert(key(k), key(c)).unwrap();
            let cert = Certificate::from_file(key(c)).unwrap();
            let sig = signer.sign(b"payload").unwrap();
            cert.verify_detached(b"payload", &sig, k)
                .unwrap_or_else(|e| panic!("{k}: {e}"));
        }
    }

    #[test]
    fn signer_info_version_must_match_the_signer_id_form() {
        let signer = Signer::from_pem_file(key("TEST-ONLY-key-a.pem")).unwrap();
        let cert = Certificate::from_file(key("TEST-ONLY-key-a.der")).unwrap();
        let mut sig = signer.sign(b"payload").unwrap();
        // SignerInfo `version 3, sid [0] SKID (20 bytes)` → version 1 with a SKID sid.
        let at = sig
            .windows(5)
            .position(|w| w == [0x02, 0x01, 0x03, 0x80, 0x14])
            .expect("v3 SignerInfo with a SKID");
        sig[at + 2] = 1;
        let msg = cert
            .verify_detached(b"payload", &sig, "v1skid")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("EBADMSG") && msg.contains("version 1"),
            "{msg}"
        );
    }
}
