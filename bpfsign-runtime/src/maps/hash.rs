//! [`HashMap`]: typed element access to hash, LRU hash, array and LPM trie maps.

use std::marker::PhantomData;

use super::{handle_common, map_type, plain_bytes, read_plain, sys, Map, MapFlags};
use crate::error::Error;
use crate::global::Plain;

/// A typed handle on a `BPF_MAP_TYPE_HASH`, `LRU_HASH`, `ARRAY` or `LPM_TRIE` map with keys
/// `K` and values `V` (sizes checked when the handle is made).
///
/// Arrays have every key from 0 to `max_entries - 1` and cannot delete; an LPM trie's key is
/// `struct { u32 prefixlen; u8 data[]; }`.
pub struct HashMap<'a, K, V> {
    map: Map<'a>,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for HashMap<'_, K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K, V> Copy for HashMap<'_, K, V> {}

impl<K, V> std::fmt::Debug for HashMap<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("HashMap").field(&self.map).finish()
    }
}

handle_common!(HashMap<K, V>);

/// Largest number of elements one batch system call asks for.
const BATCH_CHUNK: u32 = 256;

impl<'a, K: Plain, V: Plain> HashMap<'a, K, V> {
    /// The typed handle, after checking the map type and that `K` and `V` have the map's key
    /// and value sizes ([`crate::ErrorKind::MapMismatch`] otherwise).
    pub fn new(map: Map<'a>) -> Result<Self, Error> {
        map.expect_type(
            "HashMap",
            &[
                map_type::HASH,
                map_type::LRU_HASH,
                map_type::ARRAY,
                map_type::LPM_TRIE,
            ],
        )?;
        map.expect_key::<K>()?;
        map.expect_value::<V>()?;
        Ok(HashMap {
            map,
            _types: PhantomData,
        })
    }

    /// The value of `key`, or `None` when there is no such element (an LPM trie returns the
    /// value of the longest matching prefix).
    pub fn lookup(&self, key: &K) -> Result<Option<V>, Error> {
        Ok(self
            .map
            .lookup(plain_bytes(key))?
            .map(|v| read_plain::<V>(&v)))
    }

    /// Sets the value of `key` ([`MapFlags::NOEXIST`] to create only, [`MapFlags::EXIST`] to
    /// replace only).
    pub fn update(&self, key: &K, value: &V, flags: MapFlags) -> Result<(), Error> {
        self.map.update(plain_bytes(key), plain_bytes(value), flags)
    }

    /// Deletes `key`; `Ok(false)` when there was no such element.
    pub fn delete(&self, key: &K) -> Result<bool, Error> {
        self.map.delete(plain_bytes(key))
    }

