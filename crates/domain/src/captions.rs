//! Caption cues from a transcript, written as SubRip (`.srt`) and WebVTT (`.vtt`).
//!
//! Limits, from common broadcast and streaming caption guidelines (e.g. the BBC
//! Subtitle Guidelines and Netflix's Timed Text Style Guide, both at most 42 characters
//! a line and two lines): at most [`MAX_LINE_CHARS`] characters a line,
//! [`MAX_LINES`] lines and [`MAX_CUE_S`] seconds a cue. A cue also ends at the end of a
//! sentence, and at a pause of [`PAUSE_S`] or more. Cues are in order, do not overlap,
//! and lie inside the audio's duration.

use crate::time::clock_with;
use crate::transcript::{ItemKind, Transcript};

pub const MAX_LINE_CHARS: usize = 42;
pub const MAX_LINES: usize = 2;
pub const MAX_CUE_S: f64 = 7.0;
pub const PAUSE_S: f64 = 1.5;

/// One caption cue: up to two lines shown from `start_s` to `end_s`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start_s: f64,
    pub end_s: f64,
    pub lines: Vec<String>,
}

/// A word with the punctuation that follows it.
struct Token {
    text: String,
    start_s: f64,
    end_s: f64,
    ends_sentence: bool,
}

fn tokens(t: &Transcript) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    for item in &t.items {
        match item.kind {
            ItemKind::Pronunciation => {
                let (Some(start_s), Some(end_s)) = (item.start_s, item.end_s) else {
                    continue;
                };
                out.push(Token {
                    text: item.content.clone(),
                    start_s,
                    end_s: end_s.max(start_s),
                    ends_sentence: false,
                });
            }
            ItemKind::Punctuation => {
                if let Some(last) = out.last_mut() {
                    last.text.push_str(&item.content);
                    last.ends_sentence |= matches!(item.content.as_str(), "." | "?" | "!");
                }
            }
        }
    }
    out
}

/// Fills lines greedily; `None` when `words` does not fit in [`MAX_LINES`] lines.
fn wrap(words: &[&str]) -> Option<Vec<String>> {
    let mut lines: Vec<String> = vec![String::new()];
    for word in words {
        let line = lines.last_mut()?;
        if line.is_empty() {
            line.push_str(word);
        } else if line.chars().count() + 1 + word.chars().count() <= MAX_LINE_CHARS {
            line.push(' ');
            line.push_str(word);
        } else {
            lines.push(word.to_string());
        }
    }
    (lines.len() <= MAX_LINES && lines.iter().all(|l| l.chars().count() <= MAX_LINE_CHARS))
        .then_some(lines)
}

/// Splits a word longer than a line into line-sized pieces (a URL, say).
fn split_long(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(MAX_LINE_CHARS)
        .map(|c| c.iter().collect())
        .collect()
}

/// Cues for a transcript of audio lasting `duration_s` seconds.
pub fn cues(transcript: &Transcript, duration_s: f64) -> Vec<Cue> {
    let mut words = Vec::new();
    for t in tokens(transcript) {
        if t.text.chars().count() <= MAX_LINE_CHARS {
            words.push(t);
            continue;
        }
        let pieces = split_long(&t.text);
        let step = (t.end_s - t.start_s) / pieces.len() as f64;
        let n = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            let start_s = t.start_s + step * i as f64;
            words.push(Token {
                text: piece,
                start_s,
                end_s: start_s + step,
                ends_sentence: t.ends_sentence && i + 1 == n,
            });
        }
    }
    let mut cues: Vec<Cue> = Vec::new();
    let mut current: Vec<&Token> = Vec::new();
    let flush = |current: &mut Vec<&Token>, cues: &mut Vec<Cue>| {
        if let (Some(first), Some(last)) = (current.first(), current.last()) {
            let texts: Vec<&str> = current.iter().map(|t| t.text.as_str()).collect();
            let lines = wrap(&texts).unwrap_or_else(|| vec![texts.join(" ")]);
            cues.push(Cue {
                start_s: first.start_s,
                end_s: last.end_s,
                lines,
            });
        }
        current.clear();
    };
    for word in &words {
        if let (Some(first), Some(last)) = (current.first(), current.last()) {
            let mut texts: Vec<&str> = current.iter().map(|t| t.text.as_str()).collect();
            texts.push(&word.text);
            let too_long = word.end_s - first.start_s > MAX_CUE_S;
            let paused = word.start_s - last.end_s >= PAUSE_S;
            if too_long || paused || last.ends_sentence || wrap(&texts).is_none() {
                flush(&mut current, &mut cues);
            }
        }
        current.push(word);
    }
    flush(&mut current, &mut cues);

    // In order, no overlap, inside the audio, at least one frame long.
    let mut previous_end = 0.0f64;
    for cue in &mut cues {
        cue.start_s = cue.start_s.max(previous_end).min(duration_s);
        cue.end_s = cue
            .end_s
            .max(cue.start_s + 0.04)
            .min(cue.start_s + MAX_CUE_S)
            .min(duration_s);
        previous_end = cue.end_s;
    }
    cues.retain(|c| c.end_s > c.start_s);
    cues
}

