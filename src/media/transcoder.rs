//! The transcoding service: turns a stream request (format, bitrate, quality, offset) and the
//! caller's maximum bitrate into a [`Plan`], runs transcodes on the blocking pool within a
//! fixed number of slots, and hands their output to the HTTP layer as it is produced.
//!
//! # Flow of a live transcode
//! The core ([`super::transcode`]) runs in `spawn_blocking`, holding a slot (a semaphore
//! permit) for its whole life. Its output is coalesced into chunks of at least
//! [`COALESCE_BYTES`] and sent through a bounded channel to the response body; a slow client
//! therefore pauses the transcoder, and a client that goes away drops the receiver, the next
//! send fails, the sink answers `Stop`, the transcode ends and its slot is free. Complete
//! results of whole tracks are written to the [`Cache`] on the way.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::sync::{mpsc, Semaphore};

use super::cache::{Cache, CacheKey, Pending};
use super::range::{whole_seconds, Validators};
use super::transcode::{self, content_type, Codec, Spec, Stop, TranscodeError, MP3_KBPS};
use super::AudioFile;
use crate::config::{TranscodeConfig, TranscodeProfile, ORIGINAL_PROFILE};
use crate::domain::TrackId;
use crate::error::{Error, Result};

/// Output is sent to the client in chunks of at least this size (the last may be smaller):
/// the encoders emit a few hundred bytes at a time, far too little per channel message and
/// per HTTP chunk.
pub const COALESCE_BYTES: usize = 16 * 1024;
/// Chunks queued between a transcoder and its response: a little read-ahead, bounded memory.
const CHANNEL_DEPTH: usize = 4;
/// What a refused client is told to wait: about the time a transcode of a whole track takes.
pub const BUSY_RETRY_AFTER: Duration = Duration::from_secs(5);
/// Bitrate of `?format=opus` without `bitrate`.
pub const DEFAULT_OPUS_KBPS: u32 = 96;
/// Bitrate of `?format=mp3` without `bitrate`.
pub const DEFAULT_MP3_KBPS: u32 = 192;

/// The transcoding parameters of a stream request, parsed but not yet checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamRequest {
    /// `format`.
    pub format: Option<Codec>,
    /// `bitrate`, in kbps.
    pub bitrate_kbps: Option<u32>,
    /// `quality`: a profile name or `original`.
    pub quality: Option<String>,
    /// `offset`, in seconds.
    pub offset_secs: Option<f64>,
}

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Plan {
    /// The original file, with ranges.
    Original,
    /// A transcode.
    Transcode(Spec),
}

/// Transcoding slots, profiles and the cache.
#[derive(Debug)]
pub struct Transcoder {
    slots: Arc<Semaphore>,
    cache: Arc<Cache>,
    config: TranscodeConfig,
}

/// The highest rate `codec` can encode that does not exceed `cap`.
fn capped(codec: Codec, bitrate_kbps: u32, cap: u32) -> u32 {
    if bitrate_kbps <= cap {
        return bitrate_kbps;
    }
    match codec {
        Codec::Opus => cap.max(transcode::OPUS_MIN_KBPS),
        Codec::Mp3 => MP3_KBPS
            .iter()
            .copied()
            .filter(|r| *r <= cap)
            .max()
            .unwrap_or(MP3_KBPS[0]),
    }
}

/// Logs what the core said and turns it into the service error for the client.
pub fn transcode_error(e: TranscodeError, track: TrackId) -> Error {
    match e {
        TranscodeError::InvalidSpec(m) => Error::invalid("bitrate", m),
        TranscodeError::OffsetBeyondEnd { .. } => {
            Error::invalid("offset", "is at or beyond the end of the track")
        }
        TranscodeError::Open { path, source } => {
            if source.kind() == io::ErrorKind::NotFound {
                tracing::warn!(track = %track, path = %path.display(), "a catalogued audio file is missing");
                Error::MediaMissing
            } else {
                Error::Io(source)
            }
        }
        e @ (TranscodeError::Unsupported(_)
        | TranscodeError::Decode(_)
        | TranscodeError::Panicked(_)) => {
            tracing::warn!(track = %track, error = %e, "a track could not be transcoded");
            Error::Undecodable
        }
        e @ (TranscodeError::Resample(_) | TranscodeError::Encode(_) | TranscodeError::Stopped) => {
            Error::Internal(format!("transcoding {track}: {e}"))
        }
    }
}

type Message = std::result::Result<Bytes, TranscodeError>;

