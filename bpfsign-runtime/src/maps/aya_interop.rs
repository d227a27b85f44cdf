//! Handing a map to the aya library (feature `aya`).

use std::os::fd::AsFd;

use super::Map;
use crate::error::Error;

/// An aya map of the same kernel object, on a duplicate of the fd (the aya map owns the
/// duplicate; the skeleton keeps its own fd).
pub(super) fn to_aya(map: &Map<'_>) -> Result<::aya::maps::Map, Error> {
    let dup = map
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| map.sys_error(&e, format!("dup of the fd of map {}", map.name())))?;
    let data = ::aya::maps::MapData::from_fd(dup).map_err(|e| {
        map.error(
            format!("aya could not take map {}: {e}", map.name()),
            "aya reads the map's info with BPF_OBJ_GET_INFO_BY_FD; check that the process may \
             use the map",
        )
    })?;
    ::aya::maps::Map::from_map_data(data).map_err(|e| {
        map.error(
            format!("aya does not handle map {}: {e}", map.name()),
            "use the bpfsign handle of the map instead",
        )
    })
}
