//! MP3 encoding with LAME (built from the sources bundled in mp3lame-sys), constant bitrate.
//!
//! CBR because the stream is written once, front to back: there is no going back to patch a
//! Xing/LAME header, and without one VBR files show wrong durations and seek badly.

use std::num::NonZeroU32;

use mp3lame_encoder::{
    max_required_buffer_size, Bitrate, Builder, Encoder, FlushGap, InterleavedPcm, Mode, MonoPcm,
    Quality,
};

use super::{Encode, Output, TranscodeError};

/// Frames per LAME call: bounds the output buffer; LAME buffers internally anyway.
const BLOCK_FRAMES: usize = 4608;
/// LAME quality 7 ("Ok"). Measured on the bench machine (44.1 kHz stereo, 128 kbps): q5 and q6
/// both run ~44x real time per core (~35x with an ALAC source), q7 ~75x (~57x); the slower
/// noise-shaping search of q5/q6 is hard to hear on a phone at CBR, the headroom is not.
const QUALITY: Quality = Quality::Ok;

/// MPEG-1 Layer III rates: keeping to these lets every bitrate from 32 to 320 kbps work.
/// Other source rates are resampled to the nearest member of the same family.
pub(crate) fn output_rate(source_rate: u32) -> u32 {
    match source_rate {
        32_000 | 44_100 | 48_000 => source_rate,
        r if r % 11_025 == 0 => 44_100,
        r if r % 8_000 == 0 => 48_000,
        r if r < 38_000 => 32_000,
        r if r < 46_000 => 44_100,
        _ => 48_000,
    }
}

fn bitrate(kbps: u32) -> Result<Bitrate, TranscodeError> {
    Ok(match kbps {
        32 => Bitrate::Kbps32,
        40 => Bitrate::Kbps40,
        48 => Bitrate::Kbps48,
        64 => Bitrate::Kbps64,
        80 => Bitrate::Kbps80,
        96 => Bitrate::Kbps96,
        112 => Bitrate::Kbps112,
        128 => Bitrate::Kbps128,
        160 => Bitrate::Kbps160,
        192 => Bitrate::Kbps192,
        224 => Bitrate::Kbps224,
        256 => Bitrate::Kbps256,
        320 => Bitrate::Kbps320,
        other => {
            return Err(TranscodeError::InvalidSpec(format!(
                "MP3 bitrate {other} kbps is not a LAME CBR rate"
            )))
        }
    })
}

pub(crate) struct Mp3Encoder {
    encoder: Encoder,
    channels: usize,
    buf: Vec<u8>,
}

impl Mp3Encoder {
    pub(crate) fn new(
        channels: usize,
        sample_rate: u32,
        kbps: u32,
    ) -> Result<Self, TranscodeError> {
        let err = |what: &str, e: mp3lame_encoder::BuildError| {
            TranscodeError::Encode(format!("LAME {what}: {e}"))
        };
        let mode = match channels {
            1 => Mode::Mono,
            2 => Mode::JointStereo,
            n => {
                return Err(TranscodeError::Encode(format!(
                    "MP3 encoder got {n} channels"
                )))
            }
        };
        let mut b = Builder::new()
            .ok_or_else(|| TranscodeError::Encode("LAME could not allocate an encoder".into()))?;
        b.set_num_channels(channels as u8)
            .map_err(|e| err("channels", e))?;
        b.set_sample_rate(sample_rate)
            .map_err(|e| err("sample rate", e))?;
        // Same in and out rate: resampling is done (better) by our own resampler, and LAME's
        // habit of downsampling at low bitrates would break the expected output rate.
        b.set_output_sample_rate(NonZeroU32::new(sample_rate))
            .map_err(|e| err("output sample rate", e))?;
        b.set_brate(bitrate(kbps)?).map_err(|e| err("bitrate", e))?;
        b.set_mode(mode).map_err(|e| err("mode", e))?;
        b.set_quality(QUALITY).map_err(|e| err("quality", e))?;
        b.set_to_write_vbr_tag(false)
            .map_err(|e| err("vbr tag", e))?;
        let encoder = b.build().map_err(|e| err("init", e))?;
        Ok(Mp3Encoder {
            encoder,
            channels,
            buf: Vec::with_capacity(max_required_buffer_size(BLOCK_FRAMES)),
        })
    }
}

impl Encode for Mp3Encoder {
    fn encode(&mut self, pcm: &[f32], out: &mut Output<'_>) -> Result<(), TranscodeError> {
        for block in pcm.chunks(BLOCK_FRAMES * self.channels) {
            let frames = block.len() / self.channels;
            self.buf.clear();
            self.buf.reserve(max_required_buffer_size(frames));
            let result = if self.channels == 2 {
                self.encoder
                    .encode_to_vec(InterleavedPcm(block), &mut self.buf)
            } else {
                self.encoder.encode_to_vec(MonoPcm(block), &mut self.buf)
            };
            result.map_err(|e| TranscodeError::Encode(format!("LAME: {e}")))?;
            out.send(&self.buf)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Output<'_>) -> Result<(), TranscodeError> {
        self.buf.clear();
        // LAME's documented worst case for a flush.
        self.buf.reserve(7200);
        self.encoder
            .flush_to_vec::<FlushGap>(&mut self.buf)
            .map_err(|e| TranscodeError::Encode(format!("LAME flush: {e}")))?;
        out.send(&self.buf)
    }
}
