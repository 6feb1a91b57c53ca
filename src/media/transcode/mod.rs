//! Audio transcoder core: decodes any supported source file and streams it out as Ogg Opus or MP3 at a target bitrate, entirely in-process.
//!
//! Pipeline: [`decode`] (symphonia, or libopus for Ogg Opus sources) -> [`resample`] (rubato, only
//! when the encoder needs another rate) -> [`opus`] / [`mp3`] encoder, which push finished bytes
//! into the caller's sink as soon as they exist. Every buffer in the pipeline is bounded by a
//! packet or chunk size, never by the length of the track.

mod decode;
mod mp3;
mod opus;
mod resample;

#[cfg(test)]
mod tests;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Output codec. Opus is always delivered in an Ogg container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", expecting = "one of \"opus\", \"mp3\"")]
pub enum Codec {
    Opus,
    Mp3,
}

/// What to produce.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub codec: Codec,
    pub bitrate_kbps: u32,
    /// Start this many seconds into the source; output timestamps still start at 0.
    pub offset_secs: f64,
}

/// Result of a completed transcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Duration of the audio that was encoded (after `offset_secs`).
    pub duration_ms: u64,
    /// Bytes handed to the sink.
    pub bytes: u64,
}

/// Returned by a sink to end the transcode early (e.g. the HTTP client went away).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop;

#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    #[error("invalid transcode request: {0}")]
    InvalidSpec(String),
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("unsupported source: {0}")]
    Unsupported(String),
    #[error("offset {offset_secs}s is at or beyond the end of the track")]
    OffsetBeyondEnd { offset_secs: f64 },
    #[error("decoding failed: {0}")]
    Decode(String),
    #[error("resampling failed: {0}")]
    Resample(String),
    #[error("encoding failed: {0}")]
    Encode(String),
    #[error("transcode stopped by the sink")]
    Stopped,
    #[error("transcoder panicked (malformed input?): {0}")]
    Panicked(String),
}

pub const OPUS_MIN_KBPS: u32 = 6;
pub const OPUS_MAX_KBPS: u32 = 256;
/// MPEG-1 Layer III CBR rates LAME accepts (56 is absent because the encoder crate does not expose it).
pub const MP3_KBPS: [u32; 13] = [32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
/// Longest offset accepted; anything larger is a client bug, not a real track position.
const MAX_OFFSET_SECS: f64 = 7.0 * 24.0 * 3600.0;

impl Spec {
    /// Checks the request and returns it normalised: MP3 bitrates are rounded to the nearest
    /// rate LAME supports; values far outside the codec's range are rejected.
    pub fn validate(&self) -> Result<Spec, TranscodeError> {
        if !self.offset_secs.is_finite()
            || self.offset_secs < 0.0
            || self.offset_secs > MAX_OFFSET_SECS
        {
            return Err(TranscodeError::InvalidSpec(format!(
                "offset must be a finite number of seconds between 0 and {MAX_OFFSET_SECS}, got {}",
                self.offset_secs
            )));
        }
        let bitrate_kbps = match self.codec {
            Codec::Opus => {
                if !(OPUS_MIN_KBPS..=OPUS_MAX_KBPS).contains(&self.bitrate_kbps) {
                    return Err(TranscodeError::InvalidSpec(format!(
                        "Opus bitrate must be {OPUS_MIN_KBPS}-{OPUS_MAX_KBPS} kbps, got {}",
                        self.bitrate_kbps
                    )));
                }
                self.bitrate_kbps
            }
            Codec::Mp3 => {
                let (min, max) = (MP3_KBPS[0], MP3_KBPS[MP3_KBPS.len() - 1]);
                if !(min..=max).contains(&self.bitrate_kbps) {
                    return Err(TranscodeError::InvalidSpec(format!(
                        "MP3 bitrate must be {min}-{max} kbps, got {}",
                        self.bitrate_kbps
                    )));
                }
                nearest_mp3_kbps(self.bitrate_kbps)
            }
        };
        Ok(Spec {
            bitrate_kbps,
            ..*self
        })
    }
}

fn nearest_mp3_kbps(kbps: u32) -> u32 {
    // Ties go to the lower rate: callers ask for a ceiling on mobile data.
    MP3_KBPS
        .iter()
        .copied()
        .min_by_key(|&r| (r.abs_diff(kbps), r))
        .unwrap_or(128)
}

/// HTTP `Content-Type` for the output of `codec`.
pub fn content_type(codec: Codec) -> &'static str {
    match codec {
        Codec::Opus => "audio/ogg",
        Codec::Mp3 => "audio/mpeg",
    }
}

