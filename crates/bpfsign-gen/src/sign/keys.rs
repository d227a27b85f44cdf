//! Key and certificate files: PEM or DER parsing, pairing a key with its certificate, and the
//! checks of what the kernel can verify (key algorithm and size, a usable signer id).

use std::path::Path;

use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Private};
use openssl::x509::{X509NameRef, X509};

use super::{
    openssl_reason, Certificate, KeyAlgorithm, Result, SignError, Signer, SignerDescription,
    SignerId,
};

/// [`Certificate::from_bytes`]: the first certificate of a PEM, or a DER certificate.
pub(super) fn certificate_from_bytes(bytes: &[u8], origin: &str) -> Result<Certificate> {
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
    certificate(cert, origin)
}

/// Checks `cert` (named `origin` in errors) and describes its signer: a key the kernel can
/// verify with, and a signer id (the subjectKeyIdentifier, else issuer and serial number).
pub(super) fn certificate(cert: X509, origin: &str) -> Result<Certificate> {
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
    let info = SignerDescription {
        id,
        key_algorithm,
        subject: name_text(cert.subject_name()),
    };
    Ok(Certificate { cert, der, info })
}

/// [`Signer::from_pem`]: a private key and the certificate matching it from one PEM.
pub(super) fn signer_from_pem(pem: &[u8], origin: &str) -> Result<Signer> {
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
    signer(key, cert, origin, origin)
}

/// [`Signer::from_key_and_cert_bytes`]: a private key and a certificate, each PEM or DER.
pub(super) fn signer_from_parts(
    key: &[u8],
    key_origin: &str,
    cert: &[u8],
    cert_origin: &str,
) -> Result<Signer> {
    let key = parse_key(key, key_origin)?;
    let cert = parse_cert(cert, cert_origin, &key)?;
    signer(key, cert, key_origin, cert_origin)
}

/// Pairs `key` with `cert`: the key must be one the kernel verifies and `cert` must be its
/// certificate.
fn signer(key: PKey<Private>, cert: X509, key_origin: &str, cert_origin: &str) -> Result<Signer> {
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
    let cert = certificate(cert, cert_origin)?;
    Ok(Signer { key, cert })
}

pub(super) fn read(path: &Path) -> Result<Vec<u8>> {
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
    use super::super::testutil::{key, self_signed, signer_for};
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::rsa::Rsa;

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
}
