//! Source decoding into interleaved f32 at the source rate, at most two channels.
//!
//! symphonia demuxes every container and decodes every codec except Opus, which symphonia 0.5
//! demuxes but cannot decode; those packets go to libopus instead.

use std::fs::File;
use std::io::ErrorKind;
use std::path::Path;

use symphonia::core::audio::{Channels, SampleBuffer, SignalSpec};
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL, CODEC_TYPE_OPUS};
use symphonia::core::errors::{Error as SymError, SeekErrorKind};
use symphonia::core::formats::{FormatOptions, FormatReader, Packet, SeekMode, SeekTo};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::{Limit, MetadataOptions};
use symphonia::core::probe::Hint;
use symphonia::core::units::{Time, TimeBase};

use super::TranscodeError;

/// Bad packets are skipped (a glitch beats a dead stream), but a file that is mostly garbage
/// should fail rather than spin through every byte producing nothing.
const MAX_CONSECUTIVE_BAD_PACKETS: u32 = 64;
/// Largest Opus packet duration (120 ms at 48 kHz), per channel.
const OPUS_MAX_FRAMES: usize = 5760;
/// How far before the requested offset to seek; see `Source::seek`.
const SEEK_PREROLL_SECS: f64 = 0.25;

enum Codec {
    Symphonia {
        decoder: Box<dyn symphonia::core::codecs::Decoder>,
        buf: Option<SampleBuffer<f32>>,
    },
    Opus {
        decoder: ::opus::Decoder,
        buf: Vec<f32>,
        channels: usize,
    },
}

/// Outcome of one packet: bad packets are skipped, anything else ends the transcode.
enum PacketError {
    Bad(String),
    Fatal(TranscodeError),
}

pub(crate) struct Source {
    format: Box<dyn FormatReader>,
    codec: Codec,
    track_id: u32,
    time_base: Option<TimeBase>,
    /// Encoder delay declared by the container (Opus pre-skip), in frames.
    codec_delay: u32,
    /// Opus pre-skip still has to be dropped from the first decoded packet.
    preskip_pending: bool,
    /// Fixed once the first packet has been decoded; a stream that changes shape mid-way is refused.
    spec: Option<SignalSpec>,
    out_channels: usize,
    /// (left, right) weight of each source channel when folding more than two channels down.
    downmix: Vec<(f32, f32)>,
    /// Frames still to discard before the requested offset is reached.
    skip_frames: u64,
    /// After an accurate seek: the timestamp the first output frame must have.
    seek_target_ts: Option<u64>,
    samples: Vec<f32>,
    /// `samples` holds the chunk decoded by `open` and has not been handed out yet.
    primed: bool,
    bad_packets: u32,
}

