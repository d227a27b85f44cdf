//! Keyrings: which one the kernel searches for the signer's key (`keyring_id`, docs/protocol.md §1.2), and
//! registering a signing certificate as an `asymmetric` key (what `keyctl padd asymmetric '' @s`
//! and `keyctl newring` do), with raw `add_key` / `keyctl` syscalls. The certificate's encoding
//! (PEM, DER, subjectKeyIdentifier) is read by [`crate::cert`].

use std::ffi::CString;
use std::fmt;
use std::io;

use crate::cert::{cert_skid, cert_to_der};
use crate::error::{Ctx, Error, Stage};

/// `KEY_SPEC_SESSION_KEYRING`.
pub const KEY_SPEC_SESSION_KEYRING: i32 = -3;
/// `KEY_SPEC_USER_KEYRING`.
pub const KEY_SPEC_USER_KEYRING: i32 = -4;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
const KEYCTL_SEARCH: libc::c_long = 10;

/// The keyring the kernel searches for the key that verifies a signed skeleton.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Keyring {
    /// `.builtin_trusted_keys` (keyring_id 0): keys compiled into the kernel. The default, as in libbpf.
    #[default]
    Builtin,
    /// `.secondary_trusted_keys` (1), which also links the builtin keys.
    Secondary,
    /// `.platform` (2): firmware / MOK keys.
    Platform,
    /// The caller's session keyring (`KEY_SPEC_SESSION_KEYRING`, -3).
    Session,
    /// Any keyring by serial or special id (for example one returned by [`register_cert`]).
    User(i32),
}

impl Keyring {
    /// The `keyring_id` value passed to `BPF_PROG_LOAD`.
    pub fn id(self) -> i32 {
        match self {
            Keyring::Builtin => 0,
            Keyring::Secondary => 1,
            Keyring::Platform => 2,
            Keyring::Session => KEY_SPEC_SESSION_KEYRING,
            Keyring::User(id) => id,
        }
    }

    /// A description for messages (`"the session keyring (@s, keyring_id -3)"`).
    pub fn describe(self) -> String {
        match self {
            Keyring::Builtin => {
                "the builtin trusted keyring (.builtin_trusted_keys, keyring_id 0)".into()
            }
            Keyring::Secondary => {
                "the secondary trusted keyring (.secondary_trusted_keys, keyring_id 1)".into()
            }
            Keyring::Platform => "the platform keyring (.platform, keyring_id 2)".into(),
            Keyring::Session => "the session keyring (@s, keyring_id -3)".into(),
            Keyring::User(id) => format!("keyring {id}"),
        }
    }
}

impl fmt::Display for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Keyring::Builtin => f.write_str("builtin"),
            Keyring::Secondary => f.write_str("secondary"),
            Keyring::Platform => f.write_str("platform"),
            Keyring::Session => f.write_str("session"),
            Keyring::User(id) => write!(f, "{id}"),
        }
    }
}

impl std::str::FromStr for Keyring {
    type Err = String;

    /// Parses `builtin`, `secondary`, `platform`, `session` or a numeric keyring id.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "builtin" => Ok(Keyring::Builtin),
            "secondary" => Ok(Keyring::Secondary),
            "platform" => Ok(Keyring::Platform),
            "session" | "@s" => Ok(Keyring::Session),
            other => other.parse::<i32>().map(Keyring::User).map_err(|_| {
                format!("unknown keyring {other:?}: expected builtin, secondary, platform, session or a keyring id")
            }),
        }
    }
}

/// Where [`register_cert`] puts the certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertTarget<'a> {
    /// The caller's session keyring (`@s`); load with [`Keyring::Session`].
    Session,
    /// An existing keyring by serial or special id.
    Keyring(i32),
    /// A keyring with this name inside the session keyring, created if missing
    /// (`keyctl newring NAME @s`); load with the returned [`RegisteredCert::keyring`].
    Named(&'a str),
}

/// A certificate registered by [`register_cert`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredCert {
    /// Serial of the new `asymmetric` key.
    pub key: i32,
    /// The keyring to pass to the load so the kernel finds the key.
    pub keyring: Keyring,
    /// Hex subjectKeyIdentifier of the certificate, if it has one.
    pub skid: Option<String>,
}

fn keyring_err(err: io::Error, detail: String) -> Error {
    Error::sys(Stage::Keyring, &err, detail, &Ctx::default())
}

