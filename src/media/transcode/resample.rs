//! Sample-rate conversion with rubato's FFT resampler, fed and drained in fixed-size blocks.
//!
//! FftFixedIn is a synchronous (fixed-ratio) resampler: for the ratios we meet (44.1k -> 48k and
//! friends) it is several times faster than the sinc resamplers at comparable quality.

use rubato::{FftFixedIn, Resampler as _};

use super::TranscodeError;

/// Input frames per resampler call: small enough to keep latency and memory low, large enough
/// that the per-call FFT overhead is negligible.
const CHUNK_FRAMES: usize = 1024;
const SUB_CHUNKS: usize = 2;

pub(crate) struct Resampler {
    channels: usize,
    state: Option<Fft>,
}

struct Fft {
    resampler: FftFixedIn<f32>,
    in_rate: u64,
    out_rate: u64,
    input: Vec<Vec<f32>>,
    filled: usize,
    output: Vec<Vec<f32>>,
    interleaved: Vec<f32>,
    /// Output frames still to drop: the resampler's latency, so output starts in sync with input.
    delay: usize,
    frames_in: u64,
    frames_out: u64,
}

impl Resampler {
    pub(crate) fn new(
        in_rate: u32,
        out_rate: u32,
        channels: usize,
    ) -> Result<Self, TranscodeError> {
        if in_rate == out_rate {
            return Ok(Resampler {
                channels,
                state: None,
            });
        }
        let resampler = FftFixedIn::<f32>::new(
            in_rate as usize,
            out_rate as usize,
            CHUNK_FRAMES,
            SUB_CHUNKS,
            channels,
        )
        .map_err(|e| TranscodeError::Resample(format!("{in_rate} Hz -> {out_rate} Hz: {e}")))?;
        let input = vec![vec![0.0; resampler.input_frames_max()]; channels];
        let output = resampler.output_buffer_allocate(true);
        let delay = resampler.output_delay();
        Ok(Resampler {
            channels,
            state: Some(Fft {
                resampler,
                in_rate: u64::from(in_rate),
                out_rate: u64::from(out_rate),
                input,
                filled: 0,
                output,
                interleaved: Vec::new(),
                delay,
                frames_in: 0,
                frames_out: 0,
            }),
        })
    }

    /// Feeds interleaved input; `emit` receives interleaved output whenever a block is ready.
    pub(crate) fn process(
        &mut self,
        mut input: &[f32],
        emit: &mut dyn FnMut(&[f32]) -> Result<(), TranscodeError>,
    ) -> Result<(), TranscodeError> {
        let channels = self.channels;
        let Some(fft) = self.state.as_mut() else {
            return emit(input);
        };
        while !input.is_empty() {
            let need = fft.resampler.input_frames_next();
            let take = (need - fft.filled).min(input.len() / channels);
            for (i, frame) in input[..take * channels].chunks_exact(channels).enumerate() {
                for (c, s) in frame.iter().enumerate() {
                    fft.input[c][fft.filled + i] = *s;
                }
            }
            fft.filled += take;
            fft.frames_in += take as u64;
            input = &input[take * channels..];
            if fft.filled == need {
                let (_, produced) = fft
                    .resampler
                    .process_into_buffer(&fft.input, &mut fft.output, None)
                    .map_err(|e| TranscodeError::Resample(e.to_string()))?;
                fft.filled = 0;
                fft.emit(produced, u64::MAX, channels, emit)?;
            } else if take == 0 {
                // Only a partial frame left: malformed input length, nothing sensible to do.
                break;
            }
        }
        Ok(())
    }

    /// Flushes the resampler's tail so the output is exactly as long as the input (in time).
    pub(crate) fn finish(
        &mut self,
        emit: &mut dyn FnMut(&[f32]) -> Result<(), TranscodeError>,
    ) -> Result<(), TranscodeError> {
        let channels = self.channels;
        let Some(fft) = self.state.as_mut() else {
            return Ok(());
        };
        let expected = (fft.frames_in * fft.out_rate).div_ceil(fft.in_rate);
        let mut pending = fft.filled > 0;
        // Bounded: each round yields at least one block of output until `expected` is reached.
        let mut rounds = 0;
        while fft.frames_out < expected && rounds < 64 {
            let result = if pending {
                let partial: Vec<&[f32]> = fft.input.iter().map(|c| &c[..fft.filled]).collect();
                fft.resampler
                    .process_partial_into_buffer(Some(&partial), &mut fft.output, None)
            } else {
                fft.resampler
                    .process_partial_into_buffer(None::<&[&[f32]]>, &mut fft.output, None)
            };
            let (_, produced) = result.map_err(|e| TranscodeError::Resample(e.to_string()))?;
            pending = false;
            fft.filled = 0;
            fft.emit(produced, expected, channels, emit)?;
            rounds += 1;
        }
        Ok(())
    }
}

impl Fft {
    fn emit(
        &mut self,
        produced: usize,
        limit: u64,
        channels: usize,
        emit: &mut dyn FnMut(&[f32]) -> Result<(), TranscodeError>,
    ) -> Result<(), TranscodeError> {
        let skip = self.delay.min(produced);
        self.delay -= skip;
        let room = limit.saturating_sub(self.frames_out);
        let end = (skip as u64).saturating_add(room).min(produced as u64) as usize;
        if end <= skip {
            return Ok(());
        }
        self.interleaved.clear();
        self.interleaved.reserve((end - skip) * channels);
        for i in skip..end {
            for ch in &self.output {
                self.interleaved.push(ch[i]);
            }
        }
        self.frames_out += (end - skip) as u64;
        emit(&self.interleaved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Output must be time-aligned with input (no added latency) and exactly as long.
    #[test]
    fn impulse_stays_in_place_and_length_is_exact() {
        for (in_rate, out_rate) in [
            (44_100u32, 48_000u32),
            (16_000, 48_000),
            (96_000, 48_000),
            (22_050, 44_100),
        ] {
            let frames = in_rate as usize; // 1 s
            let at = in_rate as usize / 3;
            let mut input = vec![0.0f32; frames * 2];
            input[at * 2] = 1.0;
            input[at * 2 + 1] = -1.0;
            let mut r = Resampler::new(in_rate, out_rate, 2).unwrap();
            let mut out = Vec::new();
            let mut emit = |pcm: &[f32]| -> Result<(), TranscodeError> {
                out.extend_from_slice(pcm);
                Ok(())
            };
            // Odd-sized pushes, like real decoder output.
            for chunk in input.chunks(2 * 577) {
                r.process(chunk, &mut emit).unwrap();
            }
            r.finish(&mut emit).unwrap();
            assert_eq!(
                out.len() / 2,
                out_rate as usize,
                "{in_rate}->{out_rate} length"
            );
            let peak = out
                .chunks_exact(2)
                .enumerate()
                .max_by(|a, b| a.1[0].total_cmp(&b.1[0]))
                .map(|(i, _)| i)
                .unwrap();
            let want = at as f64 * f64::from(out_rate) / f64::from(in_rate);
            assert!(
                (peak as f64 - want).abs() <= 2.0,
                "{in_rate}->{out_rate}: peak {peak}, want {want:.1}"
            );
        }
    }
}
