//! Decoding 30-second windows with Whisper through CTranslate2 (`ct2rs::sys::Whisper`),
//! with the safeguards of OpenAI's reference decoder (`whisper/transcribe.py`) that
//! `../shared/asr.md` found necessary:
//! - the prompt of an English-only model (`*.en`) is `<|startoftranscript|>` alone: no
//!   language or task token (multilingual models get `<|en|><|transcribe|>`);
//! - timestamp tokens are on, and give each segment's times;
//! - each window is conditioned on the text of the one before (`<|startofprev|>`, at
//!   most 223 tokens), unless that one needed a high temperature;
//! - a window whose text compresses too well (zlib ratio > 2.4: a repetition loop) or
//!   whose average log-probability is below −1.0 is decoded again at the next
//!   temperature of 0.2, 0.4 … 1.0 (sampling instead of beam search);
//! - a window whose no-speech probability is above 0.6 with an average log-probability
//!   below −1.0 is silence, and gives no text.
//!
//! Each window is encoded once (`Whisper::encode`); every temperature's decoding reads
//! that output, and so does the alignment that times the words of the segments kept
//! (`Whisper::align`, then [`crate::align`]).

use std::path::Path;

use ct2rs::sys::{ComputeType, Config, Device, StorageView, Whisper, WhisperOptions};
use ct2rs::tokenizers::hf::Tokenizer as HfTokenizer;
use ct2rs::Tokenizer;

use crate::features::{FeatureExtractor, PreprocessorConfig};
use crate::windows::{
    compression_ratio, is_special, prompt_tokens, rest_to_decode_again, segments_from_tokens,
    split_parts,
};
pub use crate::windows::{MIN_RUN_S, RESEEK_MIN_S};

/// At most this many replicas (see [`WhisperModel::load`]): beyond it, the runs get
/// short and each replica's working memory adds up (the second one raised peak memory
/// from 271 MB to 437 MB on `scripts/bench-speech.sh`).
pub const MAX_REPLICAS: usize = 4;

/// Thresholds and search settings; defaults are the reference decoder's.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    pub beam_size: usize,
    pub temperatures: Vec<f32>,
    pub compression_ratio_threshold: f64,
    pub log_prob_threshold: f64,
    pub no_speech_threshold: f32,
    pub condition_on_previous_text: bool,
    /// Temperatures above this reset the conditioning (reference: 0.5).
    pub prompt_reset_on_temperature: f32,
    /// Longest window, seconds (at most Whisper's 30). 24 by default: on the two
    /// narrated samples of `scripts/bench-speech.sh`, windows of 15, 24 and 30 s gave
    /// 7.7 %, 6.3 % and 7.1 % mean word error rate with tiny.en (int8); the model
    /// drops words near the end of long windows.
    pub max_window_s: f64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            beam_size: 5,
            temperatures: vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            compression_ratio_threshold: 2.4,
            log_prob_threshold: -1.0,
            no_speech_threshold: 0.6,
            condition_on_previous_text: true,
            prompt_reset_on_temperature: 0.5,
            max_window_s: 24.0,
        }
    }
}

/// A word of a segment with its time from the cross-attention alignment
/// ([`crate::align`]), seconds from the start of the audio, and the mean probability
/// of its tokens (0–1). Its text carries the punctuation that goes with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    pub start_s: f64,
    pub end_s: f64,
    pub probability: f64,
}

/// A decoded segment, seconds from the start of the audio.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedSegment {
    pub start_s: f64,
    pub end_s: f64,
    pub text: String,
    /// Its words in order, timed by alignment; empty when the window could not be
    /// aligned (the words' times are then shared out by length).
    pub words: Vec<Word>,
    /// Of the window it came from.
    pub avg_logprob: f64,
    pub temperature: f32,
    /// Every temperature failed the checks (a loop or low log-probability): the text
    /// is the best attempt, and not to be trusted.
    pub unreliable: bool,
}

