//! Helpers shared by the kernel tests of `example-hello`: find the binary, write certificates,
//! run it and capture what it printed.

use std::path::PathBuf;
use std::process::Command;

use bpfsign_kernel_tests::{kernel_release, test_kernel};

/// TEST-ONLY certificates (DER) of the keys A and B; example-hello is signed with A.
pub const CERT_A: &[u8] = include_bytes!("../../../tests/fixtures/keys/TEST-ONLY-key-a.der");
/// See [`CERT_A`].
pub const CERT_B: &[u8] = include_bytes!("../../../tests/fixtures/keys/TEST-ONLY-key-b.der");

/// The `example-hello` binary: from PATH (the VM test bed puts workspace binaries there), else
/// the one cargo built next to this test.
pub fn example_hello() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("example-hello"))
                .find(|c| c.is_file())
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_example-hello")))
}

/// Writes a certificate to a temporary file for `--register-cert`.
pub fn cert_file(name: &str, der: &[u8]) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("example-hello-{}-{name}.der", std::process::id()));
    std::fs::write(&path, der).expect("write the certificate to the temp dir");
    path
}

/// Exit status and standard output of one run.
pub struct Run {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// What it printed.
    pub stdout: String,
}

/// Runs example-hello in the caller's session keyring; `protocol` sets `BPFSIGN_PROTOCOL`.
pub fn run_in_session(args: &[&str], protocol: Option<&str>) -> Run {
    let mut cmd = Command::new(example_hello());
    cmd.args(args).env_remove("BPFSIGN_PROTOCOL");
    if let Some(p) = protocol {
        cmd.env("BPFSIGN_PROTOCOL", p);
    }
    let out = cmd.output().expect("run example-hello");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!(
        "example-hello {args:?} (BPFSIGN_PROTOCOL={protocol:?}) on {} ({}): {:?}\n{stdout}{}",
        test_kernel(),
        kernel_release(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        code: out.status.code(),
        stdout,
    }
}