/// SubRip: numbered cues, `HH:MM:SS,mmm --> HH:MM:SS,mmm`.
pub fn to_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, c) in cues.iter().enumerate() {
        out += &format!(
            "{}\n{} --> {}\n{}\n\n",
            i + 1,
            clock_with(c.start_s, ','),
            clock_with(c.end_s, ','),
            c.lines.join("\n")
        );
    }
    out
}

/// WebVTT (W3C WebVTT: The Web Video Text Tracks Format): `WEBVTT` header and
/// `HH:MM:SS.mmm --> HH:MM:SS.mmm` cues.
pub fn to_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for c in cues {
        out += &format!(
            "{} --> {}\n{}\n\n",
            clock_with(c.start_s, '.'),
            clock_with(c.end_s, '.'),
            c.lines.join("\n")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spoken(text: &str, _words_per_s: f64) -> Transcript {
        crate::fakes::spoken(text, 0.5)
    }

    #[test]
    fn cues_respect_line_length_lines_and_duration_and_stay_in_order() {
        let text = "Good metrics tell a team where it stands, and wrong metrics tell a comfortable story. \
                    We will look at three examples from real projects and then take your questions about measurement. \
                    Supercalifragilisticexpialidocious-and-then-some-very-long-identifier-here is one word.";
        let t = spoken(text, 2.5);
        let duration_s = 20.0;
        let cues = cues(&t, duration_s);
        assert!(cues.len() >= 4, "{cues:?}");
        let mut previous_end = 0.0;
        for c in &cues {
            assert!(c.lines.len() <= MAX_LINES && !c.lines.is_empty(), "{c:?}");
            assert!(
                c.lines.iter().all(|l| l.chars().count() <= MAX_LINE_CHARS),
                "{c:?}"
            );
            assert!(
                c.end_s - c.start_s <= MAX_CUE_S + 1e-9 && c.end_s > c.start_s,
                "{c:?}"
            );
            assert!(
                c.start_s >= previous_end - 1e-9 && c.end_s <= duration_s,
                "{c:?}"
            );
            previous_end = c.end_s;
        }
        // A sentence end closes a cue.
        assert!(
            cues.iter()
                .any(|c| c.lines.last().unwrap().ends_with("story.")),
            "{cues:?}"
        );
        let all: String = cues
            .iter()
            .flat_map(|c| c.lines.clone())
            .collect::<Vec<_>>()
            .join(" ");
        assert!(all.contains("Good metrics tell a team"));
    }

    #[test]
    fn cues_are_clamped_to_the_audio() {
        let t = spoken("one two three four five", 1.0); // words until 2.4 s
        let cues = cues(&t, 1.5);
        assert!(
            !cues.is_empty() && cues.iter().all(|c| c.end_s <= 1.5),
            "{cues:?}"
        );
    }

    #[test]
    fn srt_and_vtt_formats() {
        let cues = vec![
            Cue {
                start_s: 1.5,
                end_s: 3.25,
                lines: vec!["Hello there,".into(), "everyone.".into()],
            },
            Cue {
                start_s: 3661.0,
                end_s: 3662.0,
                lines: vec!["Bye.".into()],
            },
        ];
        assert_eq!(to_srt(&cues), "1\n00:00:01,500 --> 00:00:03,250\nHello there,\neveryone.\n\n2\n01:01:01,000 --> 01:01:02,000\nBye.\n\n");
        assert!(to_vtt(&cues)
            .starts_with("WEBVTT\n\n00:00:01.500 --> 00:00:03.250\nHello there,\neveryone.\n\n"));
        assert_eq!(to_srt(&[]), "");
    }
}
