//! Response bodies read from a file through one fixed-size buffer: a single range, or a
//! `multipart/byteranges` body whose part headers are interleaved with file ranges. Nothing
//! reads a whole file into memory.
//!
//! The body is a [`Stream`] that reads a chunk only when the connection asks for one, so the
//! HTTP layer's back-pressure paces the disk: a slow player costs at most two chunks, and a
//! client that disconnects drops the stream, which ends the reading.

use std::collections::VecDeque;
use std::fs::File;
use std::future::Future;
use std::io;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::task::JoinHandle;

use super::range::ByteRange;

/// Bytes read from the file per chunk. Large enough that the per-chunk cost (a `preadv2`, or a
/// blocking-pool hop when the disk must be read) is small against the copy, small enough that
/// hundreds of concurrent streams hold little memory. The HTTP server queues at most one chunk
/// per connection.
pub const CHUNK: usize = 64 * 1024;

/// One piece of a body.
#[derive(Debug, Clone)]
enum Piece {
    /// Literal bytes (multipart headers).
    Bytes(Bytes),
    /// Bytes `first..=last` of the file.
    File(ByteRange),
}

/// A body read from `file`: its pieces and its exact length.
#[derive(Debug)]
pub struct Body {
    file: Arc<File>,
    pieces: VecDeque<Piece>,
    len: u64,
}

impl Body {
    /// Bytes `range` of `file`.
    pub fn range(file: Arc<File>, range: ByteRange) -> Self {
        Self {
            file,
            pieces: VecDeque::from([Piece::File(range)]),
            len: range.len(),
        }
    }

    /// A `multipart/byteranges` body (RFC 9110 §14.6) of `ranges` of a file of `file_len`
    /// bytes, each part labelled `content_type`, parts separated by `boundary`.
    pub fn multipart(
        file: Arc<File>,
        ranges: &[ByteRange],
        file_len: u64,
        content_type: &str,
        boundary: &str,
    ) -> Self {
        let mut pieces = VecDeque::with_capacity(ranges.len() * 2 + 1);
        let mut len = 0u64;
        for (i, r) in ranges.iter().enumerate() {
            let head = format!(
                "{}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {}-{}/{file_len}\r\n\r\n",
                if i == 0 { "" } else { "\r\n" },
                r.first,
                r.last,
            );
            len += head.len() as u64 + r.len();
            pieces.push_back(Piece::Bytes(Bytes::from(head)));
            pieces.push_back(Piece::File(*r));
        }
        let tail = format!("\r\n--{boundary}--\r\n");
        len += tail.len() as u64;
        pieces.push_back(Piece::Bytes(Bytes::from(tail)));
        Self { file, pieces, len }
    }

    /// The exact number of bytes the body yields, for `Content-Length`.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the body yields nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The body as a stream of chunks.
    pub fn into_stream(self) -> FileStream {
        FileStream {
            file: self.file,
            pieces: self.pieces,
            next: 0,
            end: 0,
            bufs: [BytesMut::new(), BytesMut::new()],
            turn: 0,
            reading: None,
            nowait: true,
        }
    }
}

/// The chunks of a [`Body`]. A chunk whose bytes are in the page cache is read right away on
/// the task that asks for it (`preadv2` with `RWF_NOWAIT`, which fails instead of waiting for
/// the disk); only the rest goes through the blocking pool, one read at a time. A thread
/// hand-off costs more than copying a cached chunk, and seeks on a keep-alive connection are
/// mostly cached. The kernel's readahead, which a refused read also starts, keeps a sequential
/// stream ahead of the disk.
#[derive(Debug)]
pub struct FileStream {
    file: Arc<File>,
    pieces: VecDeque<Piece>,
    /// File offset where the next read starts, in the current file piece.
    next: u64,
    /// End (exclusive) of the current file piece.
    end: u64,
    /// Where chunks are read into, in turn. By the time a buffer's turn comes again, the HTTP
    /// layer has usually dropped the chunk it held, and `reserve` takes the same allocation
    /// back: a long stream allocates twice.
    bufs: [BytesMut; 2],
    turn: usize,
    reading: Option<JoinHandle<io::Result<BytesMut>>>,
    /// Whether reads without waiting are worth trying: not after the file system refused one
    /// as unsupported.
    nowait: bool,
}

