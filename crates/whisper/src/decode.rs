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

use std::io::Write;
use std::path::Path;

use ct2rs::sys::{ComputeType, Config, Device, StorageView, Whisper, WhisperOptions};
use ct2rs::tokenizers::hf::Tokenizer as HfTokenizer;
use ct2rs::Tokenizer;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use crate::align::{align_words, AlignedWord, MEDIAN_FILTER_WIDTH};
use crate::features::{FeatureExtractor, PreprocessorConfig};

/// A window the model ended this many seconds early, with speech left, is decoded
/// again from where it stopped.
pub const RESEEK_MIN_S: f64 = 1.0;

/// Audio shorter than twice this, seconds, is decoded as one run (see
/// [`WhisperModel::transcribe`]): a run starts without the previous text as prompt,
/// so short clips keep it throughout.
pub const MIN_RUN_S: f64 = 60.0;
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
    whisper: Whisper,
    /// Model replicas of one thread each: parts of the audio decoded at once.
    replicas: usize,
    tokenizer: HfTokenizer,
    pub features: FeatureExtractor,
    multilingual: bool,
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

fn timestamp_of(token: &str) -> Option<f64> {
    token.strip_prefix("<|")?.strip_suffix("|>")?.parse().ok()
}

fn is_special(token: &str) -> bool {
    token.starts_with("<|") && token.ends_with("|>")
}

/// zlib compression ratio of the text's bytes, as the reference decoder measures it.
pub fn compression_ratio(text: &str) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    let compressed = encoder
        .write_all(text.as_bytes())
        .and_then(|_| encoder.finish())
        .map(|v| v.len())
        .unwrap_or(1);
    text.len() as f64 / compressed.max(1) as f64
}

/// Segments from generated tokens: text between timestamp tokens, times relative to
/// the window. Text after the last timestamp ends at `window_s`.
pub fn segments_from_tokens(tokens: &[String], window_s: f64) -> Vec<(f64, f64, Vec<String>)> {
    let mut out = Vec::new();
    let mut start: Option<f64> = None;
    let mut text: Vec<String> = Vec::new();
    for token in tokens {
        if let Some(t) = timestamp_of(token) {
            if !text.is_empty() {
                out.push((start.unwrap_or(0.0), t, std::mem::take(&mut text)));
            }
            start = Some(t);
        } else if !is_special(token) {
            text.push(token.clone());
        }
    }
    if !text.is_empty() {
        out.push((start.unwrap_or(0.0), window_s, text));
    }
    out
}

/// The decoder prompt: `<|startofprev|>` and the last 223 tokens of the previous
/// window's text (when there are any), then `<|startoftranscript|>`. An English-only
/// model (`*.en`) takes nothing more: it was trained without language and task tokens
/// (OpenAI `whisper/tokenizer.py`: `sot_sequence` is `[sot]` for English-only
/// models); a multilingual one gets `<|en|><|transcribe|>`. No `<|notimestamps|>`:
/// timestamps are wanted.
pub fn prompt_tokens(previous: &[String], multilingual: bool) -> Vec<String> {
    let mut prompt = Vec::new();
    if !previous.is_empty() {
        prompt.push("<|startofprev|>".to_string());
        let keep = previous.len().saturating_sub(223);
        prompt.extend(previous[keep..].iter().cloned());
    }
    prompt.push("<|startoftranscript|>".to_string());
    if multilingual {
        prompt.push("<|en|>".to_string());
        prompt.push("<|transcribe|>".to_string());
    }
    prompt
}

impl WhisperModel {
    /// Loads a CTranslate2 Whisper model folder on the CPU as `threads` replicas of one
    /// thread each (at most [`MAX_REPLICAS`]), with int8 weights (`int8` here; `float32` where the CPU lacks int8
    /// kernels).
    ///
    /// Replicas of one thread rather than one replica of `threads`: CTranslate2's int8
    /// GEMMs run on ruy here, whose worker threads spin-wait 2 ms for the next task
    /// after each one (ruy `thread_pool.h`, `spin_duration_`). On
    /// `scripts/bench-speech.sh` that spinning was a fifth of all cycles (`perf`), so
    /// two threads cost 1.4× the CPU of one for 0.8× the wall time. Two replicas
    /// decoding two halves of the audio at once cost the CPU of one thread and
    /// finish in about half its time.
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