/// A transcode that has started; see [`Live::into_body`].
#[derive(Debug)]
pub struct Live {
    track: TrackId,
    rx: mpsc::Receiver<Message>,
}

impl Live {
    /// Waits for the first chunk, so that a file that cannot be decoded (or an offset past its
    /// end) is still a proper error response, then returns the whole output as a body stream.
    /// An error after the first chunk ends the stream with an error, which cuts the response.
    pub async fn into_body(
        mut self,
    ) -> Result<impl Stream<Item = io::Result<Bytes>> + Send + 'static> {
        let track = self.track;
        let first = match self.rx.recv().await {
            Some(Ok(first)) => first,
            Some(Err(e)) => return Err(transcode_error(e, track)),
            None => {
                return Err(Error::Internal(format!(
                    "the transcode of {track} ended without output"
                )))
            }
        };
        let rest = futures_util::stream::unfold(self.rx, move |mut rx| async move {
            let item = rx.recv().await?.map_err(|e| {
                tracing::warn!(track = %track, error = %e, "a transcode failed mid-stream");
                io::Error::other(e.to_string())
            });
            Some((item, rx))
        });
        Ok(futures_util::stream::once(async move { Ok(first) }).chain(rest))
    }
}

impl Transcoder {
    /// The service, with its cache in `cache_dir` (scanned now).
    pub fn new(config: TranscodeConfig, cache_dir: PathBuf) -> io::Result<Transcoder> {
        Ok(Transcoder {
            slots: Arc::new(Semaphore::new(config.max_concurrent.max(1))),
            cache: Arc::new(Cache::open(cache_dir, config.cache_max_bytes)?),
            config,
        })
    }

    /// The cache.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Transcodes running now.
    pub fn active(&self) -> usize {
        self.config
            .max_concurrent
            .max(1)
            .saturating_sub(self.slots.available_permits())
    }

    /// Decides what a request gets:
    /// - `quality=NAME` is a profile; `quality=original` the original; neither combines with
    ///   `format` or `bitrate`.
    /// - `format` alone takes that format's default bitrate; `bitrate` alone the default
    ///   profile's format.
    /// - No transcoding parameter is the original, except when the caller's maximum bitrate
    ///   (`cap_kbps`) is below the file's average bitrate (`source_kbps`): then the default
    ///   profile's format at the cap.
    /// - A transcode is capped at the caller's maximum (MP3 to the highest rate below it).
    /// - `offset` needs a transcode (the original seeks by byte range).
    pub fn plan(
        &self,
        req: &StreamRequest,
        cap_kbps: Option<u32>,
        source_kbps: Option<u32>,
    ) -> Result<Plan> {
        let offset_secs = req.offset_secs.unwrap_or(0.0);
        if !offset_secs.is_finite() || offset_secs < 0.0 {
            return Err(Error::invalid(
                "offset",
                "must be a number of seconds, 0 or more",
            ));
        }
        let asked: Option<TranscodeProfile> = match req.quality.as_deref() {
            Some(_) if req.format.is_some() || req.bitrate_kbps.is_some() => {
                return Err(Error::invalid(
                    "quality",
                    "cannot be combined with format or bitrate",
                ));
            }
            Some(ORIGINAL_PROFILE) => None,
            Some(name) => Some(self.config.profiles.get(name).copied().ok_or_else(|| {
                let names: Vec<&str> = std::iter::once(ORIGINAL_PROFILE)
                    .chain(self.config.profiles.keys().map(String::as_str))
                    .collect();
                Error::invalid(
                    "quality",
                    format!(
                        "unknown quality {name:?}; expected one of {}",
                        names.join(", ")
                    ),
                )
            })?),
            None => match (req.format, req.bitrate_kbps) {
                (None, None) => None,
                (Some(codec), bitrate) => Some(TranscodeProfile {
                    codec,
                    bitrate_kbps: bitrate.unwrap_or(match codec {
                        Codec::Opus => DEFAULT_OPUS_KBPS,
                        Codec::Mp3 => DEFAULT_MP3_KBPS,
                    }),
                }),
                (None, Some(bitrate_kbps)) => Some(TranscodeProfile {
                    codec: self.config.default_profile().codec,
                    bitrate_kbps,
                }),
            },
        };
        let profile = match (asked, cap_kbps, source_kbps) {
            (Some(p), _, _) => p,
            (None, Some(cap), Some(source)) if source > cap => TranscodeProfile {
                codec: self.config.default_profile().codec,
                bitrate_kbps: cap,
            },
            (None, _, _) => {
                if req.offset_secs.is_some() {
                    return Err(Error::invalid(
                        "offset",
                        "applies to transcoded streams only; seek in the original with Range",
                    ));
                }
                return Ok(Plan::Original);
            }
        };
        let mut spec = Spec {
            codec: profile.codec,
            bitrate_kbps: profile.bitrate_kbps,
            offset_secs: 0.0,
        }
        .validate()
        .map_err(|e| match e {
            TranscodeError::InvalidSpec(m) => Error::invalid("bitrate", m),
            other => Error::Internal(other.to_string()),
        })?;
        if let Some(cap) = cap_kbps {
            spec.bitrate_kbps = capped(spec.codec, spec.bitrate_kbps, cap);
        }
        spec.offset_secs = offset_secs;
        spec.validate()
            .map_err(|e| match e {
                TranscodeError::InvalidSpec(m) => Error::invalid("offset", m),
                other => Error::Internal(other.to_string()),
            })
            .map(Plan::Transcode)
    }

