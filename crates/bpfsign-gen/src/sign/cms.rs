//! CMS (PKCS#7) signatures as bpftool's `sign.c` makes them and the kernel verifies them
//! (docs/protocol.md §4.1): signing a payload, and checking a detached signature made elsewhere.

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::stack::Stack;

use super::{
    kernel_form, openssl_reason, Certificate, Result, SignError, Signer, SignerId,
    MAX_SIGNATURE_SIZE,
};

/// [`Signer::sign`]: DER CMS, detached, SHA-256, no certificates, no signed attributes.
pub(super) fn sign(signer: &Signer, payload: &[u8]) -> Result<Vec<u8>> {
    let mut flags = CMSOptions::CMS_NOCERTS
        | CMSOptions::BINARY
        | CMSOptions::DETACHED
        | CMSOptions::NOATTR
        | CMSOptions::NOSMIMECAP;
    if matches!(signer.info().id, SignerId::SubjectKeyIdentifier { .. }) {
        flags |= CMSOptions::USE_KEYID;
    }
    // One-shot CMS_sign == bpftool's CMS_sign(PARTIAL) + CMS_add1_signer(sha256) + CMS_final:
    // OpenSSL's default digest for RSA and EC keys is SHA-256 (asserted by the tests).
    let cms = CmsContentInfo::sign(
        Some(&signer.cert.cert),
        Some(&signer.key),
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

/// [`Certificate::verify_detached`]: OpenSSL's CMS verification with `cert` as the only
/// possible signer, then the kernel's form ([`kernel_form::check`]).
pub(super) fn verify_detached(
    cert: &Certificate,
    payload: &[u8],
    signature: &[u8],
    origin: &str,
) -> Result<()> {
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
    certs.push(cert.cert.clone()).map_err(SignError::Cms)?;
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
            cert: cert.info.subject.clone(),
            detail: detail.to_string(),
        });
    }
    // OpenSSL accepts forms the kernel refuses (RSA-PSS, sha256WithRSAEncryption, MD5...):
    // check the SignerInfos against the kernel's parser (docs/protocol.md §4.2).
    kernel_form::check(signature, cert.info.key_algorithm).map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{contains, golden, golden_stems, key, signer_for};
    use super::super::{KeyAlgorithm, Signer, SignerId};
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::X509;

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
}
