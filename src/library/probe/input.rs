//! Bounded, buffered reads from one file, and the byte views handed to symphonia.
//!
//! Every length read from a file is untrusted: reads check it against what is left of the file
//! (or of the enclosing structure) before allocating, so a forged size costs an error, not
//! memory.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use symphonia::core::io::MediaSource;

use super::ProbeError;

/// Small enough that probing a three-second file reads it in a handful of syscalls, large
/// enough that walking a tag frame by frame does not issue one read per frame.
const BUFFER_LEN: usize = 16 * 1024;

/// Allocations for one value grow in steps of this size, so a stream that ends early never
/// costs more than it delivered.
const ALLOC_STEP: usize = 64 * 1024;

/// A file opened for probing: buffered, with the position tracked here so that seeking does not
/// cost a syscall when the target is already buffered.
pub(super) struct Input {
    reader: BufReader<File>,
    len: u64,
    pos: u64,
}

impl Input {
    pub(super) fn open(path: &Path) -> Result<Input, ProbeError> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Input {
            reader: BufReader::with_capacity(BUFFER_LEN, file),
            len,
            pos: 0,
        })
    }

    pub(super) fn len(&self) -> u64 {
        self.len
    }

    pub(super) fn seek(&mut self, pos: u64) -> Result<(), ProbeError> {
        if pos == self.pos {
            return Ok(());
        }
        let delta = i64::try_from(i128::from(pos) - i128::from(self.pos))
            .map_err(|_| ProbeError::Corrupt(format!("offset {pos} is out of range")))?;
        self.reader.seek_relative(delta)?;
        self.pos = pos;
        Ok(())
    }

    /// Fills `buf` from `pos`; fails if the file ends first.
    pub(super) fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> Result<(), ProbeError> {
        self.seek(pos)?;
        self.read_exact(buf)
    }

    /// Reads up to `buf.len()` bytes from `pos`, fewer at the end of the file.
    pub(super) fn read_at_most(&mut self, pos: u64, buf: &mut [u8]) -> Result<usize, ProbeError> {
        let n = usize::try_from(self.len.saturating_sub(pos))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        self.read_at(pos, &mut buf[..n])?;
        Ok(n)
    }

    /// A copy of the open file for symphonia, which wants to own its source.
    pub(super) fn file(&self) -> Result<File, ProbeError> {
        Ok(self.reader.get_ref().try_clone()?)
    }

    /// Reads the bytes `[start, end)` as a nested structure.
    pub(super) fn region(&mut self, start: u64, end: u64) -> Result<Region<'_>, ProbeError> {
        let end = end.min(self.len);
        self.seek(start.min(end))?;
        Ok(Region { input: self, end })
    }
}

/// A byte stream read front to back: a region of a file, an Ogg packet spread over pages, or
/// an unsynchronised ID3v2 tag. Parsers of nested structures (tags, comment blocks) take this
/// so they work the same over all three.
pub(super) trait Bytes {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ProbeError>;

    fn skip(&mut self, n: u64) -> Result<(), ProbeError>;

    /// How many bytes are left, when the stream knows.
    fn remaining(&self) -> Option<u64>;

    /// Reads `n` bytes into a new vector, refusing lengths the stream cannot hold.
    fn read_vec(&mut self, n: u64) -> Result<Vec<u8>, ProbeError> {
        if let Some(left) = self.remaining() {
            if n > left {
                return Err(ProbeError::Corrupt(format!(
                    "a field of {n} bytes extends past its container ({left} bytes left)"
                )));
            }
        }
        let n = usize::try_from(n)
            .map_err(|_| ProbeError::Corrupt(format!("a field of {n} bytes is too large")))?;
        let mut out = Vec::with_capacity(n.min(ALLOC_STEP));
        while out.len() < n {
            let start = out.len();
            let step = (n - start).min(ALLOC_STEP);
            out.resize(start + step, 0);
            self.read_exact(&mut out[start..])?;
        }
        Ok(out)
    }

