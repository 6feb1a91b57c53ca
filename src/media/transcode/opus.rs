//! Opus encoding with libopus and Ogg encapsulation per RFC 7845 (OpusHead/OpusTags, granule
//! positions counted at 48 kHz including pre-skip, end trimming through the last granule).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use ::opus::{Application, Bitrate, Channels, Encoder, Signal};
use ogg::writing::{PacketWriteEndInfo, PacketWriter};

use super::{Encode, Output, TranscodeError};

pub(crate) const SAMPLE_RATE: u32 = 48_000;
/// 20 ms: the frame size libopus is tuned for; longer frames save little at music bitrates.
const FRAME: usize = 960;
/// Close an Ogg page every this many packets (~0.5 s) so the HTTP layer gets steady chunks
/// without paying the 27+ byte page overhead on every 20 ms packet.
const PACKETS_PER_PAGE: u32 = 25;
/// Upper bound for one 20 ms packet (libopus never exceeds 1275 bytes per frame).
const MAX_PACKET: usize = 1500;
/// libopus defaults to 10. On the bench machine 8 -> 6 took a 44.1 kHz stereo transcode from
/// ~70x to ~90x real time per core (keeping ALAC sources, whose decode is slow, above 50x);
/// 5 and below gained nothing more for CELT-mode music.
const COMPLEXITY: i32 = 6;

pub(crate) struct OggOpusEncoder {
    encoder: Encoder,
    writer: PacketWriter<'static, Vec<u8>>,
    serial: u32,
    channels: usize,
    pre_skip: u64,
    /// Frames received from the pipeline (the real audio length).
    input_frames: u64,
    /// Frames fed to libopus, including the zero padding that flushes its look-ahead.
    encoded_frames: u64,
    /// A partial frame carried over between `encode` calls.
    pending: Vec<f32>,
    packet: Vec<u8>,
    /// The newest packet is held back one step so the last one can be flagged end-of-stream.
    held: Option<Vec<u8>>,
    packets_in_page: u32,
}

impl OggOpusEncoder {
    /// Creates the encoder and immediately sends the two header pages, so the client gets its
    /// first bytes before any audio has been encoded.
    pub(crate) fn new(
        channels: usize,
        input_rate: u32,
        bitrate_kbps: u32,
        out: &mut Output<'_>,
    ) -> Result<Self, TranscodeError> {
        let opus_channels = match channels {
            1 => Channels::Mono,
            2 => Channels::Stereo,
            n => {
                return Err(TranscodeError::Encode(format!(
                    "Opus encoder got {n} channels"
                )))
            }
        };
        let err =
            |what: &str, e: ::opus::Error| TranscodeError::Encode(format!("Opus {what}: {e}"));
        let mut encoder = Encoder::new(SAMPLE_RATE, opus_channels, Application::Audio)
            .map_err(|e| err("encoder init", e))?;
        encoder
            .set_bitrate(Bitrate::Bits(bitrate_kbps as i32 * 1000))
            .map_err(|e| err("bitrate", e))?;
        encoder
            .set_complexity(COMPLEXITY)
            .map_err(|e| err("complexity", e))?;
        encoder
            .set_signal(Signal::Music)
            .map_err(|e| err("signal", e))?;
        // Constrained VBR: VBR's quality gains, but the rate tracks the target closely enough
        // for a mobile data budget.
        encoder.set_vbr(true).map_err(|e| err("vbr", e))?;
        encoder
            .set_vbr_constraint(true)
            .map_err(|e| err("vbr constraint", e))?;
        let pre_skip = encoder.get_lookahead().map_err(|e| err("lookahead", e))?;
        let pre_skip = u64::try_from(pre_skip).unwrap_or(0);

        let mut this = OggOpusEncoder {
            encoder,
            writer: PacketWriter::new(Vec::with_capacity(8 * 1024)),
            // Any value is valid for a single-stream file; a random one avoids collisions if a
            // client ever chains two of our streams.
            serial: RandomState::new().build_hasher().finish() as u32,
            channels,
            pre_skip,
            input_frames: 0,
            encoded_frames: 0,
            pending: Vec::with_capacity(FRAME * channels),
            packet: vec![0; MAX_PACKET],
            held: None,
            packets_in_page: 0,
        };
        let head = opus_head(channels as u8, pre_skip as u16, input_rate);
        this.write(head, PacketWriteEndInfo::EndPage, 0, out)?;
        this.write(opus_tags(), PacketWriteEndInfo::EndPage, 0, out)?;
        Ok(this)
    }

