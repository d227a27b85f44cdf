//! Runs a child process with its stdout+stderr streamed line by line and a hard deadline.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Context, Result};

/// What the line callback wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// Kill the child now (e.g. qemu paused on `KVM internal error`).
    Kill,
}

/// How the child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal (not by us).
    Signal(i32),
    /// Still running at the deadline: killed.
    TimedOut,
    /// Killed because the callback asked for it.
    KilledOnRequest,
}

/// Spawns `cmd` (stdin null, stdout+stderr merged into one pipe), calls `on_line` for every line
/// (`\r` removed, invalid UTF-8 replaced), and kills it with SIGKILL at `deadline`.
pub fn run_streaming(
    cmd: &mut Command,
    deadline: Instant,
    on_line: &mut dyn FnMut(&str) -> Control,
) -> Result<Ended> {
    let (reader, writer) = std::io::pipe().ctx(|| "creating a pipe".into())?;
    let writer2 = writer.try_clone().ctx(|| "duplicating a pipe".into())?;
    cmd.stdin(Stdio::null()).stdout(writer).stderr(writer2);
    let mut child = cmd
        .spawn()
        .ctx(|| format!("starting {:?}", cmd.get_program()))?;
    // The Command still holds the pipe's write ends: replace them so EOF arrives when the child exits.
    cmd.stdout(Stdio::null()).stderr(Stdio::null());

    let (tx, rx) = mpsc::channel::<String>();
    let pump = thread::spawn(move || {
        let mut r = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.by_ref().read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']).replace('\r', "");
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });

    let mut killed: Option<Ended> = None;
    let mut exited: Option<(std::process::ExitStatus, Instant)> = None;
    let mut eof = false;
    let status = loop {
        let now = Instant::now();
        if exited.is_none() {
            if let Some(st) = child
                .try_wait()
                .ctx(|| "waiting for a child process".into())?
            {
                exited = Some((st, now));
            }
        }
        if killed.is_none() && exited.is_none() && now >= deadline {
            kill(&mut child);
            killed = Some(Ended::TimedOut);
        }
        // Done when the child is gone and its output drained; a grandchild may keep the pipe
        // open after the child is gone, so do not wait for EOF longer than 2 s.
        if let Some((st, at)) = exited {
            if eof || now.duration_since(at) > Duration::from_secs(2) {
                break st;
            }
        }
        if eof {
            thread::sleep(Duration::from_millis(20));
            continue;
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                if on_line(&line) == Control::Kill && killed.is_none() && exited.is_none() {
                    kill(&mut child);
                    killed = Some(Ended::KilledOnRequest);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => eof = true,
        }
    };
    if eof {
        let _ = pump.join();
    }
    if let Some(k) = killed {
        return Ok(k);
    }
    use std::os::unix::process::ExitStatusExt;
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => Ended::Code(c),
        (None, Some(s)) => Ended::Signal(s),
        (None, None) => Ended::Code(-1),
    })
}

fn kill(child: &mut Child) {
    let _ = child.kill();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_lines_and_exit_code() {
        let mut lines = Vec::new();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo one; echo two >&2; printf 'three\\r\\n'; exit 7"]);
        let end = run_streaming(
            &mut cmd,
            Instant::now() + Duration::from_secs(20),
            &mut |l| {
                lines.push(l.to_string());
                Control::Continue
            },
        )
        .unwrap();
        assert_eq!(end, Ended::Code(7));
        assert_eq!(lines, ["one", "two", "three"]);
    }

    #[test]
    fn deadline_kills() {
        let t0 = Instant::now();
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let end = run_streaming(
            &mut cmd,
            Instant::now() + Duration::from_millis(300),
            &mut |_| Control::Continue,
        )
        .unwrap();
        assert_eq!(end, Ended::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn callback_can_kill() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo 'KVM internal error. Suberror: 1'; sleep 30"]);
        let end = run_streaming(
            &mut cmd,
            Instant::now() + Duration::from_secs(20),
            &mut |l| {
                if l.contains("KVM internal error") {
                    Control::Kill
                } else {
                    Control::Continue
                }
            },
        )
        .unwrap();
        assert_eq!(end, Ended::KilledOnRequest);
    }
}
