//! [`AsyncRingBufReader`]: a ring buffer reader for the tokio runtime (feature `tokio`).

use std::collections::VecDeque;
use std::os::fd::OwnedFd;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::ringbuf::{RingBuf, RingBufReader};
use crate::error::Error;

/// Reads a [`RingBuf`] in async code: waits for the map fd with tokio's reactor instead of
/// blocking a thread ([`RingBuf::async_reader`]). Needs a tokio runtime with I/O enabled.
#[derive(Debug)]
pub struct AsyncRingBufReader<'a> {
    reader: RingBufReader<'a>,
    /// A duplicate of the map fd, registered with tokio's reactor.
    fd: AsyncFd<OwnedFd>,
    pending: VecDeque<Vec<u8>>,
}

impl<'a> RingBuf<'a> {
    /// An async reader of the records (feature `tokio`); registers the map fd with the
    /// current tokio runtime, so it must be called inside one.
    pub fn async_reader(&self) -> Result<AsyncRingBufReader<'a>, Error> {
        let map = self.map();
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(map.error(
                "async_reader called outside a tokio runtime".into(),
                "call it from async code running on a tokio runtime with I/O enabled",
            ));
        }
        let dup = self.fd().try_clone_to_owned().map_err(|e| {
            map.sys_error(&e, format!("dup of the fd of ring buffer {}", map.name()))
        })?;
        // SAFETY: `dup` is an fd we own; the AsyncFd owns it from here on, so it stays open and
        // refers to the same map for the AsyncFd's whole life.
        let fd =
            unsafe { AsyncFd::register_with_interest(dup, Interest::READABLE) }.map_err(|e| {
                map.sys_error(
                    &e.into_parts().1,
                    "registering a ring buffer with tokio".into(),
                )
            })?;
        Ok(AsyncRingBufReader {
            reader: self.reader(),
            fd,
            pending: VecDeque::new(),
        })
    }
}

impl AsyncRingBufReader<'_> {
    /// The next record, waiting for one if none is there.
    pub async fn next(&mut self) -> Result<Vec<u8>, Error> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Ok(r);
            }
            let pending = &mut self.pending;
            self.reader.consume(|b| pending.push_back(b.to_vec()))?;
            if !self.pending.is_empty() {
                continue;
            }
            self.wait().await?;
        }
    }

    /// Waits until at least one record is there, then hands every record to `f`; returns how
    /// many there were (records already taken by [`AsyncRingBufReader::next`] come first).
    pub async fn poll(&mut self, mut f: impl FnMut(&[u8])) -> Result<usize, Error> {
        loop {
            let mut n = 0;
            while let Some(r) = self.pending.pop_front() {
                f(&r);
                n += 1;
            }
            n += self.reader.consume(&mut f)?;
            if n > 0 {
                return Ok(n);
            }
            self.wait().await?;
        }
    }

    /// Waits for readiness; clears it when the ring turns out to be empty, so the next wait
    /// sleeps until the kernel's next wakeup.
    async fn wait(&mut self) -> Result<(), Error> {
        let mut guard = self.fd.readable().await.map_err(|e| {
            self.reader
                .map_handle()
                .sys_error(&e, "waiting for a ring buffer".into())
        })?;
        let pending = &mut self.pending;
        if self.reader.consume(|b| pending.push_back(b.to_vec()))? == 0 {
            guard.clear_ready();
        }
        Ok(())
    }
}
