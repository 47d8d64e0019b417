//! Whisper's input features: an 80-bin log-mel spectrogram of 30 s of 16 kHz audio,
//! computed as OpenAI's reference `whisper.audio.log_mel_spectrogram` does: a periodic
//! Hann window of 400 samples, hop 160, reflect-padded ("centred") STFT, power
//! spectrum, Slaney-normalised mel filters (librosa's defaults, from `mel_spec`),
//! `log10(max(x, 1e-10))`, clamped to 8 below the window's maximum, then `(x + 4) / 4`.
//! The values come from `assets/preprocessor_config.json`, the standard
//! WhisperFeatureExtractor configuration, which the model package lacks.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use serde::Deserialize;

/// The standard WhisperFeatureExtractor configuration (Hugging Face
/// `preprocessor_config.json` of the Whisper models).
pub const PREPROCESSOR_CONFIG: &str = include_str!("../assets/preprocessor_config.json");

#[derive(Debug, Clone, Deserialize)]
pub struct PreprocessorConfig {
    pub feature_size: usize,
    pub hop_length: usize,
    pub n_fft: usize,
    pub n_samples: usize,
    pub nb_max_frames: usize,
    pub sampling_rate: usize,
}

impl PreprocessorConfig {
    /// The standard configuration.
    pub fn standard() -> PreprocessorConfig {
        // The file is part of this crate and is valid JSON of this shape (tested).
        serde_json::from_str(PREPROCESSOR_CONFIG).expect("bundled preprocessor_config.json")
    }
}

pub struct FeatureExtractor {
    pub config: PreprocessorConfig,
    /// `feature_size × (n_fft / 2 + 1)`, row-major.
    filters: Vec<f32>,
    window: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
}

impl FeatureExtractor {
    pub fn new(config: PreprocessorConfig) -> FeatureExtractor {
        let bins = config.n_fft / 2 + 1;
        let mel = mel_spec::mel::mel(
            config.sampling_rate as f64,
            config.n_fft,
            config.feature_size,
            None,
            None,
            false,
            true,
        );
        let filters: Vec<f32> = (0..config.feature_size)
            .flat_map(|m| (0..bins).map(move |b| (m, b)))
            .map(|(m, b)| mel[[m, b]] as f32)
            .collect();
        let n = config.n_fft;
        let window = (0..n)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / n as f32).cos())
            .collect();
        let fft = FftPlanner::new().plan_fft_forward(n);
        FeatureExtractor {
            config,
            filters,
            window,
            fft,
        }
    }

    /// Features of up to 30 s of samples (mono, 16 kHz, −1…1), zero-padded to 30 s:
    /// `feature_size × nb_max_frames` values, row-major (one row per mel bin),
    /// clamped to 8 below their own maximum.
    pub fn log_mel(&self, samples: &[f32]) -> Vec<f32> {
        self.log_mel_clamped(samples, None)
    }

    /// The largest `log10` mel energy of `samples`, taken 30 s at a time: what the
    /// reference clamps the whole audio's features against.
    pub fn max_log_mel(&self, samples: &[f32]) -> f32 {
        let chunk = self.config.n_samples;
        samples
            .chunks(chunk)
            .map(|c| self.raw_log_mel(c).1)
            .fold(f32::NEG_INFINITY, f32::max)
    }

    /// As [`FeatureExtractor::log_mel`], but clamped to 8 below `max_log`, the whole
    /// audio's maximum (see [`FeatureExtractor::max_log_mel`]), as the reference
    /// computes features once for the whole audio and then takes 30 s windows of them.
    pub fn log_mel_clamped(&self, samples: &[f32], max_log: Option<f32>) -> Vec<f32> {
        let (mut out, own_max) = self.raw_log_mel(samples);
        let floor = max_log.unwrap_or(own_max).max(own_max) - 8.0;
        for v in &mut out {
            *v = (v.max(floor) + 4.0) / 4.0;
        }
        out
    }

    /// `log10` mel energies (unclamped) and their maximum.
    fn raw_log_mel(&self, samples: &[f32]) -> (Vec<f32>, f32) {
        let c = &self.config;
        let (n_fft, hop, frames, mels) = (c.n_fft, c.hop_length, c.nb_max_frames, c.feature_size);
        let bins = n_fft / 2 + 1;
        let mut audio = vec![0f32; c.n_samples];
        let take = samples.len().min(c.n_samples);
        audio[..take].copy_from_slice(&samples[..take]);
        // Reflect padding of n_fft / 2 on both sides (torch.stft center=True).
        let pad = n_fft / 2;
        let len = audio.len();
        let at = |i: isize| -> f32 {
            let j = if i < 0 {
                -i
            } else if i as usize >= len {
                2 * (len as isize - 1) - i
            } else {
                i
            };
            audio[j as usize]
        };
        let mut out = vec![0f32; mels * frames];
        let mut buf = vec![Complex::new(0f32, 0f32); n_fft];
        let mut power = vec![0f32; bins];
        let mut max_log = f32::NEG_INFINITY;
        for f in 0..frames {
            let start = (f * hop) as isize - pad as isize;
            for (k, slot) in buf.iter_mut().enumerate() {
                *slot = Complex::new(at(start + k as isize) * self.window[k], 0.0);
            }
            self.fft.process(&mut buf);
            for (b, p) in power.iter_mut().enumerate() {
                *p = buf[b].norm_sqr();
            }
            for m in 0..mels {
                let row = &self.filters[m * bins..(m + 1) * bins];
                let energy: f32 = row.iter().zip(&power).map(|(w, p)| w * p).sum();
                let log = energy.max(1e-10).log10();
                max_log = max_log.max(log);
                out[m * frames + f] = log;
            }
        }
        (out, max_log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_config_is_whispers_standard() {
        let c = PreprocessorConfig::standard();
        assert_eq!(
            (
                c.feature_size,
                c.n_fft,
                c.hop_length,
                c.sampling_rate,
                c.nb_max_frames
            ),
            (80, 400, 160, 16000, 3000)
        );
        assert_eq!(c.n_samples, 30 * c.sampling_rate);
    }

    #[test]
    fn a_tone_lights_its_mel_band_and_silence_is_the_floor() {
        let fx = FeatureExtractor::new(PreprocessorConfig::standard());
        let tone: Vec<f32> = (0..16000)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16000.0).sin())
            .collect();
        let feats = fx.log_mel(&tone);
        assert_eq!(feats.len(), 80 * 3000);
        let frame = 50; // inside the tone
        let column: Vec<f32> = (0..80).map(|m| feats[m * 3000 + frame]).collect();
        let loudest = column
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        // 1 kHz sits around mel bin 27 of 80 on the Slaney scale up to 8 kHz.
        assert!((22..=32).contains(&loudest), "loudest bin {loudest}");
        let max = feats.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let late = feats[10 * 3000 + 2500]; // silence after the tone: clamped to max − 8
        assert!((late - (max - 2.0)).abs() < 1e-4, "{late} vs {max}");
    }
}
