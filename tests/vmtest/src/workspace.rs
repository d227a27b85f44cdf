//! Building the workspace with cargo and finding its kernel tests.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cargo_metadata::{Message, MetadataCommand};

use crate::bail;
use crate::error::{Context, Result};
use crate::libtest;
use crate::process::{self, Control, Ended};

/// The workspace the runner serves.
#[derive(Debug)]
pub struct Workspace {
    /// Directory of the root Cargo.toml.
    pub root: PathBuf,
    /// cargo's target directory (honours `CARGO_TARGET_DIR` and config).
    pub target_dir: PathBuf,
    cargo: OsString,
    names: BTreeMap<String, String>,
}

/// A test executable built by `cargo test --no-run`.
#[derive(Clone, Debug)]
pub struct TestBinary {
    /// Package name.
    pub package: String,
    /// Target name (e.g. `selftest` for tests/selftest.rs, the crate name for unit tests).
    pub target: String,
    /// Where cargo put it.
    pub path: PathBuf,
}

impl TestBinary {
    /// `package/target`, for messages.
    pub fn label(&self) -> String {
        format!("{}/{}", self.package, self.target)
    }
}

/// One kernel test to run.
#[derive(Clone, Debug)]
pub struct TestCase {
    /// Index into the binaries.
    pub bin: usize,
    /// Full libtest name (`module::kernel_x`).
    pub name: String,
}

/// What `cargo test --no-run` + `cargo build --bins` produced, and the selected tests.
#[derive(Debug, Default)]
pub struct Plan {
    /// Test executables that hold at least one selected test.
    pub binaries: Vec<TestBinary>,
    /// Selected tests, in binary order.
    pub cases: Vec<TestCase>,
    /// The workspace's binaries (put on PATH for the tests).
    pub bins: Vec<PathBuf>,
}

impl Workspace {
    /// Finds the workspace this runner belongs to (via `cargo metadata`).
    pub fn locate() -> Result<Self> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        // `cargo run` sets CARGO_MANIFEST_DIR at run time; the compile-time value is the fallback.
        let dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let meta = MetadataCommand::new()
            .cargo_path(&cargo)
            .current_dir(&dir)
            .no_deps()
            .exec()
            .ctx(|| format!("cargo metadata in {}", dir.display()))?;
        let names = meta
            .packages
            .iter()
            .map(|p| (p.id.repr.clone(), p.name.to_string()))
            .collect::<BTreeMap<_, _>>();
        Ok(Workspace {
            root: meta.workspace_root.into_std_path_buf(),
            target_dir: meta.target_directory.into_std_path_buf(),
            cargo,
            names,
        })
    }

    fn cargo(&self, sub: &str, packages: &[String]) -> Command {
        let mut c = Command::new(&self.cargo);
        c.arg(sub)
            .arg("--manifest-path")
            .arg(self.root.join("Cargo.toml"));
        if packages.is_empty() {
            c.arg("--workspace");
        } else {
            for p in packages {
                c.arg("-p").arg(p);
            }
        }
        c.arg("--message-format=json-render-diagnostics");
        c
    }

    /// Runs a cargo build command and returns `(executable, is_test, package, target)` of each artifact.
    fn build(&self, mut cmd: Command, what: &str) -> Result<Vec<(PathBuf, bool, String, String)>> {
        eprintln!("vmtest: {what}");
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .ctx(|| format!("starting cargo ({what})"))?;
        let out = child.stdout.take().expect("piped");
        let mut found = Vec::new();
        for msg in Message::parse_stream(BufReader::new(out)) {
            let msg = msg.ctx(|| format!("reading cargo's JSON output ({what})"))?;
            if let Message::CompilerArtifact(a) = msg {
                if let Some(exe) = a.executable {
                    let pkg = self
                        .names
                        .get(&a.package_id.repr)
                        .cloned()
                        .unwrap_or_else(|| a.package_id.repr.clone());
                    found.push((
                        exe.into_std_path_buf(),
                        a.profile.test,
                        pkg,
                        a.target.name.clone(),
                    ));
                }
            }
        }
        let st = child.wait().ctx(|| format!("waiting for cargo ({what})"))?;
        if !st.success() {
            bail!("`{what}` failed ({st}); fix the build errors above");
        }
        Ok(found)
    }

    /// `cargo test --no-run` and `cargo build --bins` for `packages` (empty: the whole workspace).
    pub fn build_all(&self, packages: &[String]) -> Result<(Vec<TestBinary>, Vec<PathBuf>)> {
        let mut c = self.cargo("test", packages);
        c.arg("--no-run");
        let scope = if packages.is_empty() {
            "--workspace".to_string()
        } else {
            format!("-p {}", packages.join(" -p "))
        };
        let tests = self.build(c, &format!("cargo test {scope} --no-run"))?;
        let mut c = self.cargo("build", packages);
        c.arg("--bins");
        let bins = self.build(c, &format!("cargo build {scope} --bins"))?;
        let mut binaries: Vec<TestBinary> = tests
            .into_iter()
            .filter(|t| t.1)
            .map(|(path, _, package, target)| TestBinary {
                package,
                target,
                path,
            })
            .collect();
        binaries.sort_by(|a, b| a.path.cmp(&b.path));
        binaries.dedup_by(|a, b| a.path == b.path);
        // The runner itself is no use in the guest.
        let mut exes: Vec<PathBuf> = bins
            .into_iter()
            .filter(|b| !b.1 && b.2 != env!("CARGO_PKG_NAME"))
            .map(|b| b.0)
            .collect();
        exes.sort();
        exes.dedup();
        Ok((binaries, exes))
    }
}