fn add_key(kind: &CString, desc: Option<&CString>, payload: &[u8], ring: i32) -> io::Result<i32> {
    // SAFETY: valid C strings and a payload buffer of the given length.
    let r = unsafe {
        libc::syscall(
            libc::SYS_add_key,
            kind.as_ptr(),
            desc.map_or(std::ptr::null(), |d| d.as_ptr()),
            if payload.is_empty() {
                std::ptr::null()
            } else {
                payload.as_ptr()
            },
            payload.len(),
            ring as libc::c_long,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as i32)
    }
}

/// Registers a signing certificate (DER, or PEM with a `CERTIFICATE` block, possibly next to a
/// private key, which is ignored) as an `asymmetric` key. The kernel names the key from the
/// certificate ("CN: skid").
pub fn register_cert(cert: &[u8], target: CertTarget<'_>) -> Result<RegisteredCert, Error> {
    let der = cert_to_der(cert)?;
    let skid = cert_skid(&der);
    let (ring, keyring) = match target {
        CertTarget::Session => (KEY_SPEC_SESSION_KEYRING, Keyring::Session),
        CertTarget::Keyring(id) => (id, Keyring::User(id)),
        CertTarget::Named(name) => {
            let id = named_keyring(name)?;
            (id, Keyring::User(id))
        }
    };
    let kind = CString::new("asymmetric").unwrap_or_default();
    let key = add_key(&kind, None, &der, ring).map_err(|e| {
        keyring_err(
            e,
            format!(
                "add_key(\"asymmetric\") of the certificate into {}",
                Keyring::User(ring).describe()
            ),
        )
    })?;
    Ok(RegisteredCert { key, keyring, skid })
}

/// Finds the keyring `name` reachable from the session keyring, or creates it there; returns its serial.
pub fn named_keyring(name: &str) -> Result<i32, Error> {
    let cname = CString::new(name).map_err(|_| {
        Error::other(
            Stage::Keyring,
            format!("keyring name {name:?} contains NUL"),
            "",
            &Ctx::default(),
        )
    })?;
    let kind = CString::new("keyring").unwrap_or_default();
    // SAFETY: valid C strings.
    let found = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_SEARCH,
            KEY_SPEC_SESSION_KEYRING as libc::c_long,
            kind.as_ptr(),
            cname.as_ptr(),
            0 as libc::c_long,
        )
    };
    if found >= 0 {
        return Ok(found as i32);
    }
    add_key(&kind, Some(&cname), &[], KEY_SPEC_SESSION_KEYRING).map_err(|e| {
        keyring_err(
            e,
            format!("creating keyring {name:?} in the session keyring"),
        )
    })
}

/// Gives the calling thread a new, empty session keyring (`keyctl new_session`) and returns its
/// serial; isolates keys registered afterwards from other threads and processes.
pub fn join_new_session_keyring() -> Result<i32, Error> {
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING with a NULL name creates an anonymous session keyring.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if r < 0 {
        return Err(keyring_err(
            io::Error::last_os_error(),
            "joining a new session keyring".into(),
        ));
    }
    Ok(r as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DER_A: &[u8] = include_bytes!("../../tests/fixtures/keys/TEST-ONLY-key-a.der");
    const PEM_A: &[u8] = include_bytes!("../../tests/fixtures/keys/TEST-ONLY-key-a.pem");
    const SKID_A: &str = include_str!("../../tests/fixtures/keys/TEST-ONLY-key-a.skid");

    #[test]
    fn keyring_ids() {
        assert_eq!(Keyring::Builtin.id(), 0);
        assert_eq!(Keyring::Secondary.id(), 1);
        assert_eq!(Keyring::Platform.id(), 2);
        assert_eq!(Keyring::Session.id(), -3);
        assert_eq!(Keyring::User(1234).id(), 1234);
        assert_eq!("session".parse::<Keyring>(), Ok(Keyring::Session));
        assert_eq!("77".parse::<Keyring>(), Ok(Keyring::User(77)));
        assert!("nope".parse::<Keyring>().is_err());
    }

    #[test]
    fn pem_with_private_key_decodes_to_the_der_cert() {
        assert_eq!(cert_to_der(PEM_A).unwrap().as_ref(), DER_A);
        assert_eq!(cert_to_der(DER_A).unwrap().as_ref(), DER_A);
    }

    #[test]
    fn skid_matches_openssl() {
        assert_eq!(cert_skid(DER_A).as_deref(), Some(SKID_A.trim()));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(cert_to_der(b"hello").is_err());
        assert!(
            cert_to_der(b"-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----").is_err()
        );
        assert!(cert_to_der(b"-----BEGIN CERTIFICATE-----\nAAAA").is_err());
        assert!(cert_to_der(&[0xff, 0xfe]).is_err());
        for cut in 0..DER_A.len() {
            let _ = cert_skid(&DER_A[..cut]);
        }
        assert_eq!(cert_skid(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
