//! Tracepoints (`tracepoint/CAT/NAME`, `tp/CAT/NAME`): the event id from tracefs
//! (`events/CAT/NAME/id`), a `PERF_TYPE_TRACEPOINT` perf event and a `BPF_PERF_EVENT` link.

use std::path::PathBuf;

use crate::error::Error;
use crate::program::Program;
use crate::sys::{RealKernel, Sys};

use super::perf::{PerfAttr, PERF_TYPE_TRACEPOINT};
use super::Link;

/// The tracefs mount points libbpf looks at, in order.
const TRACEFS_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// `rel` under the first tracefs mount that has it.
pub(crate) fn tracefs_file(rel: &str) -> Option<PathBuf> {
    TRACEFS_ROOTS
        .iter()
        .map(|root| PathBuf::from(root).join(rel))
        .find(|p| p.exists())
}

/// The `perf_event_attr` of tracepoint `id`.
pub(crate) fn tracepoint_attr(id: u64) -> PerfAttr {
    let mut attr = PerfAttr::new(PERF_TYPE_TRACEPOINT);
    attr.config(id);
    attr
}

impl<'a> Program<'a> {
    /// Attaches the program (a `tracepoint` program) to tracepoint `category:name` (the
    /// directory `events/<category>/<name>` of tracefs, e.g. `syscalls`, `sys_enter_getppid`),
    /// in every process and on every CPU.
    pub fn attach_tracepoint(&self, category: &str, name: &str) -> Result<Link, Error> {
        self.attach_tracepoint_with(&RealKernel, category, name)
    }

    pub(crate) fn attach_tracepoint_with(
        &self,
        sys: &dyn Sys,
        category: &str,
        name: &str,
    ) -> Result<Link, Error> {
        let target = format!("{category}:{name}");
        if category.is_empty()
            || name.is_empty()
            || [category, name]
                .iter()
                .any(|s| s.contains('/') || s.contains('\0') || *s == "." || *s == "..")
        {
            return Err(self.target_error(
                &target,
                format!(
                    "tracepoint {category:?}/{name:?} of program {}: not a tracepoint name",
                    self.name()
                ),
                "give the category and the name of a directory under events/ in tracefs",
            ));
        }
        if tracefs_file("events").is_none() {
            return Err(self.target_error(
                &target,
                format!(
                    "tracepoint {target} of program {}: tracefs is not mounted (no events/ under {})",
                    self.name(),
                    TRACEFS_ROOTS.join(" or ")
                ),
                "mount tracefs: mount -t tracefs nodev /sys/kernel/tracing",
            ));
        }
        let rel = format!("events/{category}/{name}/id");
        let Some(path) = tracefs_file(&rel) else {
            return Err(self.target_error(
                &target,
                format!(
                    "tracepoint {target} of program {}: no such tracepoint in tracefs ({rel} is missing)",
                    self.name()
                ),
                "list the kernel's tracepoints in /sys/kernel/tracing/available_events",
            ));
        };
        let id = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                self.target_error(
                    &target,
                    format!(
                        "tracepoint {target} of program {}: {} is unreadable or not a number",
                        self.name(),
                        path.display()
                    ),
                    "run as root (tracefs event ids are readable by root only)",
                )
            })?;
        let attr = tracepoint_attr(id);
        self.attach_perf_attr_with(sys, &attr, (-1, 0), &format!("tracepoint {target}"))
    }
}
