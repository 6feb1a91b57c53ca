//! The symphonia side: opening a format reader on a checked byte window, reading its stream
//! parameters, and counting frames by demuxing when no header states the total.

use symphonia::core::codecs::{self, CodecParameters, CodecType};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions, ReadBytes};

use super::input::{Input, Window};
use super::ProbeError;

/// Opens a symphonia reader on the bytes `[start, end)` of the file, with patches applied.
/// `skip` bytes are consumed first: symphonia's MP4 reader expects to start just after the
/// bytes its prober matched.
pub(super) fn open<R: FormatReader>(
    input: &Input,
    start: u64,
    end: u64,
    patches: Vec<(u64, [u8; 4])>,
    skip: u64,
) -> Result<R, ProbeError> {
    let window = Window::new(input.file()?, start, end, patches);
    let mut mss = MediaSourceStream::new(Box::new(window), MediaSourceStreamOptions::default());
    mss.ignore_bytes(skip)?;
    let options = FormatOptions {
        enable_gapless: true,
        ..FormatOptions::default()
    };
    R::try_new(mss, &options).map_err(from_symphonia)
}

pub(super) fn from_symphonia(e: SymphoniaError) -> ProbeError {
    match e {
        SymphoniaError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            ProbeError::Corrupt("the audio stream ends early".into())
        }
        SymphoniaError::IoError(e) => ProbeError::Io(e),
        SymphoniaError::Unsupported(what) => ProbeError::Unsupported(what.into()),
        SymphoniaError::DecodeError(what) | SymphoniaError::LimitError(what) => {
            ProbeError::Corrupt(what.into())
        }
        SymphoniaError::SeekError(_) | SymphoniaError::ResetRequired => {
            ProbeError::Corrupt("the audio stream cannot be read".into())
        }
    }
}

/// The first track with a known codec.
pub(super) fn first_track(reader: &dyn FormatReader) -> Result<CodecParameters, ProbeError> {
    reader
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != codecs::CODEC_TYPE_NULL)
        .map(|t| t.codec_params.clone())
        .ok_or_else(|| ProbeError::Unsupported("the file holds no audio track".into()))
}

/// Sums packet durations until the stream ends, reading at most `max_packets` packets.
/// Demuxing reads each frame's bytes but decodes nothing.
pub(super) fn count_frames(reader: &mut dyn FormatReader, max_packets: u64) -> u64 {
    let mut frames = 0u64;
    for _ in 0..max_packets {
        match reader.next_packet() {
            Ok(packet) => frames = frames.saturating_add(packet.dur),
            // The end of the stream, or damage after which nothing more can be trusted.
            Err(_) => break,
        }
    }
    frames
}

pub(super) fn channels(params: &CodecParameters) -> Option<u8> {
    params
        .channels
        .and_then(|c| u8::try_from(c.count()).ok())
        .filter(|&n| n > 0)
}

pub(super) fn bits(params: &CodecParameters) -> Option<u8> {
    params
        .bits_per_sample
        .and_then(|b| u8::try_from(b).ok())
        .filter(|&b| b > 0)
}

/// Names as ffmpeg's codec names, which is what people recognise.
pub(super) fn codec_name(codec: CodecType) -> String {
    use symphonia::core::codecs::*;
    let name = match codec {
        CODEC_TYPE_MP1 => "mp1",
        CODEC_TYPE_MP2 => "mp2",
        CODEC_TYPE_MP3 => "mp3",
        CODEC_TYPE_AAC => "aac",
        CODEC_TYPE_ALAC => "alac",
        CODEC_TYPE_FLAC => "flac",
        CODEC_TYPE_OPUS => "opus",
        CODEC_TYPE_VORBIS => "vorbis",
        CODEC_TYPE_EAC3 => "eac3",
        CODEC_TYPE_PCM_S8 => "pcm_s8",
        CODEC_TYPE_PCM_U8 => "pcm_u8",
        CODEC_TYPE_PCM_S16LE => "pcm_s16le",
        CODEC_TYPE_PCM_S16BE => "pcm_s16be",
        CODEC_TYPE_PCM_U16LE => "pcm_u16le",
        CODEC_TYPE_PCM_U16BE => "pcm_u16be",
        CODEC_TYPE_PCM_S24LE => "pcm_s24le",
        CODEC_TYPE_PCM_S24BE => "pcm_s24be",
        CODEC_TYPE_PCM_U24LE => "pcm_u24le",
        CODEC_TYPE_PCM_U24BE => "pcm_u24be",
        CODEC_TYPE_PCM_S32LE => "pcm_s32le",
        CODEC_TYPE_PCM_S32BE => "pcm_s32be",
        CODEC_TYPE_PCM_U32LE => "pcm_u32le",
        CODEC_TYPE_PCM_U32BE => "pcm_u32be",
        CODEC_TYPE_PCM_F32LE => "pcm_f32le",
        CODEC_TYPE_PCM_F32BE => "pcm_f32be",
        CODEC_TYPE_PCM_F64LE => "pcm_f64le",
        CODEC_TYPE_PCM_F64BE => "pcm_f64be",
        CODEC_TYPE_PCM_ALAW => "pcm_alaw",
        CODEC_TYPE_PCM_MULAW => "pcm_mulaw",
        CODEC_TYPE_ADPCM_MS => "adpcm_ms",
        CODEC_TYPE_ADPCM_IMA_WAV => "adpcm_ima_wav",
        CODEC_TYPE_ADPCM_IMA_QT => "adpcm_ima_qt",
        _ => return format!("unknown ({codec})"),
    };
    name.to_owned()
}