    fn write(
        &mut self,
        packet: Vec<u8>,
        end: PacketWriteEndInfo,
        granule: u64,
        out: &mut Output<'_>,
    ) -> Result<(), TranscodeError> {
        self.writer
            .write_packet(packet, self.serial, end, granule)
            .map_err(|e| TranscodeError::Encode(format!("Ogg page: {e}")))?;
        let pages = self.writer.inner_mut();
        if !pages.is_empty() {
            let result = out.send(pages);
            pages.clear();
            result?;
        }
        Ok(())
    }

    fn encode_frame(&mut self, frame: &[f32], out: &mut Output<'_>) -> Result<(), TranscodeError> {
        let n = self
            .encoder
            .encode_float(frame, &mut self.packet)
            .map_err(|e| TranscodeError::Encode(format!("Opus frame: {e}")))?;
        if let Some(prev) = self.held.take() {
            self.packets_in_page += 1;
            let end = if self.packets_in_page >= PACKETS_PER_PAGE {
                self.packets_in_page = 0;
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            // Granule after `prev`: all samples it completes, counted like a decoder would.
            self.write(prev, end, self.encoded_frames, out)?;
        }
        self.encoded_frames += FRAME as u64;
        self.held = Some(self.packet[..n].to_vec());
        Ok(())
    }
}

impl Encode for OggOpusEncoder {
    fn encode(&mut self, mut pcm: &[f32], out: &mut Output<'_>) -> Result<(), TranscodeError> {
        let frame_len = FRAME * self.channels;
        self.input_frames += (pcm.len() / self.channels) as u64;
        if !self.pending.is_empty() {
            let take = (frame_len - self.pending.len()).min(pcm.len());
            self.pending.extend_from_slice(&pcm[..take]);
            pcm = &pcm[take..];
            if self.pending.len() < frame_len {
                return Ok(());
            }
            let frame = std::mem::take(&mut self.pending);
            let result = self.encode_frame(&frame, out);
            self.pending = frame;
            self.pending.clear();
            result?;
        }
        let mut frames = pcm.chunks_exact(frame_len);
        for frame in &mut frames {
            self.encode_frame(frame, out)?;
        }
        self.pending.extend_from_slice(frames.remainder());
        Ok(())
    }

    fn finish(&mut self, out: &mut Output<'_>) -> Result<(), TranscodeError> {
        let frame_len = FRAME * self.channels;
        // Feed silence until libopus has emitted every real sample past its look-ahead.
        let total = self.pre_skip + self.input_frames;
        while self.encoded_frames < total || self.held.is_none() {
            let mut frame = std::mem::take(&mut self.pending);
            frame.resize(frame_len, 0.0);
            let result = self.encode_frame(&frame, out);
            frame.clear();
            self.pending = frame;
            result?;
        }
        if let Some(last) = self.held.take() {
            // A final granule below the sample count tells decoders to trim the padding.
            self.write(last, PacketWriteEndInfo::EndStream, total, out)?;
        }
        Ok(())
    }
}

fn opus_head(channels: u8, pre_skip: u16, input_rate: u32) -> Vec<u8> {
    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1); // version
    head.push(channels);
    head.extend_from_slice(&pre_skip.to_le_bytes());
    head.extend_from_slice(&input_rate.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // mapping family 0: mono/stereo, no table
    head
}

fn opus_tags() -> Vec<u8> {
    let vendor: &[u8] = b"musewave";
    let mut tags = Vec::with_capacity(16 + vendor.len());
    tags.extend_from_slice(b"OpusTags");
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes()); // no user comments
    tags
}