impl Source {
    /// Opens and probes `path`, seeks to `offset_secs`, and decodes the first chunk so that the
    /// real sample rate and channel count are known before any encoder is configured.
    pub(crate) fn open(path: &Path, offset_secs: f64) -> Result<Source, TranscodeError> {
        let file = File::open(path).map_err(|source| TranscodeError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mss = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let format_opts = FormatOptions {
            // Trims encoder delay/padding where the container says how much (MP3 LAME tag, Ogg).
            enable_gapless: true,
            ..Default::default()
        };
        // Cover art is useless here and can be megabytes; keep tags small too.
        let meta_opts = MetadataOptions {
            limit_metadata_bytes: Limit::Maximum(64 * 1024),
            limit_visual_bytes: Limit::Maximum(0),
        };
        let probed = symphonia::default::get_probe()
            .format(&hint, mss, &format_opts, &meta_opts)
            .map_err(|e| match e {
                SymError::IoError(e) if e.kind() != ErrorKind::UnexpectedEof => {
                    TranscodeError::Open {
                        path: path.to_path_buf(),
                        source: e,
                    }
                }
                other => {
                    TranscodeError::Unsupported(format!("not a recognised audio file ({other})"))
                }
            })?;
        let format = probed.format;

        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or_else(|| TranscodeError::Unsupported("no audio track".into()))?;
        let track_id = track.id;
        let params = track.codec_params.clone();
        let time_base = params.time_base;

        let codec = if params.codec == CODEC_TYPE_OPUS {
            let channels = params.channels.map(|c| c.count()).unwrap_or(0);
            let opus_channels = match channels {
                1 => ::opus::Channels::Mono,
                2 => ::opus::Channels::Stereo,
                n => {
                    return Err(TranscodeError::Unsupported(format!(
                        "Opus source with {n} channels (only mono/stereo Opus is decoded)"
                    )))
                }
            };
            let decoder = ::opus::Decoder::new(48_000, opus_channels)
                .map_err(|e| TranscodeError::Decode(format!("cannot create Opus decoder: {e}")))?;
            Codec::Opus {
                decoder,
                buf: vec![0.0; OPUS_MAX_FRAMES * channels],
                channels,
            }
        } else {
            let decoder = symphonia::default::get_codecs()
                .make(&params, &DecoderOptions::default())
                .map_err(|e| {
                    TranscodeError::Unsupported(format!("no decoder for this codec ({e})"))
                })?;
            Codec::Symphonia { decoder, buf: None }
        };

        let mut source = Source {
            format,
            codec,
            track_id,
            time_base,
            codec_delay: params.delay.unwrap_or(0),
            preskip_pending: params.codec == CODEC_TYPE_OPUS,
            spec: None,
            out_channels: 0,
            downmix: Vec::new(),
            skip_frames: 0,
            seek_target_ts: None,
            samples: Vec::new(),
            primed: false,
            bad_packets: 0,
        };
        if offset_secs > 0.0 {
            source.seek(offset_secs, params.sample_rate)?;
        }
        if !source.decode_next()? {
            return Err(if offset_secs > 0.0 {
                TranscodeError::OffsetBeyondEnd { offset_secs }
            } else {
                TranscodeError::Decode("no decodable audio in the file".into())
            });
        }
        source.primed = true;
        Ok(source)
    }

    fn seek(&mut self, offset_secs: f64, sample_rate: Option<u32>) -> Result<(), TranscodeError> {
        // Land a little early: the first packet after a seek is unreliable (no overlap/bit
        // reservoir, and symphonia's Ogg timestamps for it can be off by up to a block), and
        // Opus wants ~80 ms of pre-roll to converge. The margin is decoded and discarded.
        let preroll = SEEK_PREROLL_SECS.min(offset_secs);
        let to = SeekTo::Time {
            time: Time::from(offset_secs - preroll),
            track_id: Some(self.track_id),
        };
        match self.format.seek(SeekMode::Accurate, to) {
            Ok(seeked) => {
                // The seek target below already accounts for pre-skip.
                self.preskip_pending = false;
                // symphonia's Ogg demuxer stamps Opus packets on the decoder's timeline, which
                // starts pre-skip samples before the audio; seek targets are on the audio one.
                let shift = match self.codec {
                    Codec::Opus { .. } => u64::from(self.codec_delay),
                    Codec::Symphonia { .. } => 0,
                };
                let preroll_ts = match (self.time_base, sample_rate) {
                    (Some(tb), _) if tb.numer > 0 => {
                        (preroll * f64::from(tb.denom) / f64::from(tb.numer)).round() as u64
                    }
                    (_, Some(rate)) => (preroll * f64::from(rate)).round() as u64,
                    _ => 0,
                };
                self.seek_target_ts = Some(
                    seeked
                        .required_ts
                        .saturating_add(shift)
                        .saturating_add(preroll_ts),
                );
                match &mut self.codec {
                    Codec::Symphonia { decoder, .. } => decoder.reset(),
                    Codec::Opus { decoder, .. } => decoder
                        .reset_state()
                        .map_err(|e| TranscodeError::Decode(format!("Opus decoder reset: {e}")))?,
                }
                Ok(())
            }
            Err(SymError::SeekError(SeekErrorKind::OutOfRange)) => {
                Err(TranscodeError::OffsetBeyondEnd { offset_secs })
            }
            Err(_) => {
                // Not seekable (or the demuxer cannot seek this file): decode from the start
                // and throw away everything before the offset. Slower, but still correct.
                let rate = sample_rate.ok_or_else(|| {
                    TranscodeError::Unsupported("cannot seek: unknown sample rate".into())
                })?;
                self.skip_frames = (offset_secs * f64::from(rate)).round() as u64;
                Ok(())
            }
        }
    }

    pub(crate) fn sample_rate(&self) -> u32 {
        self.spec.map_or(0, |s| s.rate)
    }

    pub(crate) fn channels(&self) -> usize {
        self.out_channels
    }

    /// The chunk produced by the last successful [`Source::fill`].
    pub(crate) fn samples(&self) -> &[f32] {
        &self.samples
    }

    /// Decodes the next non-empty chunk into `samples`. Returns `false` at the end of the stream.
    pub(crate) fn fill(&mut self) -> Result<bool, TranscodeError> {
        if self.primed {
            self.primed = false;
            return Ok(true);
        }
        self.decode_next()
    }

    fn decode_next(&mut self) -> Result<bool, TranscodeError> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                // symphonia reports the normal end of a stream as an unexpected EOF.
                Err(SymError::IoError(e)) if e.kind() == ErrorKind::UnexpectedEof => {
                    return Ok(false)
                }
                // A chained Ogg stream starts a new logical stream; we play only the first.
                Err(SymError::ResetRequired) => return Ok(false),
                Err(e) => {
                    return Err(TranscodeError::Decode(format!(
                        "reading the container: {e}"
                    )))
                }
            };
            if packet.track_id() != self.track_id {
                continue;
            }
            match self.decode_packet(&packet) {
                Ok(()) => self.bad_packets = 0,
                Err(PacketError::Bad(msg)) => {
                    self.bad_packets += 1;
                    if self.bad_packets >= MAX_CONSECUTIVE_BAD_PACKETS {
                        return Err(TranscodeError::Decode(format!(
                            "{MAX_CONSECUTIVE_BAD_PACKETS} undecodable packets in a row, last: {msg}"
                        )));
                    }
                    continue;
                }
                Err(PacketError::Fatal(e)) => return Err(e),
            }
            if self.preskip_pending {
                self.preskip_pending = false;
                // symphonia 0.5 trims the end of Ogg Opus streams but not the pre-skip at the
                // start; do it here unless a newer symphonia already did.
                if packet.trim_start() == 0 {
                    self.skip_frames += u64::from(self.codec_delay);
                }
            }
            if self.samples.is_empty() {
                // Decoders with overlapping blocks (Vorbis, AAC) emit nothing for the first
                // packet after a reset; align on the first packet that produces audio.
                continue;
            }
            if let Some(target) = self.seek_target_ts {
                // Packets wholly before the target are pre-roll (this also disposes of the
                // unreliable first packet after the seek); the first one reaching the target
                // is trimmed to start exactly on it.
                if packet.ts().saturating_add(packet.dur()) <= target {
                    self.samples.clear();
                    continue;
                }
                self.seek_target_ts = None;
                self.skip_frames += self.ts_to_frames(target.saturating_sub(packet.ts()));
            }
            if self.skip_frames > 0 {
                let frames = (self.samples.len() / self.out_channels) as u64;
                let n = self.skip_frames.min(frames);
                self.samples.drain(..n as usize * self.out_channels);
                self.skip_frames -= n;
            }
            if !self.samples.is_empty() {
                return Ok(true);
            }
        }
    }

    fn ts_to_frames(&self, ts: u64) -> u64 {
        let rate = u64::from(self.sample_rate());
        match self.time_base {
            Some(tb) if tb.denom > 0 => {
                (u128::from(ts) * u128::from(tb.numer) * u128::from(rate) / u128::from(tb.denom))
                    as u64
            }
            _ => ts,
        }
    }

    /// Decodes one packet into `samples` (replacing what was there), folded to <= 2 channels.
    fn decode_packet(&mut self, packet: &Packet) -> Result<(), PacketError> {
        self.samples.clear();
        match &mut self.codec {
            Codec::Symphonia { decoder, buf } => {
                let decoded = match decoder.decode(packet) {
                    Ok(d) => d,
                    Err(SymError::DecodeError(m)) => return Err(PacketError::Bad(m.to_string())),
                    Err(SymError::IoError(e)) => return Err(PacketError::Bad(e.to_string())),
                    Err(e) => {
                        return Err(PacketError::Fatal(TranscodeError::Decode(e.to_string())))
                    }
                };
                let spec = *decoded.spec();
                if decoded.frames() == 0 {
                    return Ok(());
                }
                let needs_new = buf
                    .as_ref()
                    .is_none_or(|b| b.capacity() < decoded.capacity() * spec.channels.count());
                if needs_new {
                    *buf = Some(SampleBuffer::new(decoded.capacity() as u64, spec));
                }
                let Some(b) = buf.as_mut() else {
                    return Ok(());
                };
                b.copy_interleaved_ref(decoded);
                let interleaved = b.samples();
                Self::check_spec(
                    &mut self.spec,
                    &mut self.out_channels,
                    &mut self.downmix,
                    spec,
                )?;
                mix_into(
                    &mut self.samples,
                    interleaved,
                    spec.channels.count(),
                    &self.downmix,
                );
            }
            Codec::Opus {
                decoder,
                buf,
                channels,
            } => {
                let ch = *channels;
                let frames = decoder
                    .decode_float(packet.buf(), buf, false)
                    .map_err(|e| PacketError::Bad(format!("Opus packet: {e}")))?;
                // Ogg Opus signals pre-skip and end trimming through the packet trims (gapless).
                let start = (packet.trim_start() as usize).min(frames);
                let end = frames.saturating_sub(packet.trim_end() as usize).max(start);
                let channel_mask = if ch == 1 {
                    Channels::FRONT_LEFT
                } else {
                    Channels::FRONT_LEFT | Channels::FRONT_RIGHT
                };
                let spec = SignalSpec::new(48_000, channel_mask);
                Self::check_spec(
                    &mut self.spec,
                    &mut self.out_channels,
                    &mut self.downmix,
                    spec,
                )?;
                self.samples.extend_from_slice(&buf[start * ch..end * ch]);
            }
        }
        Ok(())
    }

    fn check_spec(
        current: &mut Option<SignalSpec>,
        out_channels: &mut usize,
        downmix: &mut Vec<(f32, f32)>,
        spec: SignalSpec,
    ) -> Result<(), PacketError> {
        match current {
            Some(cur) if *cur == spec => Ok(()),
            Some(cur) => Err(PacketError::Fatal(TranscodeError::Unsupported(format!(
                "stream changes format mid-way ({} Hz/{} ch -> {} Hz/{} ch)",
                cur.rate,
                cur.channels.count(),
                spec.rate,
                spec.channels.count()
            )))),
            None => {
                let n = spec.channels.count();
                if n == 0 || spec.rate == 0 {
                    return Err(PacketError::Fatal(TranscodeError::Unsupported(
                        "stream with no channels or zero sample rate".into(),
                    )));
                }
                *out_channels = n.min(2);
                *downmix = if n > 2 {
                    downmix_weights(spec.channels)
                } else {
                    Vec::new()
                };
                *current = Some(spec);
                Ok(())
            }
        }
    }
}

