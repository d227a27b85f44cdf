//! Kernel tests of the `example-execsnoop` binary, run with `cargo vmtest -p example-execsnoop`:
//! on 6.18.15 (P1), 7.2.13 (P1b) and 7.3.4 (P2) it loads signed (certificate A registered by
//! `--register-cert` in a fresh session keyring), reports execs this test makes with the right
//! pid, parent and file name, and on SIGINT prints the execve() count of this test's command.
//! The host cannot verify signatures and the binary embeds no unsigned loader: there it must
//! fail with EOPNOTSUPP and say why.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bpfsign_kernel_tests::{kernel_release, test_kernel};

/// TEST-ONLY certificate (DER) of key A, which signs example-execsnoop.
const CERT_A: &[u8] = include_bytes!("../../../tests/fixtures/keys/TEST-ONLY-key-a.der");

/// The `example-execsnoop` binary: from PATH (the VM test bed puts workspace binaries there),
/// else the one cargo built next to this test.
fn execsnoop() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("example-execsnoop"))
                .find(|c| c.is_file())
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_example-execsnoop")))
}

fn signing_kernel() -> bool {
    match test_kernel().as_str() {
        "6.18.15" | "7.2.13" | "7.3.4" => true,
        "host" => false,
        other => panic!("unknown BPFSIGN_TEST_KERNEL {other}"),
    }
}

/// The command name of the calling thread (what `bpf_get_current_comm` sees for its execs).
fn thread_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm")
        .expect("read /proc/thread-self/comm")
        .trim_end()
        .to_string()
}

#[test]
#[ignore = "kernel test: needs root and BPF; run with `cargo vmtest`"]
fn kernel_execsnoop_reports_execs_and_counts_on_sigint() {
    if !signing_kernel() {
        let out = Command::new(execsnoop())
            .args(["--seconds", "1"])
            .output()
            .expect("run example-execsnoop");
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!(
            "host: example-execsnoop is signed-only and the host cannot verify signatures: \
             checking that it refuses cleanly\n{stdout}"
        );
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stdout.contains("load = -95 EOPNOTSUPP"),
            "errno name missing"
        );
        assert!(!stdout.contains("attach = 0"));
        return;
    }
    bpfsign_runtime::join_new_session_keyring().expect("join a new session keyring");
    let cert = std::env::temp_dir().join(format!("execsnoop-{}-a.der", std::process::id()));
    std::fs::write(&cert, CERT_A).expect("write the certificate");

    let mut child = Command::new(execsnoop())
        .args(["--register-cert", cert.to_str().unwrap(), "--seconds", "60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start example-execsnoop");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines.iter().any(|l: &String| l == "attach = 0") {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("no `attach = 0` from example-execsnoop: {lines:#?}");
            }
        }
    }

    // Exec this test binary three times (it lists its tests and exits).
    let exe = std::env::current_exe().expect("current_exe");
    let comm = thread_comm();
    let mut pids = Vec::new();
    for _ in 0..3 {
        let mut c = Command::new(&exe)
            .arg("--list")
            .stdout(Stdio::null())
            .spawn()
            .expect("exec this test binary");
        pids.push(c.id());
        assert!(c.wait().expect("wait").success());
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on the pid of the child this test started and has not reaped yet.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(r, 0, "SIGINT to example-execsnoop");
    let interrupted = Instant::now();
    let status = child.wait().expect("wait for example-execsnoop");
    // It runs with --seconds 60: only the SIGINT path can make it stop this soon.
    let stop_time = interrupted.elapsed();
    assert!(
        stop_time < Duration::from_secs(10),
        "example-execsnoop took {stop_time:?} to stop after SIGINT"
    );
    reader.join().expect("stdout reader");
    lines.extend(rx.try_iter());
    let _ = std::fs::remove_file(&cert);
    let text = lines.join("\n");
    eprintln!(
        "example-execsnoop on {} ({}): {status:?}\n{text}",
        test_kernel(),
        kernel_release()
    );
    assert_eq!(status.code(), Some(0));
    assert!(text.contains("load = 0"));

    let me = std::process::id();
    let exe_name = exe.to_str().unwrap();
    for pid in &pids {
        let found = lines.iter().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() == 5
                && cols[0] == pid.to_string()
                && cols[1] == me.to_string()
                && cols[4] == exe_name
        });
        assert!(
            found,
            "no event line for pid {pid} (parent {me}, {exe_name})"
        );
    }
    let summary = lines
        .iter()
        .position(|l| l == "execve() calls by command:")
        .expect("summary printed after SIGINT");
    let count = lines[summary + 1..]
        .iter()
        .find_map(|l| {
            let (n, c) = l.trim().split_once("  ")?;
            (c.trim() == comm).then(|| n.trim().parse::<u64>().ok())?
        })
        .unwrap_or_else(|| panic!("no summary line for this test's command {comm:?}"));
    assert!(
        count >= 3,
        "{count} execve() calls counted for {comm:?}, made 3"
    );
}