/// What went wrong loading or running the model.
#[derive(Debug, thiserror::Error)]
pub enum WhisperError {
    #[error("Whisper model at {path}: {reason}")]
    Model { path: String, reason: String },
    #[error("Whisper decoding failed: {0}")]
    Decode(String),
}

/// The files a CTranslate2 Whisper model folder must hold.
pub const MODEL_FILES: &[&str] = &["model.bin", "config.json", "tokenizer.json"];

pub struct WhisperModel {
    pub(crate) whisper: Whisper,
    /// Model replicas of one thread each: parts of the audio decoded at once.
    replicas: usize,
    pub(crate) tokenizer: HfTokenizer,
    pub features: FeatureExtractor,
    pub(crate) multilingual: bool,
    pub compute_type: String,
}

/// One decoding of one window.
struct Attempt {
    text_tokens: Vec<String>,
    tokens: Vec<String>,
    avg_logprob: f64,
    no_speech_prob: f32,
    compression_ratio: f64,
    temperature: f32,
}

impl WhisperModel {
    /// Loads a CTranslate2 Whisper model folder on the CPU as `threads` replicas of one
    /// thread each (at most [`MAX_REPLICAS`]), with int8 weights (`int8` here; `float32` where the CPU lacks int8
    /// kernels).
    ///
    /// CTranslate2 multiplies int8 matrices with oneMKL on Intel CPUs (as
    /// faster-whisper's wheel does; built in by the Makefile's `mkl`) and with ruy
    /// elsewhere (`src/cpu/backend.cc`: MKL only on a `GenuineIntel` CPU unless
    /// `CT2_USE_MKL` says otherwise). Call [`crate::set_ctranslate2_defaults`] first.
    ///
    /// Replicas of one thread rather than one replica of `threads`: this build's MKL
    /// is sequential (CTranslate2 without OpenMP), so a replica's own threads would not
    /// help it; and ruy's worker threads spin-wait 2 ms for the next task after each
    /// one (ruy `thread_pool.h`, `spin_duration_`), a fifth of all cycles on
    /// `scripts/bench-speech.sh` (`perf`), so two threads cost 1.4× the CPU of one for
    /// 0.8× the wall time. Two replicas decoding two halves of the audio at once cost
    /// the CPU of one thread and finish in about half its time.
    ///
    /// # Errors
    /// [`WhisperError::Model`] naming the folder when a file is missing or CTranslate2
    /// cannot load it.
    pub fn load(
        dir: &Path,
        threads: usize,
        compute: ComputeType,
    ) -> Result<WhisperModel, WhisperError> {
        let err = |reason: String| WhisperError::Model {
            path: dir.display().to_string(),
            reason,
        };
        if let Some(missing) = MODEL_FILES.iter().find(|f| !dir.join(f).is_file()) {
            return Err(err(format!("{missing} is missing")));
        }
        if let Some((name, value)) = crate::CTRANSLATE2_DEFAULTS
            .iter()
            .find(|(name, _)| std::env::var_os(name).is_none())
        {
            tracing::warn!(
                "{name} is not set: set it to {value}, or call set_ctranslate2_defaults at the start of main (decoding may be far slower)"
            );
        }
        let make = |compute_type| {
            let config = Config {
                device: Device::CPU,
                compute_type,
                num_threads_per_replica: 1,
                device_indices: vec![0; threads.clamp(1, MAX_REPLICAS)],
                ..Config::default()
            };
            Whisper::new(dir, config)
        };
        let (whisper, compute_type) = match make(compute) {
            Ok(w) => (w, format!("{compute:?}")),
            Err(first) => match make(ComputeType::FLOAT32) {
                Ok(w) => (w, "FLOAT32".to_string()),
                Err(_) => return Err(err(format!("CTranslate2 cannot load it: {first}"))),
            },
        };
        let tokenizer = HfTokenizer::new(dir).map_err(|e| err(format!("tokenizer.json: {e}")))?;
        let multilingual = whisper.is_multilingual();
        Ok(WhisperModel {
            whisper,
            replicas: threads.clamp(1, MAX_REPLICAS),
            tokenizer,
            features: FeatureExtractor::new(PreprocessorConfig::standard()),
            multilingual,
            compute_type,
        })
    }

