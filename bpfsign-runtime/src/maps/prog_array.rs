//! [`ProgArray`]: the tail-call table of a `BPF_MAP_TYPE_PROG_ARRAY`.

use std::os::fd::{AsFd, AsRawFd};

use super::{handle_common, map_type, Map, MapFlags};
use crate::error::Error;

/// A typed handle on a `BPF_MAP_TYPE_PROG_ARRAY` map: which program `bpf_tail_call(ctx,
/// &map, index)` jumps to.
#[derive(Clone, Copy, Debug)]
pub struct ProgArray<'a> {
    map: Map<'a>,
}

handle_common!(ProgArray);

impl<'a> ProgArray<'a> {
    /// The handle, after checking the map type.
    pub fn new(map: Map<'a>) -> Result<Self, Error> {
        map.expect_type("ProgArray", &[map_type::PROG_ARRAY])?;
        Ok(ProgArray { map })
    }

    /// Makes slot `index` jump to `prog` (a program fd, e.g. a [`crate::Program`] of the
    /// same type as the caller).
    pub fn set(&self, index: u32, prog: &impl AsFd) -> Result<(), Error> {
        let fd = prog.as_fd().as_raw_fd();
        self.map
            .update(&index.to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
    }

    /// Empties slot `index`: tail calls to it fall through again. `Ok(false)` when it was
    /// empty already.
    pub fn clear(&self, index: u32) -> Result<bool, Error> {
        self.map.delete(&index.to_ne_bytes())
    }

    /// The id of the program in slot `index` (`None` when empty).
    pub fn prog_id(&self, index: u32) -> Result<Option<u32>, Error> {
        Ok(self
            .map
            .lookup(&index.to_ne_bytes())?
            .map(|v| super::read_plain::<u32>(&v)))
    }
}
