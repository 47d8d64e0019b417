//! What a window's generated tokens mean, and which windows are decoded together: pure
//! functions of tokens and sample spans, for [`crate::decode`].

use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::Compression;

use crate::vad::Span;

/// A window the model ended this many seconds early, with speech left, is decoded
/// again from where it stopped.
pub const RESEEK_MIN_S: f64 = 1.0;

/// Audio shorter than twice this, seconds, is decoded as one run (see
/// [`crate::WhisperModel::transcribe`]): a run starts without the previous text as prompt,
/// so short clips keep it throughout.
pub const MIN_RUN_S: f64 = 60.0;

/// The seconds of a timestamp token (`<|1.40|>`).
pub(crate) fn timestamp_of(token: &str) -> Option<f64> {
    token.strip_prefix("<|")?.strip_suffix("|>")?.parse().ok()
}

/// A special token (`<|…|>`): a timestamp, a prompt marker or end of text.
pub(crate) fn is_special(token: &str) -> bool {
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

/// `windows` cut into at most `parts` runs of consecutive windows with about the same
/// audio in each, and at least `min_len` samples of windows a run (but for the last),
/// to decode at once on the model's replicas.
pub(crate) fn split_parts(windows: &[Span], parts: usize, min_len: usize) -> Vec<Vec<Span>> {
    let total: usize = windows.iter().map(|w| w.len()).sum();
    let parts = parts.min(total / min_len.max(1)).max(1);
    let share = total.div_ceil(parts).max(1);
    let mut out: Vec<Vec<Span>> = vec![Vec::new()];
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
pub(crate) fn rest_to_decode_again(
    tokens: &[String],
    segments: &mut Vec<(f64, f64, Vec<String>)>,
    window: Span,
    speech: &[Span],
    rate: f64,
) -> Option<Span> {
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
    let rest = Span {
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
    use crate::test_tokens as toks;

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