    /// The encoder's output for one window of features (`feature_size ×
    /// nb_max_frames`): computed once, then read by every temperature's decoding and
    /// by the alignment.
    fn encode(&self, features: &mut [f32]) -> Result<StorageView<'static>, WhisperError> {
        let c = &self.features.config;
        let shape = [1, c.feature_size, c.nb_max_frames];
        let view = StorageView::new(&shape, features, Device::CPU)
            .map_err(|e| WhisperError::Decode(e.to_string()))?;
        self.whisper
            .encode(&view, false)
            .map_err(|e| WhisperError::Decode(e.to_string()))
    }

    fn decode_once(
        &self,
        encoded: &StorageView,
        prompt: &[String],
        temperature: f32,
        opts: &DecodeOptions,
    ) -> Result<Attempt, WhisperError> {
        let options = WhisperOptions {
            beam_size: if temperature > 0.0 { 1 } else { opts.beam_size },
            sampling_topk: if temperature > 0.0 { 0 } else { 1 },
            sampling_temperature: temperature.max(1e-3),
            return_scores: true,
            return_no_speech_prob: true,
            ..WhisperOptions::default()
        };
        let result = self
            .whisper
            .generate(encoded, &[prompt.to_vec()], &options)
            .map_err(|e| WhisperError::Decode(e.to_string()))?
            .into_iter()
            .next()
            .ok_or_else(|| WhisperError::Decode("no result".into()))?;
        let tokens = result.sequences.into_iter().next().unwrap_or_default();
        let text_tokens: Vec<String> = tokens.iter().filter(|t| !is_special(t)).cloned().collect();
        let text = self
            .tokenizer
            .decode(text_tokens.clone())
            .map_err(|e| WhisperError::Decode(e.to_string()))?;
        let len = tokens.len() as f64;
        // CTranslate2's score is the sum of log-probabilities divided by
        // length^length_penalty (1 here); the reference averages over length + 1.
        let avg_logprob = result
            .scores
            .first()
            .map_or(f64::NEG_INFINITY, |s| *s as f64 * len / (len + 1.0));
        Ok(Attempt {
            compression_ratio: compression_ratio(text.trim()),
            text_tokens,
            tokens,
            avg_logprob,
            no_speech_prob: result.no_speech_prob,
            temperature,
        })
    }

    /// Decodes consecutive windows of `samples` (mono, 16 kHz), each given as its span
    /// of samples; returns segments in seconds from the start of `samples`.
    ///
    /// The windows are cut into as many runs as the model has replicas, with about the
    /// same audio in each (windows end at pauses, so runs do too); the runs are decoded
    /// at once, each window conditioned on the one before it in its run.
    ///
    /// When the model ends a window early (its last complete segment ends more than
    /// [`RESEEK_MIN_S`] before the window does) and `speech` has speech after that
    /// point, the rest of the window is decoded again from there, as the reference
    /// decoder's "seek" does; a trailing segment without a closing timestamp is then
    /// left to that second pass.
    pub fn transcribe(
        &self,
        samples: &[f32],
        windows: &[crate::vad::Span],
        speech: &[crate::vad::Span],
        opts: &DecodeOptions,
    ) -> Result<Vec<DecodedSegment>, WhisperError> {
        let max_log = self.features.max_log_mel(samples);
        let min_len = (MIN_RUN_S * self.features.config.sampling_rate as f64) as usize;
        let parts = split_parts(windows, self.replicas, min_len);
        let results: Vec<Result<Vec<DecodedSegment>, WhisperError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = parts
                .iter()
                .map(|part| {
                    scope.spawn(move || self.transcribe_part(samples, part, speech, opts, max_log))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(WhisperError::Decode("a decoding thread panicked".into()))
                    })
                })
                .collect()
        });
        let mut out = Vec::new();
        for r in results {
            out.extend(r?);
        }
        Ok(out)
    }

    /// Decodes consecutive windows in order, each conditioned on the one before.
    fn transcribe_part(
        &self,
        samples: &[f32],
        windows: &[crate::vad::Span],
        speech: &[crate::vad::Span],
        opts: &DecodeOptions,
        max_log: f32,
    ) -> Result<Vec<DecodedSegment>, WhisperError> {
        let rate = self.features.config.sampling_rate as f64;
        let mut previous: Vec<String> = Vec::new();
        let mut out = Vec::new();
        let mut queue: std::collections::VecDeque<crate::vad::Span> =
            windows.iter().copied().collect();
        while let Some(window) = queue.pop_front() {
            let offset_s = window.start as f64 / rate;
            let window_s = window.len() as f64 / rate;
            let mut features = self
                .features
                .log_mel_clamped(&samples[window.start..window.end], Some(max_log));
            let encoded = self.encode(&mut features)?;
            let prompt = if opts.condition_on_previous_text {
                prompt_tokens(&previous, self.multilingual)
            } else {
                prompt_tokens(&[], self.multilingual)
            };
            let Some((best, passed)) = self.decode_with_fallback(&encoded, &prompt, opts)? else {
                continue;
            };
            if best.no_speech_prob > opts.no_speech_threshold
                && best.avg_logprob < opts.log_prob_threshold
            {
                previous.clear();
                continue;
            }
            let mut segments = segments_from_tokens(&best.tokens, window_s);
            if let Some(rest) =
                rest_to_decode_again(&best.tokens, &mut segments, window, speech, rate)
            {
                queue.push_front(rest);
            }
            let words = self.align_segments(&encoded, &segments, window.len());
            for ((start, end, tokens), words) in segments.into_iter().zip(words) {
                let text = self
                    .tokenizer
                    .decode(tokens)
                    .map_err(|e| WhisperError::Decode(e.to_string()))?;
                let text = text.trim().to_string();
                if text.is_empty() {
                    continue;
                }
                let end = end.min(window_s).max(start);
                out.push(DecodedSegment {
                    start_s: offset_s + start,
                    end_s: offset_s + end,
                    text,
                    words: words
                        .into_iter()
                        .map(|w| Word {
                            start_s: offset_s + w.start_s,
                            end_s: offset_s + w.end_s,
                            ..w
                        })
                        .collect(),
                    avg_logprob: best.avg_logprob,
                    temperature: best.temperature,
                    unreliable: !passed,
                });
            }
            if best.temperature > opts.prompt_reset_on_temperature {
                previous.clear();
            } else {
                previous.extend(best.text_tokens);
            }
        }
        Ok(out)
    }

    /// Decodes one window at each temperature in turn until an attempt neither loops
    /// nor is unsure (or is silence): that attempt and `true`. When every temperature
    /// fails, as faster-whisper does: the best average log-probability among attempts
    /// that do not loop, else among all, and `false`.
    fn decode_with_fallback(
        &self,
        encoded: &StorageView,
        prompt: &[String],
        opts: &DecodeOptions,
    ) -> Result<Option<(Attempt, bool)>, WhisperError> {
        let mut attempts: Vec<Attempt> = Vec::new();
        for &temperature in &opts.temperatures {
            let attempt = self.decode_once(encoded, prompt, temperature, opts)?;
            let looping = attempt.compression_ratio > opts.compression_ratio_threshold;
            let unsure = attempt.avg_logprob < opts.log_prob_threshold;
            let silent = attempt.no_speech_prob > opts.no_speech_threshold && unsure;
            if silent || (!looping && !unsure) {
                return Ok(Some((attempt, true)));
            }
            attempts.push(attempt);
        }
        let not_looping = |a: &Attempt| a.compression_ratio <= opts.compression_ratio_threshold;
        let pool: Vec<Attempt> = if attempts.iter().any(not_looping) {
            attempts.into_iter().filter(not_looping).collect()
        } else {
            attempts
        };
        Ok(pool
            .into_iter()
            .max_by(|a, b| a.avg_logprob.total_cmp(&b.avg_logprob))
            .map(|best| (best, false)))
    }
}
