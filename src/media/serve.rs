//! Response bodies read from a file through one fixed-size buffer: a single range, or a
//! `multipart/byteranges` body whose part headers are interleaved with file ranges. Nothing
//! reads a whole file into memory.
//!
//! The body is a [`Stream`] that reads at most one chunk ahead of what the connection has
//! taken, so the HTTP layer's back-pressure paces the disk: a slow player costs two chunks,
//! and a client that disconnects drops the stream, which ends the reading.

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

/// Bytes read from the file per chunk. Large enough that the per-chunk cost (a blocking-pool
/// hop and a `pread`) is small against the copy, small enough that hundreds of concurrent
/// streams hold little memory. The HTTP server queues at most one chunk per connection.
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
        }
    }
}

/// The chunks of a [`Body`]. Reads run on the blocking pool, one chunk ahead of the
/// connection: while one chunk is written, the next is read, so disk and socket overlap. A
/// stream therefore holds at most two chunks, in two buffers used in turn.
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
}

fn read_chunk(file: &File, mut buf: BytesMut, at: u64) -> io::Result<BytesMut> {
    // A file that shrank since it was opened would make the body shorter than its announced
    // length: that is an error (the connection is cut), never a silent short body.
    file.read_exact_at(&mut buf, at)?;
    Ok(buf)
}

impl FileStream {
    /// Starts reading the next chunk of the current file piece, if any is left.
    fn start_read(&mut self) -> bool {
        if self.next >= self.end {
            return false;
        }
        let n = (self.end - self.next).min(CHUNK as u64) as usize;
        let mut buf = std::mem::take(&mut self.bufs[self.turn]);
        buf.clear();
        buf.reserve(n);
        buf.resize(n, 0);
        let (file, at) = (self.file.clone(), self.next);
        self.next += n as u64;
        self.reading = Some(tokio::task::spawn_blocking(move || {
            read_chunk(&file, buf, at)
        }));
        true
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
                    Ok(Ok(mut buf)) => {
                        let chunk = buf.split().freeze();
                        this.bufs[this.turn] = buf;
                        this.turn ^= 1;
                        this.start_read();
                        Ok(chunk)
                    }
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
            if this.start_read() {
                continue;
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
        let expected = body.len();
        let mut s = body.into_stream();
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
        let (f, _) = file_of(CHUNK * 2);
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
        assert!(s.next().await.unwrap().is_err());
        assert!(s.next().await.is_none());
    }
}