    /// Iterates over the keys.
    pub fn keys(&self) -> MapKeys<'a, K> {
        MapKeys {
            inner: Box::new(self.map.keys()),
            _k: PhantomData,
        }
    }

    /// Iterates over the elements (keys, then a lookup per key; an element deleted between
    /// the two is skipped).
    pub fn iter(&self) -> MapIter<'a, K, V> {
        MapIter {
            keys: self.keys(),
            map: *self,
        }
    }

    /// Every element, read with `BPF_MAP_LOOKUP_BATCH` in chunks (hash maps since 5.6, arrays
    /// since 5.6; LPM tries do not support batches).
    pub fn lookup_batch(&self) -> Result<Vec<(K, V)>, Error> {
        let m = &self.map;
        let (ks, vs) = (size_of::<K>(), size_of::<V>());
        let chunk = BATCH_CHUNK.min(m.max_entries().max(1));
        let mut out = Vec::new();
        // The batch token is opaque (a bucket number for hash maps, a key for arrays): one
        // buffer the size of a key, at least 8 bytes, for each direction.
        let token_len = ks.max(8);
        let mut token = vec![0u8; token_len];
        let mut next = vec![0u8; token_len];
        let mut first = true;
        loop {
            let mut keys = vec![0u8; ks * chunk as usize];
            let mut values = vec![0u8; vs * chunk as usize];
            let (count, r) = sys::batch(
                m.sys(),
                sys::BPF_MAP_LOOKUP_BATCH,
                m.fd(),
                &sys::Batch {
                    in_batch: if first {
                        std::ptr::null()
                    } else {
                        token.as_ptr()
                    },
                    out_batch: next.as_mut_ptr(),
                    keys: keys.as_mut_ptr(),
                    values: values.as_mut_ptr(),
                    count: chunk,
                    elem_flags: 0,
                },
            );
            let end = match r {
                Ok(()) => false,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => true,
                Err(e) => {
                    return Err(m.sys_error(&e, format!("BPF_MAP_LOOKUP_BATCH on map {}", m.name())))
                }
            };
            let count = (count.min(chunk)) as usize;
            for i in 0..count {
                out.push((
                    read_plain::<K>(&keys[i * ks..]),
                    read_plain::<V>(&values[i * vs..]),
                ));
            }
            if end || count == 0 {
                return Ok(out);
            }
            first = false;
            std::mem::swap(&mut token, &mut next);
        }
    }

    /// Sets the values of `keys` in one `BPF_MAP_UPDATE_BATCH` (as many keys as values).
    pub fn update_batch(&self, keys: &[K], values: &[V], flags: MapFlags) -> Result<(), Error> {
        let m = &self.map;
        if keys.len() != values.len() {
            return Err(m.mismatch("value", keys.len() as u64, values.len() as u64));
        }
        let count = self.batch_count(keys.len())?;
        if count == 0 {
            return Ok(());
        }
        let (done, r) = sys::batch(
            m.sys(),
            sys::BPF_MAP_UPDATE_BATCH,
            m.fd(),
            &sys::Batch {
                in_batch: std::ptr::null(),
                out_batch: std::ptr::null_mut(),
                keys: keys.as_ptr().cast(),
                values: values.as_ptr().cast(),
                count,
                elem_flags: flags.bits(),
            },
        );
        r.map_err(|e| {
            m.sys_error(
                &e,
                format!(
                    "BPF_MAP_UPDATE_BATCH on map {} ({done} of {count} elements updated)",
                    m.name()
                ),
            )
        })
    }

    /// Deletes `keys` in one `BPF_MAP_DELETE_BATCH` (hash maps; a missing key fails with
    /// `ENOENT` after the keys before it were deleted). Returns the number deleted.
    pub fn delete_batch(&self, keys: &[K]) -> Result<u32, Error> {
        let m = &self.map;
        let count = self.batch_count(keys.len())?;
        if count == 0 {
            return Ok(0);
        }
        let (done, r) = sys::batch(
            m.sys(),
            sys::BPF_MAP_DELETE_BATCH,
            m.fd(),
            &sys::Batch {
                in_batch: std::ptr::null(),
                out_batch: std::ptr::null_mut(),
                keys: keys.as_ptr().cast(),
                values: std::ptr::null(),
                count,
                elem_flags: 0,
            },
        );
        r.map(|()| done).map_err(|e| {
            m.sys_error(
                &e,
                format!(
                    "BPF_MAP_DELETE_BATCH on map {} ({done} of {count} keys deleted)",
                    m.name()
                ),
            )
        })
    }

    fn batch_count(&self, n: usize) -> Result<u32, Error> {
        u32::try_from(n).map_err(|_| {
            self.map.error(
                format!("{n} elements are too many for one batch"),
                "split the batch into chunks of at most u32::MAX elements",
            )
        })
    }
}

/// Iterator over the keys of a [`HashMap`] ([`HashMap::keys`]).
pub struct MapKeys<'a, K> {
    inner: Box<dyn Iterator<Item = Result<Vec<u8>, Error>> + 'a>,
    _k: PhantomData<fn() -> K>,
}

impl<K: Plain> Iterator for MapKeys<'_, K> {
    type Item = Result<K, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|r| r.map(|b| read_plain::<K>(&b)))
    }
}

impl<K> std::fmt::Debug for MapKeys<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MapKeys")
    }
}

/// Iterator over the elements of a [`HashMap`] ([`HashMap::iter`]).
pub struct MapIter<'a, K, V> {
    keys: MapKeys<'a, K>,
    map: HashMap<'a, K, V>,
}

impl<K: Plain, V: Plain> Iterator for MapIter<'_, K, V> {
    type Item = Result<(K, V), Error>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let k = match self.keys.next()? {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            match self.map.lookup(&k) {
                Ok(Some(v)) => return Some(Ok((k, v))),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<K, V> std::fmt::Debug for MapIter<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapIter").field("map", &self.map).finish()
    }
}