    /// The cache key of a transcode of `source` by `spec`; `None` for a transcode that starts
    /// at an offset, which is never cached.
    pub fn cache_key(source: &AudioFile, spec: &Spec) -> Option<CacheKey> {
        (spec.offset_secs == 0.0).then_some(CacheKey {
            track: source.track,
            source_len: source.len,
            source_mtime: source.modified,
            codec: spec.codec,
            bitrate_kbps: spec.bitrate_kbps,
        })
    }

    /// The cached result for `key`, opened and described like an original file.
    pub async fn cached(&self, key: CacheKey) -> Result<Option<AudioFile>> {
        let cache = self.cache.clone();
        let found = tokio::task::spawn_blocking(move || {
            let Some((file, path)) = cache.open_entry(&key) else {
                return Ok(None);
            };
            let meta = file.metadata()?;
            Ok::<_, io::Error>(Some((file, meta, path)))
        })
        .await
        .map_err(|e| Error::Internal(format!("opening a cached transcode: {e}")))??;
        let Some((file, meta, path)) = found else {
            return Ok(None);
        };
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Some(AudioFile {
            track: key.track,
            file: Arc::new(file),
            len: meta.len(),
            validators: Validators {
                etag: key.etag(),
                last_modified: whole_seconds(modified),
                // Written once, complete, before it could be found.
                last_modified_is_strong: true,
            },
            mime: content_type(key.codec),
            file_name,
            path,
            modified,
            duration_ms: 0,
        }))
    }

    /// Starts transcoding `source` by `spec` in a free slot, or refuses with
    /// [`Error::TranscoderBusy`]. A complete result is cached under `key`, if any.
    pub fn start(
        &self,
        track: TrackId,
        source: PathBuf,
        spec: Spec,
        key: Option<CacheKey>,
    ) -> Result<Live> {
        let permit = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| Error::TranscoderBusy {
                retry_after: BUSY_RETRY_AFTER,
            })?;
        let pending = match key.map(|k| self.cache.begin(k)).transpose() {
            Ok(p) => p,
            Err(e) => {
                // The stream works without the cache.
                tracing::warn!(error = %e, "cannot write to the transcode cache");
                None
            }
        };
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let cache = self.cache.clone();
        tokio::task::spawn_blocking(move || {
            // Held until the transcode ends, however it ends.
            let _permit = permit;
            run(&source, &spec, pending, &cache, &tx);
        });
        Ok(Live { track, rx })
    }
}

/// The body of a transcoding task.
fn run(
    source: &std::path::Path,
    spec: &Spec,
    mut pending: Option<Pending>,
    cache: &Cache,
    tx: &mpsc::Sender<Message>,
) {
    let mut buf = BytesMut::with_capacity(COALESCE_BYTES * 2);
    let result = transcode::transcode(source, spec, &mut |data| {
        if let Some(p) = pending.as_mut() {
            if let Err(e) = p.write(data) {
                tracing::warn!(error = %e, "writing to the transcode cache failed");
                pending = None;
            }
        }
        buf.extend_from_slice(data);
        if buf.len() >= COALESCE_BYTES {
            tx.blocking_send(Ok(buf.split().freeze()))
                .map_err(|_| Stop)?;
        }
        Ok(())
    });
    match result {
        Ok(_) => {
            // Published before the response ends, so the next identical request finds it.
            if let Some(p) = pending {
                if let Err(e) = cache.commit(p) {
                    tracing::warn!(error = %e, "keeping a finished transcode failed");
                }
            }
            if !buf.is_empty() {
                let _ = tx.blocking_send(Ok(buf.freeze()));
            }
        }
        Err(TranscodeError::Stopped) => {
            tracing::debug!("a transcode ended early: its client went away");
        }
        Err(e) => {
            let _ = tx.blocking_send(Err(e));
        }
    }
}