/// Runs `<bin> --list [--ignored]` and returns the test names.
fn list_tests(bin: &Path, ignored: bool) -> Result<Vec<String>> {
    let mut cmd = Command::new(bin);
    cmd.args(["--list", "--format", "terse"]);
    if ignored {
        cmd.arg("--ignored");
    }
    let mut out = Vec::new();
    let ended = process::run_streaming(
        &mut cmd,
        Instant::now() + Duration::from_secs(60),
        &mut |l| {
            out.push(l.to_string());
            Control::Continue
        },
    )?;
    if ended != Ended::Code(0) {
        bail!(
            "{} --list failed ({ended:?}): {}",
            bin.display(),
            out.join("\n")
        );
    }
    Ok(libtest::parse_list(&out.join("\n")))
}

/// Selects the kernel tests (ignored, named `kernel_*`, matching `filters`) of each binary.
/// Prints a warning for `kernel_*` tests that are not `#[ignore]`d (plain `cargo test` would run them).
pub fn select(binaries: Vec<TestBinary>, bins: Vec<PathBuf>, filters: &[String]) -> Result<Plan> {
    let mut plan = Plan {
        bins,
        ..Plan::default()
    };
    for b in binaries {
        let listed = list_tests(&b.path, true)
            .and_then(|ignored| Ok((ignored, list_tests(&b.path, false)?)));
        let (ignored, all) = match listed {
            Ok(l) => l,
            Err(e) => {
                // e.g. a `harness = false` test: it cannot hold libtest kernel tests anyway.
                eprintln!(
                    "vmtest: WARNING: skipping {} (not a libtest binary?): {e}",
                    b.label()
                );
                continue;
            }
        };
        for n in all
            .iter()
            .filter(|n| libtest::is_kernel_test(n) && !ignored.contains(n))
        {
            eprintln!(
                "vmtest: WARNING: {n} ({}) is named kernel_* but is not #[ignore = \"kernel test: ...\"]: \
                 plain `cargo test` runs it; see tests/README.md",
                b.label()
            );
        }
        let picked: Vec<String> = ignored
            .into_iter()
            .filter(|n| libtest::is_kernel_test(n) && libtest::matches_filters(n, filters))
            .collect();
        if picked.is_empty() {
            continue;
        }
        let idx = plan.binaries.len();
        plan.binaries.push(b);
        plan.cases
            .extend(picked.into_iter().map(|name| TestCase { bin: idx, name }));
    }
    Ok(plan)
}
