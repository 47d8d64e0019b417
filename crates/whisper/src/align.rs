//! Word times from the model's cross-attention.
//!
//! CTranslate2's `Whisper::align` runs the decoder once over the window's text tokens,
//! takes the cross-attention weights of the model's alignment heads (listed in the
//! model's `config.json`), normalises them, smooths them with a median filter (width
//! [`MEDIAN_FILTER_WIDTH`]) and finds the monotonic path through them with dynamic
//! time warping: one `(token row, encoder frame)` pair per step. These functions turn
//! that path into words, as OpenAI's reference implementation
//! (`whisper/timing.py`: `find_alignment`, `merge_punctuations`) describes the steps:
//! - rows are the text tokens and the end-of-text token; a row's time is the frame
//!   where the path first reaches it ("jumps"), at [`FRAMES_PER_S`] encoder frames a
//!   second;
//! - tokens are grouped into words at spaces (byte-level BPE marks a leading space with
//!   `Ġ`) and at punctuation; a word starts at its first token's time and ends at the
//!   next word's;
//! - opening punctuation after a space joins the word after it, other punctuation the
//!   word before it;
//! - a word longer than [`MAX_WORD_S`] is cut to that length: the path lingers on a
//!   row through a pause, and every path starts at frame 0, so the window's first word
//!   keeps its end (it starts [`MAX_WORD_S`] before it) and any other word keeps its
//!   start.

use std::ops::Range;

use ct2rs::sys::StorageView;
use ct2rs::Tokenizer;

use crate::decode::{WhisperError, WhisperModel, Word};
use crate::windows::prompt_tokens;

/// Encoder frames a second: Whisper's mel frames are 10 ms apart (hop 160 at 16 kHz)
/// and its second convolution has stride 2 (OpenAI `whisper/audio.py`,
/// `TOKENS_PER_SECOND`).
pub const FRAMES_PER_S: f64 = 50.0;
/// The median filter over the attention weights, frames (the reference's default).
pub const MEDIAN_FILTER_WIDTH: i64 = 7;
/// No word is spoken longer than this, seconds (the reference clips words at twice the
/// median word length, at most 0.7 s × 2).
pub const MAX_WORD_S: f64 = 1.4;

/// Punctuation that belongs to the word after it, when a space comes before it.
const OPENING: &[&str] = &["\"", "'", "“", "¿", "(", "[", "{", "-"];
/// Punctuation that belongs to the word before it.
const CLOSING: &[&str] = &[
    "\"", "'", ".", "。", ",", "，", "!", "！", "?", "？", ":", "：", "”", ")", "]", "}", "、",
    ";", "…",
];

/// One aligned word: seconds from the start of the window, and the mean probability of
/// its tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct AlignedWord {
    /// The token indices it spans in the aligned text.
    pub tokens: Range<usize>,
    pub start_s: f64,
    pub end_s: f64,
    pub probability: f64,
}

/// The byte-level BPE marker of a leading space.
fn leading_space(token: &str) -> bool {
    token.starts_with('Ġ') || token.starts_with(' ')
}

fn bare(token: &str) -> &str {
    token.trim_start_matches(['Ġ', ' '])
}

fn is_punctuation(token: &str) -> bool {
    let b = bare(token);
    !b.is_empty()
        && b.chars()
            .all(|c| c.is_ascii_punctuation() || "“”¿。，！？：、…".contains(c))
}

/// Groups text tokens into words: a token with a leading space, or one of punctuation,
/// starts a new group; then punctuation groups join their neighbours (see the module
/// doc). Returns each word's token range.
pub fn word_ranges(tokens: &[String]) -> Vec<Range<usize>> {
    let mut groups: Vec<Range<usize>> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let starts = groups.is_empty()
            || leading_space(token)
            || is_punctuation(token)
            || groups
                .last()
                .is_some_and(|g| is_punctuation(&tokens[g.start]) && g.len() == 1);
        if starts {
            groups.push(i..i + 1);
        } else if let Some(last) = groups.last_mut() {
            last.end = i + 1;
        }
    }
    let punct = |g: &Range<usize>| g.len() == 1 && is_punctuation(&tokens[g.start]);
    // Opening punctuation after a space: onto the next word.
    let mut i = groups.len();
    while i > 1 {
        i -= 1;
        let g = groups[i - 1].clone();
        if punct(&g) && leading_space(&tokens[g.start]) && OPENING.contains(&bare(&tokens[g.start]))
        {
            groups[i].start = g.start;
            groups.remove(i - 1);
        }
    }
    // Closing punctuation: onto the word before.
    let mut merged: Vec<Range<usize>> = Vec::new();
    for g in groups {
        match merged.last_mut() {
            Some(prev) if punct(&g) && CLOSING.contains(&bare(&tokens[g.start])) => {
                prev.end = g.end;
            }
            _ => merged.push(g),
        }
    }
    merged
}