/// A file's average bitrate in kbps from its size and duration; `None` when the duration is
/// unknown.
pub fn average_kbps(len: u64, duration_ms: u64) -> Option<u32> {
    // bits per millisecond are kilobits per second.
    (duration_ms > 0)
        .then(|| u32::try_from(len.saturating_mul(8) / duration_ms).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcoder() -> (Transcoder, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::Config::default().transcode;
        (Transcoder::new(config, dir.path().join("t")).unwrap(), dir)
    }

    fn req(format: Option<Codec>, bitrate: Option<u32>, quality: Option<&str>) -> StreamRequest {
        StreamRequest {
            format,
            bitrate_kbps: bitrate,
            quality: quality.map(str::to_owned),
            offset_secs: None,
        }
    }

    fn spec(plan: Plan) -> (Codec, u32) {
        match plan {
            Plan::Transcode(s) => (s.codec, s.bitrate_kbps),
            Plan::Original => panic!("expected a transcode"),
        }
    }

    #[test]
    fn plans_follow_the_documented_rules() {
        let (t, _dir) = transcoder();
        let plan = |r: &StreamRequest, cap, src| t.plan(r, cap, src);
        assert_eq!(
            plan(&req(None, None, None), None, Some(900)).unwrap(),
            Plan::Original
        );
        assert_eq!(
            plan(&req(None, None, Some("original")), None, Some(900)).unwrap(),
            Plan::Original
        );
        assert_eq!(
            spec(plan(&req(None, None, Some("low")), None, None).unwrap()),
            (Codec::Opus, 48)
        );
        assert_eq!(
            spec(plan(&req(Some(Codec::Mp3), None, None), None, None).unwrap()),
            (Codec::Mp3, 192)
        );
        assert_eq!(
            spec(plan(&req(None, Some(64), None), None, None).unwrap()),
            (Codec::Opus, 64)
        );
        // The cap: transcodes are lowered to it, MP3 to the highest rate below it.
        assert_eq!(
            spec(plan(&req(Some(Codec::Mp3), Some(320), None), Some(150), None).unwrap()),
            (Codec::Mp3, 128)
        );
        assert_eq!(
            spec(plan(&req(Some(Codec::Opus), Some(160), None), Some(100), None).unwrap()),
            (Codec::Opus, 100)
        );
        // An original above the cap is transcoded to the default profile's format at the cap.
        assert_eq!(
            spec(plan(&req(None, None, None), Some(64), Some(900)).unwrap()),
            (Codec::Opus, 64)
        );
        assert_eq!(
            plan(&req(None, None, None), Some(1000), Some(900)).unwrap(),
            Plan::Original
        );
        assert_eq!(
            plan(&req(None, None, None), Some(64), None).unwrap(),
            Plan::Original
        );
    }

    #[test]
    fn bad_parameters_name_themselves() {
        let (t, _dir) = transcoder();
        let field = |r: StreamRequest| match t.plan(&r, Some(64), None) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(req(None, None, Some("nope"))), "quality");
        assert_eq!(field(req(Some(Codec::Opus), None, Some("low"))), "quality");
        assert_eq!(
            field(req(Some(Codec::Opus), Some(100_000), None)),
            "bitrate"
        );
        assert_eq!(field(req(Some(Codec::Mp3), Some(8), None)), "bitrate");
        for offset in [-1.0, f64::NAN, f64::INFINITY, 1e12] {
            let r = StreamRequest {
                offset_secs: Some(offset),
                ..req(Some(Codec::Opus), None, None)
            };
            assert_eq!(field(r), "offset", "{offset}");
        }
        let r = StreamRequest {
            offset_secs: Some(3.0),
            ..req(None, None, None)
        };
        assert_eq!(field(r), "offset");
    }

    #[test]
    fn average_bitrate_from_size_and_duration() {
        assert_eq!(average_kbps(1_000_000, 8_000), Some(1000));
        assert_eq!(average_kbps(1_000_000, 0), None);
    }
}
