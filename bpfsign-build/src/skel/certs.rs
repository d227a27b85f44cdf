//! A signer certificate without its key: describes the signer ([`SignerInfo`]) and checks
//! offline signatures (detached DER CMS over a payload).

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509NameRef, X509};

use crate::sign::{KeyAlgorithm, SignerId, SignerInfo};

/// A parsed X.509 certificate (PEM or DER) and its [`SignerInfo`].
pub struct Cert {
    cert: X509,
    info: SignerInfo,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn name_text(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let field = e.object().nid().short_name().unwrap_or("?");
            let value = match e.data().to_string() {
                Ok(v) => v,
                Err(_) => hex(e.data().as_slice()),
            };
            format!("{field}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Cert {
    /// Parses a certificate; the error says what is wrong with it.
    pub fn parse(bytes: &[u8]) -> Result<Cert, String> {
        let cert = if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            X509::from_pem(bytes)
        } else {
            X509::from_der(bytes)
        }
        .map_err(|e| format!("not an X.509 certificate (PEM or DER): {e}"))?;
        let pk = cert
            .public_key()
            .map_err(|e| format!("unreadable public key: {e}"))?;
        let key_algorithm = match pk.id() {
            Id::RSA => KeyAlgorithm::Rsa { bits: pk.bits() },
            Id::EC => match pk.ec_key().ok().and_then(|k| k.group().curve_name()) {
                Some(Nid::X9_62_PRIME256V1) => KeyAlgorithm::EcdsaP256,
                Some(Nid::SECP384R1) => KeyAlgorithm::EcdsaP384,
                _ => return Err("ECDSA key on a curve other than P-256/P-384".into()),
            },
            _ => return Err("key type is neither RSA nor ECDSA".into()),
        };
        let id = match cert.subject_key_id() {
            Some(skid) if !skid.as_slice().is_empty() => SignerId::SubjectKeyIdentifier {
                skid: hex(skid.as_slice()),
            },
            _ => {
                let serial = cert
                    .serial_number()
                    .to_bn()
                    .map_err(|e| format!("unreadable serial number: {e}"))?;
                SignerId::IssuerAndSerial {
                    issuer: name_text(cert.issuer_name()),
                    serial: hex(&serial.to_vec()),
                }
            }
        };
        let info = SignerInfo {
            id,
            key_algorithm,
            subject: name_text(cert.subject_name()),
        };
        Ok(Cert { cert, info })
    }

    /// The public description of the signer.
    pub fn info(&self) -> &SignerInfo {
        &self.info
    }

    /// Checks that `sig` is a detached CMS signature of `payload` by this certificate's key.
    pub fn verify_detached(&self, payload: &[u8], sig: &[u8]) -> Result<(), String> {
        let mut cms =
            CmsContentInfo::from_der(sig).map_err(|e| format!("not a DER CMS signature: {e}"))?;
        let mut certs = Stack::new().map_err(|e| e.to_string())?;
        certs.push(self.cert.clone()).map_err(|e| e.to_string())?;
        let store = X509StoreBuilder::new().map_err(|e| e.to_string())?.build();
        cms.verify(
            Some(&certs),
            Some(&store),
            Some(payload),
            None,
            CMSOptions::NO_SIGNER_CERT_VERIFY | CMSOptions::BINARY,
        )
        .map_err(|e| format!("verification failed ({e})"))
    }
}