/// The time of each row of the path (the text tokens, then end-of-text): the frame
/// where the path first reaches the row, in seconds. Rows the path never reaches take
/// the time of the row before.
///
/// `path` is the DTW path: `(row, frame)` pairs in order, rows and frames never
/// decreasing (CTranslate2's `WhisperTokenAlignment`).
pub fn row_times(path: &[(i64, i64)], rows: usize) -> Vec<f64> {
    let mut times: Vec<Option<f64>> = vec![None; rows];
    for &(row, frame) in path {
        if let Some(slot) = usize::try_from(row).ok().and_then(|r| times.get_mut(r)) {
            if slot.is_none() {
                *slot = Some(frame.max(0) as f64 / FRAMES_PER_S);
            }
        }
    }
    let mut last = 0.0;
    times
        .into_iter()
        .map(|t| {
            last = t.unwrap_or(last).max(last);
            last
        })
        .collect()
}

/// Words of `tokens` (text tokens, no timestamps) with times from the DTW `path` and
/// `token_probs` (one per token), seconds from the window's start.
pub fn align_words(
    tokens: &[String],
    path: &[(i64, i64)],
    token_probs: &[f32],
) -> Vec<AlignedWord> {
    let times = row_times(path, tokens.len() + 1);
    word_ranges(tokens)
        .into_iter()
        .enumerate()
        .map(|(i, range)| {
            let (mut start_s, mut end_s) = (times[range.start], times[range.end]);
            if end_s - start_s > MAX_WORD_S {
                if i == 0 {
                    start_s = end_s - MAX_WORD_S;
                } else {
                    end_s = start_s + MAX_WORD_S;
                }
            }
            let probs =
                &token_probs[range.start.min(token_probs.len())..range.end.min(token_probs.len())];
            let probability = if probs.is_empty() {
                0.0
            } else {
                probs.iter().map(|p| f64::from(*p)).sum::<f64>() / probs.len() as f64
            };
            AlignedWord {
                tokens: range,
                start_s,
                end_s,
                probability,
            }
        })
        .collect()
}

impl WhisperModel {
    /// The words of each of a window's segments, timed by aligning all their text
    /// tokens at once against the window's encoder output (`samples` long); times in
    /// seconds from the window's start. A window that cannot be aligned (a model
    /// without `alignment_heads` in its `config.json`, say) gives no words, with a
    /// warning: its segments' words are then timed by length.
    pub(crate) fn align_segments(
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_tokens as toks;

    #[test]
    fn tokens_group_into_words_with_punctuation_on_the_right_side() {
        let tokens = toks(&[
            "ĠHello", ",", "Ġwor", "ld", ".", "Ġ(", "see", ")", "Ġit", "'s",
        ]);
        let words = word_ranges(&tokens);
        assert_eq!(words, vec![0..2, 2..5, 5..8, 8..10]);
        // A word of one token, then sentence punctuation.
        assert_eq!(word_ranges(&toks(&["ĠYes", "?", "!"])), vec![0..3]);
        assert!(word_ranges(&[]).is_empty());
    }

    #[test]
    fn each_row_takes_the_frame_where_the_path_first_reaches_it() {
        // Rows 0..=3, frames: row 0 at 10, row 1 at 25 (after lingering), row 2 never
        // reached on its own (takes row 1's), row 3 at 40.
        let path = [(0, 10), (0, 11), (1, 25), (1, 26), (3, 40), (3, 41)];
        assert_eq!(row_times(&path, 4), vec![0.2, 0.5, 0.5, 0.8]);
    }

    #[test]
    fn words_start_at_their_first_token_and_end_where_the_next_begins() {
        let tokens = toks(&["ĠGood", "Ġmet", "rics", "."]);
        // Rows: Good, met, rics, ., end-of-text.
        let path = [(0, 5), (1, 30), (2, 40), (3, 55), (4, 60), (4, 200)];
        let words = align_words(&tokens, &path, &[0.9, 0.5, 0.7, 0.8]);
        assert_eq!(words.len(), 2);
        assert_eq!((words[0].start_s, words[0].end_s), (0.1, 0.6));
        assert_eq!((words[1].start_s, words[1].end_s), (0.6, 1.2));
        assert!((words[1].probability - (0.5 + 0.7 + 0.8) / 3.0).abs() < 1e-9);
        // Every path starts at frame 0: the first word keeps its end; a later word the
        // path lingers on before a pause keeps its start.
        let lingering = [(0, 0), (1, 100), (2, 120), (3, 300)];
        let w = align_words(&toks(&["ĠWell", "Ġthen", "Ġgo"]), &lingering, &[1.0; 3]);
        assert!((w[0].start_s - (2.0 - MAX_WORD_S)).abs() < 1e-9 && w[0].end_s == 2.0);
        assert_eq!((w[1].start_s, w[1].end_s), (2.0, 2.4));
        assert!(w[2].start_s == 2.4 && (w[2].end_s - (2.4 + MAX_WORD_S)).abs() < 1e-9);
    }
}
