//! Stage timings for the cold-start benchmark (cargo feature `stage-timing`; off by default).
//!
//! With the feature, every `bpf(2)` call of the real kernel and the probe's stages (the
//! junk-signature probe, opening vmlinux BTF, scanning it) record how long they took, in a
//! process-wide list that [`take_stage_timings`] drains. Without the feature the hooks compile to
//! nothing and [`take_stage_timings`] returns an empty list, so a normal build pays nothing.
//!
//! `tests/bench` (crate `bpfsign-bench`) enables it to break the first load in a fresh process
//! down into kernel calls and user-space work (BENCHMARKS.md).

use std::time::Duration;

/// One recorded stage: what ran and how long it took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageTiming {
    /// The stage: `bpf(<command number>)` names are `"bpf:<cmd>"`, probe stages `"probe:<what>"`.
    pub stage: &'static str,
    /// Wall time of the stage.
    pub took: Duration,
}

/// Takes (and clears) the timings recorded since the last call; always empty without the
/// `stage-timing` feature.
pub fn take_stage_timings() -> Vec<StageTiming> {
    imp::take()
}

/// Whether this build records stage timings (the `stage-timing` feature).
pub const STAGE_TIMING_ENABLED: bool = cfg!(feature = "stage-timing");

/// Runs `f`, recording its duration under `stage` when the feature is on.
#[inline(always)]
pub(crate) fn timed<T>(stage: &'static str, f: impl FnOnce() -> T) -> T {
    imp::timed(stage, f)
}

/// The name of a `bpf(2)` command for [`StageTiming::stage`] (`"bpf:other"` past the table).
pub(crate) fn bpf_cmd_stage(cmd: u32) -> &'static str {
    const NAMES: [&str; 38] = [
        "bpf:MAP_CREATE",
        "bpf:MAP_LOOKUP_ELEM",
        "bpf:MAP_UPDATE_ELEM",
        "bpf:MAP_DELETE_ELEM",
        "bpf:MAP_GET_NEXT_KEY",
        "bpf:PROG_LOAD",
        "bpf:OBJ_PIN",
        "bpf:OBJ_GET",
        "bpf:PROG_ATTACH",
        "bpf:PROG_DETACH",
        "bpf:PROG_RUN",
        "bpf:PROG_GET_NEXT_ID",
        "bpf:MAP_GET_NEXT_ID",
        "bpf:PROG_GET_FD_BY_ID",
        "bpf:MAP_GET_FD_BY_ID",
        "bpf:OBJ_GET_INFO_BY_FD",
        "bpf:PROG_QUERY",
        "bpf:RAW_TRACEPOINT_OPEN",
        "bpf:BTF_LOAD",
        "bpf:BTF_GET_FD_BY_ID",
        "bpf:TASK_FD_QUERY",
        "bpf:MAP_LOOKUP_AND_DELETE_ELEM",
        "bpf:MAP_FREEZE",
        "bpf:BTF_GET_NEXT_ID",
        "bpf:MAP_LOOKUP_BATCH",
        "bpf:MAP_LOOKUP_AND_DELETE_BATCH",
        "bpf:MAP_UPDATE_BATCH",
        "bpf:MAP_DELETE_BATCH",
        "bpf:LINK_CREATE",
        "bpf:LINK_UPDATE",
        "bpf:LINK_GET_FD_BY_ID",
        "bpf:LINK_GET_NEXT_ID",
        "bpf:ENABLE_STATS",
        "bpf:ITER_CREATE",
        "bpf:LINK_DETACH",
        "bpf:PROG_BIND_MAP",
        "bpf:TOKEN_CREATE",
        "bpf:PROG_STREAM_READ_BY_FD",
    ];
    NAMES.get(cmd as usize).copied().unwrap_or("bpf:other")
}

#[cfg(feature = "stage-timing")]
mod imp {
    use super::StageTiming;
    use std::sync::{Mutex, PoisonError};
    use std::time::Instant;

    static LOG: Mutex<Vec<StageTiming>> = Mutex::new(Vec::new());

    pub(super) fn timed<T>(stage: &'static str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let r = f();
        let took = t.elapsed();
        LOG.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(StageTiming { stage, took });
        r
    }

    pub(super) fn take() -> Vec<StageTiming> {
        std::mem::take(&mut *LOG.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(not(feature = "stage-timing"))]
mod imp {
    use super::StageTiming;

    #[inline(always)]
    pub(super) fn timed<T>(_stage: &'static str, f: impl FnOnce() -> T) -> T {
        f()
    }

    pub(super) fn take() -> Vec<StageTiming> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_returns_the_value_and_records_only_with_the_feature() {
        let _ = take_stage_timings();
        assert_eq!(timed("probe:test", || 41 + 1), 42);
        let t = take_stage_timings();
        if STAGE_TIMING_ENABLED {
            assert!(t.iter().any(|s| s.stage == "probe:test"), "{t:?}");
        } else {
            assert!(t.is_empty(), "{t:?}");
        }
    }
}