/// Stereo fold-down weights, normalised per side so a full-scale source cannot clip.
fn downmix_weights(channels: Channels) -> Vec<(f32, f32)> {
    const M3DB: f32 = std::f32::consts::FRAC_1_SQRT_2;
    let left = Channels::FRONT_LEFT | Channels::FRONT_LEFT_CENTRE | Channels::FRONT_LEFT_WIDE;
    let right = Channels::FRONT_RIGHT | Channels::FRONT_RIGHT_CENTRE | Channels::FRONT_RIGHT_WIDE;
    let surround_left = Channels::SIDE_LEFT | Channels::REAR_LEFT | Channels::REAR_LEFT_CENTRE;
    let surround_right = Channels::SIDE_RIGHT | Channels::REAR_RIGHT | Channels::REAR_RIGHT_CENTRE;
    let mut weights: Vec<(f32, f32)> = channels
        .iter()
        .map(|c| {
            if left.contains(c) {
                (1.0, 0.0)
            } else if right.contains(c) {
                (0.0, 1.0)
            } else if surround_left.contains(c) {
                (M3DB, 0.0)
            } else if surround_right.contains(c) {
                (0.0, M3DB)
            } else if c.intersects(Channels::LFE1 | Channels::LFE2) {
                (0.0, 0.0)
            } else {
                (M3DB, M3DB)
            }
        })
        .collect();
    let sum_l: f32 = weights.iter().map(|w| w.0).sum();
    let sum_r: f32 = weights.iter().map(|w| w.1).sum();
    for w in &mut weights {
        if sum_l > 0.0 {
            w.0 /= sum_l;
        }
        if sum_r > 0.0 {
            w.1 /= sum_r;
        }
    }
    weights
}

fn mix_into(out: &mut Vec<f32>, interleaved: &[f32], channels: usize, downmix: &[(f32, f32)]) {
    if downmix.is_empty() {
        out.extend_from_slice(interleaved);
        return;
    }
    out.reserve(interleaved.len() / channels * 2);
    for frame in interleaved.chunks_exact(channels) {
        let (mut l, mut r) = (0.0f32, 0.0f32);
        for (s, w) in frame.iter().zip(downmix) {
            l += s * w.0;
            r += s * w.1;
        }
        out.push(l);
        out.push(r);
    }
}