    /// The words of each of a window's segments, timed by aligning all their text
    /// tokens at once against the window's encoder output (`samples` long); times in
    /// seconds from the window's start. A window that cannot be aligned (a model
    /// without `alignment_heads` in its `config.json`, say) gives no words, with a
    /// warning: its segments' words are then timed by length.
    fn align_segments(
        &self,
        encoded: &StorageView,
        segments: &[(f64, f64, Vec<String>)],
        samples: usize,
    ) -> Vec<Vec<Word>> {
        let mut per_segment: Vec<Vec<Word>> = vec![Vec::new(); segments.len()];
        let tokens: Vec<String> = segments.iter().flat_map(|s| s.2.iter().cloned()).collect();
        if tokens.is_empty() {
            return per_segment;
        }
        let aligned = match self.align_tokens(encoded, &tokens, samples) {
            Ok(words) => words,
            Err(e) => {
                tracing::warn!("word times by length: {e}");
                return per_segment;
            }
        };
        let mut first_token = Vec::with_capacity(segments.len());
        let mut next = 0;
        for s in segments {
            first_token.push(next);
            next += s.2.len();
        }
        for w in aligned {
            let segment = first_token.partition_point(|&t| t <= w.tokens.start) - 1;
            let text = self
                .tokenizer
                .decode(tokens[w.tokens.clone()].to_vec())
                .map(|t| t.trim().to_string())
                .unwrap_or_default();
            if !text.is_empty() {
                per_segment[segment].push(Word {
                    text,
                    start_s: w.start_s,
                    end_s: w.end_s,
                    probability: w.probability,
                });
            }
        }
        per_segment
    }