/// Transcodes `source` according to `spec`, pushing output bytes into `sink` as they are produced.
///
/// Blocking and CPU-bound: run it on a blocking thread (e.g. `spawn_blocking`). When `sink`
/// returns `Err(Stop)` the transcode ends at once with [`TranscodeError::Stopped`].
pub fn transcode(
    source: &Path,
    spec: &Spec,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), Stop>,
) -> Result<Outcome, TranscodeError> {
    let spec = spec.validate()?;
    // symphonia has panicked on malformed files before; a bad upload must not take a worker
    // thread down. Nothing inside is reused after a panic, so AssertUnwindSafe is sound here.
    match catch_unwind(AssertUnwindSafe(|| run(source, &spec, sink))) {
        Ok(result) => result,
        Err(payload) => Err(TranscodeError::Panicked(panic_message(payload.as_ref()))),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_owned()
    }
}

/// Counts bytes and turns the caller's `Stop` into our error so `?` ends the pipeline.
pub(crate) struct Output<'a> {
    sink: &'a mut dyn FnMut(&[u8]) -> Result<(), Stop>,
    bytes: u64,
}

impl Output<'_> {
    pub(crate) fn send(&mut self, data: &[u8]) -> Result<(), TranscodeError> {
        if data.is_empty() {
            return Ok(());
        }
        (self.sink)(data).map_err(|Stop| TranscodeError::Stopped)?;
        self.bytes += data.len() as u64;
        Ok(())
    }
}

/// Common shape of the two encoders so the pipeline does not care which one it drives.
pub(crate) trait Encode {
    /// Interleaved f32 PCM at the encoder's rate and channel count.
    fn encode(&mut self, pcm: &[f32], out: &mut Output<'_>) -> Result<(), TranscodeError>;
    fn finish(&mut self, out: &mut Output<'_>) -> Result<(), TranscodeError>;
}

fn run(
    path: &Path,
    spec: &Spec,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), Stop>,
) -> Result<Outcome, TranscodeError> {
    let mut source = decode::Source::open(path, spec.offset_secs)?;
    let channels = source.channels();
    let in_rate = source.sample_rate();
    let out_rate = match spec.codec {
        Codec::Opus => opus::SAMPLE_RATE,
        Codec::Mp3 => mp3::output_rate(in_rate),
    };
    let mut out = Output { sink, bytes: 0 };
    let mut encoder: Box<dyn Encode> = match spec.codec {
        Codec::Opus => Box::new(opus::OggOpusEncoder::new(
            channels,
            in_rate,
            spec.bitrate_kbps,
            &mut out,
        )?),
        Codec::Mp3 => Box::new(mp3::Mp3Encoder::new(channels, out_rate, spec.bitrate_kbps)?),
    };
    let mut resampler = resample::Resampler::new(in_rate, out_rate, channels)?;
    let mut frames_out: u64 = 0;
    let mut emit = |pcm: &[f32]| -> Result<(), TranscodeError> {
        frames_out += (pcm.len() / channels) as u64;
        encoder.encode(pcm, &mut out)
    };
    while source.fill()? {
        resampler.process(source.samples(), &mut emit)?;
    }
    resampler.finish(&mut emit)?;
    encoder.finish(&mut out)?;
    Ok(Outcome {
        duration_ms: frames_out * 1000 / u64::from(out_rate),
        bytes: out.bytes,
    })
}