    /// Reads `n` bytes but keeps only the first `keep`, skipping the rest.
    fn read_prefix(&mut self, n: u64, keep: usize) -> Result<Vec<u8>, ProbeError> {
        let take = n.min(keep as u64);
        let out = self.read_vec(take)?;
        self.skip(n - take)?;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, ProbeError> {
        let mut b = [0; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    fn u32_le(&mut self) -> Result<u32, ProbeError> {
        let mut b = [0; 4];
        self.read_exact(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u32_be(&mut self) -> Result<u32, ProbeError> {
        let mut b = [0; 4];
        self.read_exact(&mut b)?;
        Ok(u32::from_be_bytes(b))
    }
}

impl Bytes for Input {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ProbeError> {
        if (buf.len() as u64) > self.len.saturating_sub(self.pos) {
            return Err(ProbeError::Corrupt(format!(
                "the file ends at byte {} inside a structure that needs {} more bytes",
                self.len,
                buf.len() as u64 - self.len.saturating_sub(self.pos)
            )));
        }
        self.reader.read_exact(buf).map_err(eof_is_corrupt)?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Result<(), ProbeError> {
        let to = self.pos.saturating_add(n);
        if to > self.len {
            return Err(ProbeError::Corrupt(format!(
                "a structure extends {} bytes past the end of the file",
                to - self.len
            )));
        }
        self.seek(to)
    }

    fn remaining(&self) -> Option<u64> {
        Some(self.len.saturating_sub(self.pos))
    }
}

/// A file region that refuses to read past its end.
pub(super) struct Region<'a> {
    input: &'a mut Input,
    end: u64,
}

impl Bytes for Region<'_> {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ProbeError> {
        if buf.len() as u64 > self.end.saturating_sub(self.input.pos) {
            return Err(ProbeError::Corrupt(format!(
                "a field at byte {} runs past the end of its structure at byte {}",
                self.input.pos, self.end
            )));
        }
        self.input.read_exact(buf)
    }

    fn skip(&mut self, n: u64) -> Result<(), ProbeError> {
        if n > self.end.saturating_sub(self.input.pos) {
            return Err(ProbeError::Corrupt(format!(
                "a field at byte {} runs past the end of its structure at byte {}",
                self.input.pos, self.end
            )));
        }
        self.input.skip(n)
    }

    fn remaining(&self) -> Option<u64> {
        Some(self.end.saturating_sub(self.input.pos))
    }
}

fn eof_is_corrupt(e: io::Error) -> ProbeError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        ProbeError::Corrupt("the file ended while it was being read".into())
    } else {
        ProbeError::Io(e)
    }
}

/// What symphonia reads: the bytes `[start, end)` of a file, presented as a whole stream, with
/// a few 4-byte patches applied. Windows cut tags off the ends of an MP3; patches rename
/// metadata atoms to `free`, so symphonia skips (seeks over) embedded pictures instead of
/// reading them into memory.
///
/// Reads are positional: the file is a clone of the [`Input`]'s, and clones share one
/// cursor, which the `Input` keeps reading from after symphonia is done (the fingerprint).
pub(super) struct Window {
    file: File,
    start: u64,
    len: u64,
    pos: u64,
    patches: Vec<(u64, [u8; 4])>,
}

impl Window {
    pub(super) fn new(file: File, start: u64, end: u64, patches: Vec<(u64, [u8; 4])>) -> Window {
        Window {
            file,
            start,
            len: end.saturating_sub(start),
            pos: 0,
            patches: patches
                .into_iter()
                .filter_map(|(at, bytes)| Some((at.checked_sub(start)?, bytes)))
                .collect(),
        }
    }
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.start + self.pos)?;
        let (from, to) = (self.pos, self.pos + n as u64);
        for (at, bytes) in &self.patches {
            for (i, b) in bytes.iter().enumerate() {
                let p = at + i as u64;
                if (from..to).contains(&p) {
                    buf[(p - from) as usize] = *b;
                }
            }
        }
        self.pos = to;
        Ok(n)
    }
}

impl Seek for Window {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek out of range"))?;
        self.pos = target;
        Ok(target)
    }
}

impl MediaSource for Window {
    fn is_seekable(&self) -> bool {
        true
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}
