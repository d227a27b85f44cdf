//! [`MapOfMaps`]: the outer map of a `BPF_MAP_TYPE_ARRAY_OF_MAPS` or `HASH_OF_MAPS`.

use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd};

use super::{handle_common, map_type, plain_bytes, read_plain, Map, MapFlags};
use crate::error::Error;
use crate::global::Plain;

/// A typed handle on a map of maps with keys `K`: which inner map each key holds.
pub struct MapOfMaps<'a, K> {
    map: Map<'a>,
    _k: PhantomData<fn() -> K>,
}

impl<K> Clone for MapOfMaps<'_, K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for MapOfMaps<'_, K> {}

impl<K> std::fmt::Debug for MapOfMaps<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MapOfMaps").field(&self.map).finish()
    }
}

handle_common!(MapOfMaps<K>);

impl<'a, K: Plain> MapOfMaps<'a, K> {
    /// The handle, after checking the map type and the key size.
    pub fn new(map: Map<'a>) -> Result<Self, Error> {
        map.expect_type(
            "MapOfMaps",
            &[map_type::ARRAY_OF_MAPS, map_type::HASH_OF_MAPS],
        )?;
        map.expect_key::<K>()?;
        Ok(MapOfMaps {
            map,
            _k: PhantomData,
        })
    }

    /// Puts the map `inner` (an fd of a map compatible with the inner map template) at `key`.
    pub fn set(&self, key: &K, inner: &impl AsFd) -> Result<(), Error> {
        let fd = inner.as_fd().as_raw_fd();
        self.map
            .update(plain_bytes(key), &fd.to_ne_bytes(), MapFlags::ANY)
    }

    /// Removes the inner map at `key`; `Ok(false)` when there was none.
    pub fn clear(&self, key: &K) -> Result<bool, Error> {
        self.map.delete(plain_bytes(key))
    }

    /// The id of the inner map at `key` (`None` when there is none).
    pub fn inner_id(&self, key: &K) -> Result<Option<u32>, Error> {
        Ok(self
            .map
            .lookup(plain_bytes(key))?
            .map(|v| read_plain::<u32>(&v)))
    }
}
