//! Unit tests (not kernel tests) of `BpfCompiler`'s compiler checks, on the real builder
//! with fake or missing compilers: GCC older than 14 and a bogus `$BPFSIGN_CC` are refused with
//! an error that says what to do, before anything is written.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bpfsign_build::{BpfCompiler, CompileError, Compiler, COMPILER_ENV};

/// Both tests touch `$BPFSIGN_CC`; run them one at a time.
static ENV: Mutex<()> = Mutex::new(());

fn hello_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../example-hello/src/bpf/hello.bpf.c")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bpfsign-kt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Restores `$BPFSIGN_CC` on drop.
struct EnvGuard(Option<std::ffi::OsString>);

impl EnvGuard {
    fn set(value: Option<&Path>) -> EnvGuard {
        let old = std::env::var_os(COMPILER_ENV);
        match value {
            Some(v) => std::env::set_var(COMPILER_ENV, v),
            None => std::env::remove_var(COMPILER_ENV),
        }
        EnvGuard(old)
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        match &self.0 {
            Some(v) => std::env::set_var(COMPILER_ENV, v),
            None => std::env::remove_var(COMPILER_ENV),
        }
    }
}

#[test]
fn gcc_12_is_refused_with_how_to_get_14() {
    let _lock = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("gcc12");
    // Answers like bookworm's gcc-bpf 12; would fail loudly if asked to compile.
    let fake = dir.join("bpf-unknown-none-gcc");
    std::fs::write(
        &fake,
        "#!/bin/sh\ncase \"$1\" in\n\
         --version) echo 'bpf-unknown-none-gcc (Debian 12.2.0-14) 12.2.0' ;;\n\
         -dumpversion) echo 12 ;;\n\
         *) echo 'fake gcc 12 must not be asked to compile' >&2; exit 99 ;;\n\
         esac\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = dir.join("out");

    let check = |e: CompileError| {
        assert!(
            matches!(&e, CompileError::GccTooOld { major: 12, .. }),
            "{e:?}"
        );
        let msg = e.to_string();
        for want in [
            "GCC 12",
            "GCC < 14",
            "gcc-bpf",
            COMPILER_ENV,
            fake.to_str().unwrap(),
        ] {
            assert!(msg.contains(want), "{want:?} missing from: {msg}");
        }
        assert!(!out.join("hello.bpf.o").exists(), "nothing may be written");
    };
    // Chosen in the builder...
    let _env = EnvGuard::set(None);
    let e = BpfCompiler::new(hello_source())
        .compiler(Compiler::Gcc(fake.clone()))
        .out_dir(&out)
        .cargo_output(false)
        .compile()
        .unwrap_err();
    check(e);
    // ...and through $BPFSIGN_CC, which wins over the builder's choice.
    let _env = EnvGuard::set(Some(&fake));
    let e = BpfCompiler::new(hello_source())
        .compiler(Compiler::Clang("clang".into()))
        .out_dir(&out)
        .cargo_output(false)
        .compile()
        .unwrap_err();
    check(e);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bogus_bpfsign_cc_is_a_clear_error() {
    let _lock = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("bogus-cc");
    let bogus = dir.join("no-such-dir/bpf-cc");
    let out = dir.join("out");
    let _env = EnvGuard::set(Some(&bogus));
    let e = BpfCompiler::new(hello_source())
        .out_dir(&out)
        .cargo_output(false)
        .compile()
        .unwrap_err();
    assert!(matches!(&e, CompileError::NoCompiler { .. }), "{e:?}");
    let msg = e.to_string();
    for want in [
        "no BPF C compiler found".to_string(),
        format!("{COMPILER_ENV}={}", bogus.display()),
        "clang".to_string(),
        "gcc-bpf".to_string(),
    ] {
        assert!(msg.contains(&want), "{want:?} missing from: {msg}");
    }
    assert!(!out.join("hello.bpf.o").exists());

    // A path that exists but cannot be run (not executable) is named as such.
    let not_exec = dir.join("not-a-compiler");
    std::fs::write(&not_exec, "plain text").unwrap();
    let _env2 = EnvGuard::set(Some(&not_exec));
    let e = BpfCompiler::new(hello_source())
        .out_dir(&out)
        .cargo_output(false)
        .compile()
        .unwrap_err();
    assert!(
        matches!(&e, CompileError::CompilerNotRunnable { .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("cannot run") && msg.contains(COMPILER_ENV),
        "{msg}"
    );
    drop(_env2);
    std::fs::remove_dir_all(&dir).unwrap();
}
