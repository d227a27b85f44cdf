//! Replaying inputs through a target without afl: the non-fuzz build of every target binary,
//! and the workspace regression test (which includes this file by path, like `targets.rs`).

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// One input that made a target panic.
#[derive(Debug)]
pub struct Failure {
    /// The input file.
    pub path: PathBuf,
    /// The panic message.
    pub message: String,
}

/// Every regular file under `path` (itself if it is a file), sorted; dot files and afl's
/// `README.txt` are skipped.
pub fn input_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if path.is_file() {
        out.push(path.to_path_buf());
        return Ok(out);
    }
    for entry in std::fs::read_dir(path)? {
        let p = entry?.path();
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        if name
            .as_deref()
            .is_some_and(|n| n.starts_with('.') || n == "README.txt")
        {
            continue;
        }
        if p.is_dir() {
            out.extend(input_files(&p)?);
        } else {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

/// Runs `target` on each file; returns the inputs that panicked, with the panic message.
pub fn replay(target: fn(&[u8]), files: &[PathBuf]) -> std::io::Result<Vec<Failure>> {
    let mut failures = Vec::new();
    for path in files {
        let data = std::fs::read(path)?;
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| target(&data))) {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(non-string panic payload)".to_string());
            failures.push(Failure {
                path: path.clone(),
                message,
            });
        }
    }
    Ok(failures)
}

/// `main` of a replay binary: replays every file under the arguments (or stdin when there
/// are none) and exits 1 if any panicked, 2 on a usage or I/O error.
pub fn main(name: &str, target: fn(&[u8])) -> ! {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if args.is_empty() {
        let mut data = Vec::new();
        if let Err(e) = std::io::Read::read_to_end(&mut std::io::stdin(), &mut data) {
            eprintln!("{name}: reading stdin: {e}");
            std::process::exit(2);
        }
        target(&data);
        println!("{name}: 1 input (stdin), no panic");
        std::process::exit(0);
    }
    let mut files = Vec::new();
    for a in &args {
        match input_files(a) {
            Ok(f) => files.extend(f),
            Err(e) => {
                eprintln!("{name}: {}: {e}", a.display());
                std::process::exit(2);
            }
        }
    }
    let failures = match replay(target, &files) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::exit(2);
        }
    };
    for f in &failures {
        eprintln!("{name}: PANIC on {}: {}", f.path.display(), f.message);
    }
    println!(
        "{name}: {} inputs replayed, {} panicked",
        files.len(),
        failures.len()
    );
    std::process::exit(if failures.is_empty() { 0 } else { 1 });
}
