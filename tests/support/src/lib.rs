//! Helpers shared by bpfsign's tests and test build scripts: the one fixture tree
//! (`tests/fixtures`) and the repository root that holds it, scratch directories, the
//! `openssl cms -sign` command of the offline-signing tests and the pinned build-host inputs of
//! the kcfg goldens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use bpfsign_gen::GenOptions;

pub mod golden;

/// The fixture tree, relative to the repository root.
pub const FIXTURES: &str = "tests/fixtures";

/// The file that marks a directory as the repository root (`<root>/tests/fixtures/...`).
const ROOT_MARKER: &str = "tests/fixtures/golden/index.tsv";

/// The nearest ancestor of `start` (itself included) that holds the fixture tree
/// (`tests/fixtures/golden/index.tsv`).
pub fn find_repo_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join(ROOT_MARKER).is_file())
        .map(Path::to_path_buf)
}

/// The repository root, found from this crate's source directory or, when this crate was
/// unpacked elsewhere (`cargo package` verifies a package against copies of its dependencies),
/// from `$CARGO_MANIFEST_DIR` of the running build script or test. A packaged crate lives in
/// `target/package/` inside the repository, so both still reach the checkout.
///
/// `Err` says where it looked: the tests and test build scripts need the fixture tree and do
/// not work from a lone crate.
pub fn try_repo_root() -> Result<PathBuf, String> {
    let mut tried = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))];
    tried.extend(std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from));
    tried
        .iter()
        .find_map(|dir| find_repo_root(dir))
        .ok_or_else(|| {
            let tried: Vec<String> = tried.iter().map(|d| d.display().to_string()).collect();
            format!(
                "no bpfsign checkout at or above {}: the tests need the repository's fixture tree \
             ({ROOT_MARKER}); build and run them inside a checkout of the repository",
                tried.join(" or ")
            )
        })
}

/// [`try_repo_root`], panicking with its message when there is no checkout.
pub fn repo_root() -> PathBuf {
    try_repo_root().unwrap_or_else(|e| panic!("{e}"))
}

/// `tests/fixtures` of the repository ([`repo_root`]).
pub fn fixtures() -> PathBuf {
    repo_root().join(FIXTURES)
}

/// The bytes of `p`; panics naming the file.
pub fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A fresh scratch directory per test: `bpfsign-<group>-<test>-<pid>` in the temp directory.
pub fn scratch(group: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bpfsign-{group}-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The build-host inputs the kcfg goldens were made with (`tests/fixtures/gen/README.md`).
pub fn kcfg_opts() -> GenOptions {
    let mut kconfig = BTreeMap::new();
    kconfig.insert("CONFIG_HZ".to_string(), "250".to_string());
    kconfig.insert("CONFIG_BPF_SYSCALL".to_string(), "y".to_string());
    kconfig.insert(
        "CONFIG_LOCALVERSION".to_string(),
        "\"-fc-v669\"".to_string(),
    );
    let mut ksym_addrs = BTreeMap::new();
    ksym_addrs.insert("_stext".to_string(), 0xffff_ffff_8100_0000);
    GenOptions {
        name: Some("kcfg".into()),
        kconfig,
        kernel_version: Some((6 << 16) | (18 << 8) | 44),
        ksym_addrs,
        ..Default::default()
    }
}

/// The `openssl cms -sign` options of a signature in the form bpftool makes (docs/protocol.md §4.1), as the
/// documentation gives them: no signed attributes, no certificates, signer named by its
/// subjectKeyIdentifier.
pub const CMS_KERNEL_FLAGS: &[&str] = &["-noattr", "-nocerts", "-nosmimecap", "-keyid"];

/// Signs `payload` the way an HSM-side tool would: `openssl cms -sign -binary -md sha256
/// -outform DER` with [`CMS_KERNEL_FLAGS`], writing the detached DER signature to `out`.
/// `signer_pem` holds the private key and its certificate. Panics with OpenSSL's message when
/// `openssl` is missing or fails.
pub fn openssl_cms_sign(payload: &Path, signer_pem: &Path, out: &Path) {
    openssl_cms_sign_with(payload, signer_pem, out, CMS_KERNEL_FLAGS)
}

/// [`openssl_cms_sign`] with other options than [`CMS_KERNEL_FLAGS`] (e.g. keeping the signer's
/// certificate, signed attributes, `-nodetach`): `flags` replaces them.
pub fn openssl_cms_sign_with(payload: &Path, signer_pem: &Path, out: &Path, flags: &[&str]) {
    let o = Command::new("openssl")
        .args([
            "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER",
        ])
        .args(flags)
        .arg("-signer")
        .arg(signer_pem)
        .arg("-inkey")
        .arg(signer_pem)
        .arg("-in")
        .arg(payload)
        .arg("-out")
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("running openssl (it must be installed): {e}"));
    assert!(
        o.status.success(),
        "openssl cms -sign {flags:?} -in {}: {}",
        payload.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_root_holds_the_fixture_tree() {
        let root = repo_root();
        assert!(root.join("tests/fixtures/golden/index.tsv").is_file());
        assert!(root.join("Cargo.toml").is_file());
        assert_eq!(fixtures(), root.join("tests/fixtures"));
        // From deeper inside (a packaged copy lives in target/package/<crate>/).
        let deep = root.join("target/package/some-crate-0.1.0/src");
        assert_eq!(find_repo_root(&deep).as_deref(), Some(root.as_path()));
        assert_eq!(find_repo_root(Path::new("/")), None);
    }

    #[test]
    fn openssl_cms_sign_makes_a_signature_of_key_a() {
        let dir = scratch("support", "cms");
        let payload = dir.join("payload.bin");
        std::fs::write(&payload, b"payload").unwrap();
        let key = fixtures().join("keys/TEST-ONLY-key-a.pem");
        let (kernel, with_cert) = (dir.join("kernel.der"), dir.join("cert.der"));
        openssl_cms_sign(&payload, &key, &kernel);
        openssl_cms_sign_with(&payload, &key, &with_cert, &["-noattr", "-keyid"]);
        let signer = golden::signer();
        let cert = signer.certificate().der().to_vec();
        let (kernel, with_cert) = (read(&kernel), read(&with_cert));
        // RSA PKCS#1 v1.5 without signed attributes is deterministic: the same bytes as
        // bpfsign's own signer, and only the embedded certificate differs with `-nocerts` off.
        assert_eq!(kernel, signer.sign(b"payload").unwrap());
        assert!(!contains(&kernel, &cert));
        assert!(contains(&with_cert, &cert));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }
}