fn read_chunk(file: &File, mut buf: BytesMut, at: u64) -> io::Result<BytesMut> {
    // A file that shrank since it was opened would make the body shorter than its announced
    // length: that is an error (the connection is cut), never a silent short body.
    file.read_exact_at(&mut buf, at)?;
    Ok(buf)
}

/// What a read that must not wait for the disk got.
#[derive(Debug, PartialEq, Eq)]
enum Cached {
    /// This many bytes (at least one) were in the page cache.
    Read(usize),
    /// None were (or the end of the file came first): read on the blocking pool.
    Wait,
    /// The file system does not do reads without waiting.
    Unsupported,
}

/// Reads what the page cache holds of `buf.len()` bytes at `at`, without waiting for the disk.
#[cfg(target_os = "linux")]
fn read_cached(file: &File, buf: &mut [u8], at: u64) -> Cached {
    use rustix::io::{preadv2, Errno, ReadWriteFlags};
    match preadv2(
        file,
        &mut [io::IoSliceMut::new(buf)],
        at,
        ReadWriteFlags::NOWAIT,
    ) {
        Ok(0) => Cached::Wait,
        Ok(n) => Cached::Read(n),
        Err(Errno::OPNOTSUPP | Errno::NOSYS | Errno::INVAL) => Cached::Unsupported,
        Err(_) => Cached::Wait,
    }
}

#[cfg(not(target_os = "linux"))]
fn read_cached(_: &File, _: &mut [u8], _: u64) -> Cached {
    Cached::Unsupported
}

impl FileStream {
    /// The next chunk of the current file piece: read now when the page cache has it (`Some`),
    /// otherwise started on the blocking pool (`None`, with `reading` set). `next < end`.
    fn read(&mut self) -> Option<Bytes> {
        let n = (self.end - self.next).min(CHUNK as u64) as usize;
        let mut buf = std::mem::take(&mut self.bufs[self.turn]);
        buf.clear();
        buf.reserve(n);
        buf.resize(n, 0);
        if self.nowait {
            match read_cached(&self.file, &mut buf, self.next) {
                Cached::Read(got) => {
                    buf.truncate(got);
                    self.next += got as u64;
                    return Some(self.hand_out(buf));
                }
                Cached::Wait => {}
                Cached::Unsupported => self.nowait = false,
            }
        }
        let (file, at) = (self.file.clone(), self.next);
        self.next += n as u64;
        self.reading = Some(tokio::task::spawn_blocking(move || {
            read_chunk(&file, buf, at)
        }));
        None
    }

    /// The bytes read into `buf`, as a chunk; `buf` keeps its allocation for a later turn.
    fn hand_out(&mut self, mut buf: BytesMut) -> Bytes {
        let chunk = buf.split().freeze();
        self.bufs[self.turn] = buf;
        self.turn ^= 1;
        chunk
    }

    /// Ends the body after a failed read.
    fn stop(&mut self) {
        self.pieces.clear();
        self.next = self.end;
    }
}

