//! Reading what libtest (the standard `#[test]` harness) prints, and judging one test run.

/// Name prefix (of the test function, the last `::` segment) that marks a kernel test.
pub const KERNEL_PREFIX: &str = "kernel_";

/// Test names from `<binary> --list` output (`name: test` lines; benches are skipped).
pub fn parse_list(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.trim_end().strip_suffix(": test"))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty() && !n.contains(' '))
        .collect()
}

/// Whether the test function's name (the last path segment) starts with `kernel_`.
pub fn is_kernel_test(name: &str) -> bool {
    name.rsplit("::")
        .next()
        .is_some_and(|f| f.starts_with(KERNEL_PREFIX))
}

/// libtest semantics: no filter matches everything, else any filter is a substring of the name.
pub fn matches_filters(name: &str, filters: &[String]) -> bool {
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// Counts from a `test result: ok. 1 passed; 0 failed; 0 ignored; ...` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ResultLine {
    /// Tests that passed.
    pub passed: u32,
    /// Tests that failed.
    pub failed: u32,
}

/// Parses a `test result:` line anywhere in `line` (console noise before it is allowed).
pub fn parse_result_line(line: &str) -> Option<ResultLine> {
    let i = line.find("test result: ")?;
    let rest = &line[i + "test result: ".len()..];
    let count = |what: &str| -> Option<u32> {
        let j = rest.find(&format!(" {what}"))?;
        rest[..j]
            .rsplit(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Some(ResultLine {
        passed: count("passed")?,
        failed: count("failed")?,
    })
}

/// Status from a `test NAME ... ok|FAILED|ignored` line for `name`.
pub fn parse_status_line(line: &str, name: &str) -> Option<Status> {
    let i = line.find(&format!("test {name} ... "))?;
    let rest = line[i + 5 + name.len() + 5..].trim();
    Some(if rest.starts_with("ok") {
        Status::Ok
    } else if rest.starts_with("FAILED") {
        Status::Failed
    } else if rest.starts_with("ignored") {
        Status::Ignored
    } else {
        return None;
    })
}

/// A libtest per-test status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `ok`.
    Ok,
    /// `FAILED`.
    Failed,
    /// `ignored` (should not happen with `--ignored`).
    Ignored,
}

/// The verdict on one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Ran and passed.
    Passed,
    /// Did not pass; the reason says how (failed, crashed, not run, ...).
    Failed(String),
}

/// Judges one `BINARY --ignored --exact NAME` run from its exit status (`None` = it never
/// finished: the guest died or timed out) and its output.
pub fn judge(name: &str, rc: Option<i32>, output: &[String]) -> Verdict {
    let result = output.iter().rev().find_map(|l| parse_result_line(l));
    let status = output.iter().rev().find_map(|l| parse_status_line(l, name));
    match rc {
        None => Verdict::Failed(
            "did not finish: the guest stopped while it ran (crash or timeout, see above)".into(),
        ),
        Some(0) => match (status, result) {
            (Some(Status::Ok), r) if r.is_none_or(|r| r.failed == 0 && r.passed == 1) => {
                Verdict::Passed
            }
            (None, Some(r)) if r.passed == 1 && r.failed == 0 => Verdict::Passed,
            (Some(Status::Ignored), _) => {
                Verdict::Failed("reported as ignored instead of run".into())
            }
            (_, Some(r)) if r.passed == 0 && r.failed == 0 => {
                Verdict::Failed("did not run: the binary has no test with this exact name".into())
            }
            _ => {
                Verdict::Failed("exit status 0 but no libtest `ok` for it (output garbled?)".into())
            }
        },
        Some(code) => {
            let how = if status == Some(Status::Failed) || result.is_some_and(|r| r.failed > 0) {
                "test failed".to_string()
            } else if code > 128 && code < 160 {
                format!("test process killed by signal {} (crash?)", code - 128)
            } else if code < 0 {
                "test process killed by a signal (crash?)".to_string()
            } else {
                "test binary failed without a libtest result".to_string()
            };
            Verdict::Failed(format!("{how} (exit status {code})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    #[test]
    fn list_output() {
        let t = "kernel_a: test\nmodx::kernel_b: test\nbench_x: bench\n\n2 tests, 1 benchmark\n";
        assert_eq!(parse_list(t), ["kernel_a", "modx::kernel_b"]);
    }

    #[test]
    fn recognises_kernel_test_names() {
        assert!(is_kernel_test("kernel_loads"));
        assert!(is_kernel_test("tests::kernel_loads"));
        assert!(!is_kernel_test("kernel_tests::loads"));
        assert!(!is_kernel_test("test_kernel_loads"));
    }

    #[test]
    fn filters_are_substring_or() {
        let f = vec!["socket".to_string(), "zzz".to_string()];
        assert!(matches_filters("kernel_unsigned_socket_filter_loads", &f));
        assert!(!matches_filters("kernel_x", &f));
        assert!(matches_filters("kernel_x", &[]));
    }

    #[test]
    fn result_lines() {
        let l = "test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 3 filtered out; finished in 0.01s";
        assert_eq!(
            parse_result_line(l),
            Some(ResultLine {
                passed: 1,
                failed: 0
            })
        );
        let l = "[   3.1] x test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out";
        assert_eq!(
            parse_result_line(l),
            Some(ResultLine {
                passed: 0,
                failed: 1
            })
        );
        assert_eq!(parse_result_line("test result: nonsense"), None);
    }

    #[test]
    fn status_lines() {
        assert_eq!(
            parse_status_line("test a::kernel_x ... ok", "a::kernel_x"),
            Some(Status::Ok)
        );
        assert_eq!(
            parse_status_line("test kernel_x ... FAILED", "kernel_x"),
            Some(Status::Failed)
        );
        assert_eq!(
            parse_status_line("test kernel_x ... ignored, reason", "kernel_x"),
            Some(Status::Ignored)
        );
        assert_eq!(parse_status_line("test kernel_xy ... ok", "kernel_x"), None);
    }

    #[test]
    fn verdicts() {
        let ok = v("\nrunning 1 test\ntest kernel_x ... ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 2 filtered out; finished in 0.00s\n");
        assert_eq!(judge("kernel_x", Some(0), &ok), Verdict::Passed);
        let none = v("running 0 tests\n\ntest result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 3 filtered out\n");
        assert!(
            matches!(judge("kernel_x", Some(0), &none), Verdict::Failed(r) if r.contains("did not run"))
        );
        let failed = v("running 1 test\ntest kernel_x ... FAILED\n\nfailures:\n\ntest result: FAILED. 0 passed; 1 failed; 0 ignored\n");
        assert!(
            matches!(judge("kernel_x", Some(101), &failed), Verdict::Failed(r) if r.contains("test failed (exit status 101)"))
        );
        let crash = v("running 1 test\ntest kernel_x ... ");
        assert!(
            matches!(judge("kernel_x", Some(139), &crash), Verdict::Failed(r) if r.contains("signal 11"))
        );
        assert!(
            matches!(judge("kernel_x", None, &crash), Verdict::Failed(r) if r.contains("did not finish"))
        );
        assert!(
            matches!(judge("kernel_x", Some(0), &[]), Verdict::Failed(r) if r.contains("garbled"))
        );
        let ignored =
            v("test kernel_x ... ignored\ntest result: ok. 0 passed; 0 failed; 1 ignored\n");
        assert!(
            matches!(judge("kernel_x", Some(0), &ignored), Verdict::Failed(r) if r.contains("ignored"))
        );
    }
}
