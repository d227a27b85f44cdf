//! [`PerCpuMap`]: typed access to per-CPU hash and array maps, one value per possible CPU.

use std::marker::PhantomData;

use super::{cpus, handle_common, map_type, plain_bytes, read_plain, Map, MapFlags};
use crate::error::Error;
use crate::global::Plain;

/// A typed handle on a `BPF_MAP_TYPE_PERCPU_HASH`, `PERCPU_ARRAY` or `LRU_PERCPU_HASH` map.
///
/// A lookup returns one `V` per *possible* CPU (`/sys/devices/system/cpu/possible`), in CPU
/// order; the kernel lays the values out 8-byte aligned, which the handle undoes.
pub struct PerCpuMap<'a, K, V> {
    map: Map<'a>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for PerCpuMap<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for PerCpuMap<'_, K, V> {}

impl<K, V> std::fmt::Debug for PerCpuMap<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PerCpuMap").field(&self.map).finish()
    }
}

handle_common!(PerCpuMap<K, V>);

impl<'a, K: Plain, V: Plain> PerCpuMap<'a, K, V> {
    /// The typed handle, after checking the map type and the key and value sizes.
    pub fn new(map: Map<'a>) -> Result<Self, Error> {
        map.expect_type(
            "PerCpuMap",
            &[
                map_type::PERCPU_HASH,
                map_type::PERCPU_ARRAY,
                map_type::LRU_PERCPU_HASH,
            ],
        )?;
        map.expect_key::<K>()?;
        map.expect_value::<V>()?;
        Ok(PerCpuMap {
            map,
            _types: PhantomData,
        })
    }

    /// Number of possible CPUs: the length of every value vector.
    pub fn cpus(&self) -> Result<usize, Error> {
        cpus::possible().map_err(|e| {
            self.map
                .sys_error(&e, "reading /sys/devices/system/cpu/possible".to_string())
        })
    }

    /// The values of `key` on every possible CPU, or `None` when there is no such element.
    pub fn lookup(&self, key: &K) -> Result<Option<Vec<V>>, Error> {
        let stride = size_of::<V>().next_multiple_of(8);
        Ok(self.map.lookup(plain_bytes(key))?.map(|raw| {
            raw.chunks_exact(stride)
                .map(|c| read_plain::<V>(c))
                .collect()
        }))
    }

    /// Sets the value of `key` on every possible CPU: `values` has one value per CPU
    /// ([`PerCpuMap::cpus`]).
    pub fn update(&self, key: &K, values: &[V], flags: MapFlags) -> Result<(), Error> {
        let n = self.cpus()?;
        if values.len() != n {
            return Err(self.map.mismatch("value", n as u64, values.len() as u64));
        }
        let stride = size_of::<V>().next_multiple_of(8);
        let mut raw = vec![0u8; stride * n];
        for (slot, v) in raw.chunks_exact_mut(stride).zip(values) {
            slot[..size_of::<V>()].copy_from_slice(plain_bytes(v));
        }
        self.map.update(plain_bytes(key), &raw, flags)
    }

    /// Deletes `key` (hash maps; arrays cannot delete). `Ok(false)` when it was missing.
    pub fn delete(&self, key: &K) -> Result<bool, Error> {
        self.map.delete(plain_bytes(key))
    }

    /// Iterates over the keys.
    pub fn keys(&self) -> impl Iterator<Item = Result<K, Error>> + 'a {
        self.map.keys().map(|r| r.map(|b| read_plain::<K>(&b)))
    }
}