    fn align_tokens(
        &self,
        encoded: &StorageView,
        tokens: &[String],
        samples: usize,
    ) -> Result<Vec<AlignedWord>, WhisperError> {
        let id = |t: &str| {
            self.tokenizer
                .token_to_id(t)
                .map(|i| i as usize)
                .ok_or_else(|| {
                    WhisperError::Decode(format!("token {t:?} is not in tokenizer.json"))
                })
        };
        let ids = tokens
            .iter()
            .map(|t| id(t))
            .collect::<Result<Vec<_>, _>>()?;
        let start = prompt_tokens(&[], self.multilingual)
            .iter()
            .map(|t| id(t))
            .collect::<Result<Vec<_>, _>>()?;
        let frames =
            (samples / self.features.config.hop_length).min(self.features.config.nb_max_frames);
        let result = self
            .whisper
            .align(encoded, &start, &[ids], &[frames], MEDIAN_FILTER_WIDTH)
            .map_err(|e| WhisperError::Decode(format!("alignment: {e}")))?
            .into_iter()
            .next()
            .ok_or_else(|| WhisperError::Decode("alignment: no result".into()))?;
        let path: Vec<(i64, i64)> = result
            .alignments
            .iter()
            .map(|a| (a.token_x, a.frame_x))
            .collect();
        Ok(align_words(tokens, &path, &result.text_token_probs))
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

/// `windows` cut into at most `parts` runs of consecutive windows with about the same
/// audio in each, and at least `min_len` samples of windows a run (but for the last),
/// to decode at once on the model's replicas.
fn split_parts(
    windows: &[crate::vad::Span],
    parts: usize,
    min_len: usize,
) -> Vec<Vec<crate::vad::Span>> {
    let total: usize = windows.iter().map(|w| w.len()).sum();
    let parts = parts.min(total / min_len.max(1)).max(1);
    let share = total.div_ceil(parts.max(1)).max(1);
    let mut out: Vec<Vec<crate::vad::Span>> = vec![Vec::new()];
    let mut filled = 0;
    for w in windows {
        if filled >= share * out.len() && out.len() < parts {
            out.push(Vec::new());
        }
        filled += w.len();
        if let Some(p) = out.last_mut() {
            p.push(*w);
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// Where the model stopped early in `window` (its last segment ends well before the
/// window does, and speech is left after it): the rest of the window, to decode again
/// from there as the reference decoder's "seek" does. A trailing segment without a
/// closing timestamp is dropped from `segments` and left to that second pass.
fn rest_to_decode_again(
    tokens: &[String],
    segments: &mut Vec<(f64, f64, Vec<String>)>,
    window: crate::vad::Span,
    speech: &[crate::vad::Span],
    rate: f64,
) -> Option<crate::vad::Span> {
    let window_s = window.len() as f64 / rate;
    let closed = tokens
        .iter()
        .rev()
        .find(|t| !is_special(t) || timestamp_of(t).is_some())
        .is_some_and(|t| timestamp_of(t).is_some());
    let resume_s = match (closed, segments.last()) {
        (true, Some(last)) => last.1,
        (false, Some(last)) => last.0,
        (_, None) => 0.0,
    };
    let rest = crate::vad::Span {
        start: window.start + (resume_s * rate) as usize,
        end: window.end,
    };
    let speech_left = speech
        .iter()
        .any(|r| r.start.max(rest.start) + (0.5 * rate) as usize <= r.end.min(rest.end));
    if !(resume_s > 0.5 && window_s - resume_s > RESEEK_MIN_S && speech_left) {
        return None;
    }
    if !closed {
        segments.pop();
    }
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &[&str]) -> Vec<String> {
        s.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn segments_follow_timestamp_tokens() {
        let tokens = toks(&[
            "<|0.00|>", "ĠHello", "Ġthere", ".", "<|1.40|>", "<|1.60|>", "ĠBye", "<|2.00|>",
            "ĠAnd", "Ġmore",
        ]);
        let segs = segments_from_tokens(&tokens, 3.0);
        assert_eq!(segs.len(), 3);
        assert_eq!((segs[0].0, segs[0].1, segs[0].2.len()), (0.0, 1.4, 3));
        assert_eq!((segs[1].0, segs[1].1), (1.6, 2.0));
        assert_eq!((segs[2].0, segs[2].1), (2.0, 3.0));
        assert!(segments_from_tokens(&toks(&["<|0.00|>", "<|endoftext|>"]), 3.0).is_empty());
    }

    #[test]
    fn windows_split_into_runs_of_about_equal_audio() {
        let span = |start: usize, end: usize| crate::vad::Span { start, end };
        let windows = [
            span(0, 10),
            span(10, 30),
            span(30, 40),
            span(40, 45),
            span(45, 60),
        ];
        let parts = split_parts(&windows, 2, 20);
        assert_eq!(parts, vec![windows[..2].to_vec(), windows[2..].to_vec()]);
        assert_eq!(split_parts(&windows, 1, 20), vec![windows.to_vec()]);
        // No run shorter than the minimum: 60 samples make two runs of 30, not three.
        assert_eq!(split_parts(&windows, 3, 30).len(), 2);
        assert_eq!(split_parts(&windows, 2, 61), vec![windows.to_vec()]);
        // Never more runs than windows, none empty.
        assert_eq!(
            split_parts(&windows[..1], 4, 1),
            vec![windows[..1].to_vec()]
        );
        assert!(split_parts(&[], 2, 1).is_empty());
    }

    #[test]
    fn english_only_prompts_have_no_language_or_task_token() {
        assert_eq!(prompt_tokens(&[], false), toks(&["<|startoftranscript|>"]));
        assert_eq!(
            prompt_tokens(&toks(&["ĠHi"]), false),
            toks(&["<|startofprev|>", "ĠHi", "<|startoftranscript|>"])
        );
        assert_eq!(
            prompt_tokens(&[], true),
            toks(&["<|startoftranscript|>", "<|en|>", "<|transcribe|>"])
        );
        let long: Vec<String> = (0..300).map(|i| format!("t{i}")).collect();
        let p = prompt_tokens(&long, false);
        assert_eq!(
            (p.len(), p[1].as_str()),
            (225, "t77"),
            "the last 223 tokens"
        );
    }

    #[test]
    fn repetition_loops_compress_well() {
        let normal =
            "Good metrics tell a team where it stands, and wrong metrics tell a comfortable story.";
        let looping = "the conference will begin when ".repeat(12);
        assert!(
            compression_ratio(normal) < 2.4,
            "{}",
            compression_ratio(normal)
        );
        assert!(
            compression_ratio(&looping) > 2.4,
            "{}",
            compression_ratio(&looping)
        );
    }
}