impl Stream for FileStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(reading) = this.reading.as_mut() {
                let done = match Pin::new(reading).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(done) => done,
                };
                this.reading = None;
                return Poll::Ready(Some(match done {
                    Ok(Ok(buf)) => Ok(this.hand_out(buf)),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "reading an audio file failed mid-stream");
                        this.stop();
                        Err(e)
                    }
                    Err(e) => {
                        this.stop();
                        Err(io::Error::other(format!("read task: {e}")))
                    }
                }));
            }
            if this.next < this.end {
                match this.read() {
                    Some(chunk) => return Poll::Ready(Some(Ok(chunk))),
                    None => continue,
                }
            }
            match this.pieces.pop_front() {
                None => return Poll::Ready(None),
                Some(Piece::Bytes(b)) => return Poll::Ready(Some(Ok(b))),
                Some(Piece::File(r)) => {
                    this.next = r.first;
                    this.end = r.last + 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use std::io::Write;

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        (f, data)
    }

    async fn collect(body: Body) -> Vec<u8> {
        collect_stream(body, true).await
    }

    /// The body's bytes, read without waiting when `nowait`, otherwise all on the blocking
    /// pool (as when the page cache lacks them).
    async fn collect_stream(body: Body, nowait: bool) -> Vec<u8> {
        let expected = body.len();
        let mut s = body.into_stream();
        s.nowait = nowait;
        let mut out = Vec::new();
        while let Some(chunk) = s.next().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= CHUNK);
            out.extend_from_slice(&chunk);
        }
        assert_eq!(out.len() as u64, expected);
        out
    }

    #[tokio::test]
    async fn ranges_across_chunk_boundaries_are_exact() {
        let len = CHUNK * 3 + 17;
        let (f, data) = file_of(len);
        let file = Arc::new(File::open(f.path()).unwrap());
        for (first, last) in [
            (0, len - 1),
            (0, 0),
            (CHUNK - 1, CHUNK),
            (5, CHUNK * 2 + 3),
            (len - 1, len - 1),
        ] {
            let r = ByteRange {
                first: first as u64,
                last: last as u64,
            };
            let got = collect(Body::range(file.clone(), r)).await;
            assert_eq!(got, &data[first..=last], "{first}-{last}");
        }
    }

    #[tokio::test]
    async fn reads_from_the_page_cache_and_from_the_blocking_pool_agree() {
        let len = CHUNK * 2 + 5;
        let (f, data) = file_of(len);
        let file = Arc::new(File::open(f.path()).unwrap());
        let whole = ByteRange {
            first: 0,
            last: len as u64 - 1,
        };
        for nowait in [true, false] {
            let got = collect_stream(Body::range(file.clone(), whole), nowait).await;
            assert_eq!(got, data, "nowait {nowait}");
        }
    }

    #[test]
    fn a_cached_read_reads_what_is_there_and_leaves_the_end_to_the_blocking_read() {
        let (f, data) = file_of(100);
        let file = File::open(f.path()).unwrap();
        let mut buf = [0u8; 40];
        // Just written: in the page cache (or the file system cannot tell, and says so).
        match read_cached(&file, &mut buf, 10) {
            Cached::Read(n) => assert_eq!(&buf[..n], &data[10..10 + n]),
            Cached::Unsupported => {}
            Cached::Wait => panic!("a file just written was not read from the page cache"),
        }
        // Past the end: nothing to read now; the blocking read reports the short file.
        assert!(matches!(
            read_cached(&file, &mut buf, 100),
            Cached::Wait | Cached::Unsupported
        ));
    }

    #[tokio::test]
    async fn multipart_bodies_frame_each_range() {
        let (f, data) = file_of(1000);
        let file = Arc::new(File::open(f.path()).unwrap());
        let ranges = [
            ByteRange { first: 0, last: 9 },
            ByteRange {
                first: 500,
                last: 999,
            },
        ];
        let got = collect(Body::multipart(file, &ranges, 1000, "audio/flac", "XYZ")).await;
        let mut expected =
            b"--XYZ\r\nContent-Type: audio/flac\r\nContent-Range: bytes 0-9/1000\r\n\r\n".to_vec();
        expected.extend_from_slice(&data[0..10]);
        expected.extend_from_slice(
            b"\r\n--XYZ\r\nContent-Type: audio/flac\r\nContent-Range: bytes 500-999/1000\r\n\r\n",
        );
        expected.extend_from_slice(&data[500..]);
        expected.extend_from_slice(b"\r\n--XYZ--\r\n");
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn a_file_that_shrank_ends_the_stream_with_an_error() {
        for nowait in [true, false] {
            let (f, data) = file_of(CHUNK * 2);
            let file = Arc::new(File::open(f.path()).unwrap());
            f.as_file().set_len(10).unwrap();
            let mut s = Body::range(
                file,
                ByteRange {
                    first: 0,
                    last: (CHUNK * 2 - 1) as u64,
                },
            )
            .into_stream();
            s.nowait = nowait;
            // What is still there may come first (a read from the page cache stops at the
            // end); then the error, then nothing.
            let mut got = Vec::new();
            while let Ok(chunk) = s.next().await.expect("the stream ended without an error") {
                got.extend_from_slice(&chunk);
            }
            assert_eq!(got, &data[..got.len()], "nowait {nowait}");
            assert!(got.len() <= 10, "nowait {nowait}");
            assert!(s.next().await.is_none(), "nowait {nowait}");
        }
    }
}
