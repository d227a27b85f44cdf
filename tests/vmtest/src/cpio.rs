//! A writer for the `newc` cpio format (the format the kernel unpacks as initramfs).
//!
//! Layout of one entry: a 110-byte ASCII header (`070701` + 13 fields of 8 hex digits), the
//! NUL-terminated path padded to a multiple of 4 bytes (counting the header), then the file data
//! padded to a multiple of 4. The archive ends with an entry named `TRAILER!!!`. Several archives
//! may be concatenated; the kernel unpacks them in order and later entries replace earlier ones.
//!
//! Output is deterministic: inode numbers count up from 1, mtime, uid and gid are 0.

use std::io::{self, Read, Write};

/// File type bits of `st_mode` for a directory.
pub const S_IFDIR: u32 = 0o040000;
/// File type bits of `st_mode` for a regular file.
pub const S_IFREG: u32 = 0o100000;

/// Streams entries into a newc archive.
pub struct CpioWriter<W: Write> {
    out: W,
    written: u64,
    next_ino: u32,
}

impl<W: Write> CpioWriter<W> {
    /// Starts an archive on `out`.
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            written: 0,
            next_ino: 1,
        }
    }

    /// Adds a directory (`path` without leading `/`, e.g. `usr/bin`).
    pub fn dir(&mut self, path: &str, perm: u32) -> io::Result<()> {
        self.header(path, S_IFDIR | (perm & 0o7777), 2, 0)?;
        Ok(())
    }

    /// Adds a regular file whose `size` bytes are read from `data`.
    pub fn file(
        &mut self,
        path: &str,
        perm: u32,
        size: u64,
        data: &mut dyn Read,
    ) -> io::Result<()> {
        self.header(path, S_IFREG | (perm & 0o7777), 1, size)?;
        let copied = io::copy(&mut data.take(size), &mut CountingWriter(self))?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{path}: expected {size} bytes, the source had {copied} (changed while packing?)"),
            ));
        }
        self.pad()
    }

    /// Adds a regular file with in-memory contents.
    pub fn bytes(&mut self, path: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.file(path, perm, data.len() as u64, &mut &data[..])
    }

    /// Writes the trailer entry and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.header("TRAILER!!!", 0, 1, 0)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn header(&mut self, path: &str, mode: u32, nlink: u32, size: u64) -> io::Result<()> {
        let size = u32::try_from(size).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path}: larger than 4 GiB, newc cannot hold it"),
            )
        })?;
        let ino = if path == "TRAILER!!!" {
            0
        } else {
            self.next_ino
        };
        self.next_ino += 1;
        let name_size = path.len() as u32 + 1;
        // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
        // rdevminor, namesize, check
        let fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, name_size, 0];
        let mut head = String::with_capacity(110);
        head.push_str("070701");
        for f in fields {
            head.push_str(&format!("{f:08x}"));
        }
        self.put(head.as_bytes())?;
        self.put(path.as_bytes())?;
        self.put(&[0])?;
        self.pad()
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.written += b.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let n = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0u8; 3][..n])
    }
}

/// Counts bytes streamed into the archive so padding stays right.
struct CountingWriter<'a, W: Write>(&'a mut CpioWriter<W>);

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.0.out.write(buf)?;
        self.0.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(archive: &[u8], entry_off: usize, idx: usize) -> u32 {
        let s = std::str::from_utf8(&archive[entry_off + 6 + idx * 8..entry_off + 14 + idx * 8])
            .unwrap();
        u32::from_str_radix(s, 16).unwrap()
    }

    #[test]
    fn layout_matches_newc() {
        let mut w = CpioWriter::new(Vec::new());
        w.dir("bin", 0o755).unwrap();
        w.bytes("bin/hi", 0o755, b"hello").unwrap();
        let a = w.finish().unwrap();
        assert_eq!(a.len() % 4, 0);
        // entry 1: "bin" -> header 110 + name 4 = 114, padded to 116
        assert_eq!(&a[0..6], b"070701");
        assert_eq!(field(&a, 0, 1), S_IFDIR | 0o755);
        assert_eq!(field(&a, 0, 11), 4);
        assert_eq!(&a[110..114], b"bin\0");
        // entry 2 at 116: name "bin/hi\0" (7): 116+110+7 = 233 -> 236, data 5 -> 241 -> 244
        let e2 = 116;
        assert_eq!(&a[e2..e2 + 6], b"070701");
        assert_eq!(field(&a, e2, 0), 2, "inode numbers count up");
        assert_eq!(field(&a, e2, 1), S_IFREG | 0o755);
        assert_eq!(field(&a, e2, 6), 5);
        assert_eq!(&a[236..241], b"hello");
        assert_eq!(&a[241..244], &[0, 0, 0]);
        // the trailer entry follows at 244
        assert_eq!(&a[244..250], b"070701");
        // trailer is last
        let tail = String::from_utf8_lossy(&a[a.len() - 16..]);
        assert!(tail.contains("TRAILER!!!"), "{tail}");
    }

    #[test]
    fn short_source_is_an_error_not_a_corrupt_archive() {
        let mut w = CpioWriter::new(Vec::new());
        let err = w.file("f", 0o644, 10, &mut &b"abc"[..]).unwrap_err();
        assert!(err.to_string().contains("expected 10 bytes"), "{err}");
    }

    #[test]
    fn deterministic() {
        let build = || {
            let mut w = CpioWriter::new(Vec::new());
            w.dir("a", 0o755).unwrap();
            w.bytes("a/b", 0o644, b"x").unwrap();
            w.finish().unwrap()
        };
        assert_eq!(build(), build());
    }
}
