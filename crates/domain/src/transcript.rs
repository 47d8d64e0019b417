//! The transcript, and Amazon Transcribe's batch output document, which both
//! backends write (Amazon Transcribe itself; the local Whisper transcriber in the same
//! shape) and transcribe-store reads.
//!
//! Shape (Amazon Transcribe Developer Guide, "Example diarization output (batch)"):
//! `{"jobName", "accountId", "status", "results": {"language_code", "transcripts":
//! [{"transcript"}], "items": [{"id", "start_time", "end_time", "speaker_label",
//! "alternatives": [{"confidence", "content"}], "type": "pronunciation" |
//! "punctuation"}], "speaker_labels": {"speakers", "segments": [{"start_time",
//! "end_time", "speaker_label", "items": [...]}]}}}`. Times and confidences are
//! decimal strings; punctuation items have no times.

use serde::{Deserialize, Serialize};

use crate::error::InputError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Pronunciation,
    Punctuation,
}

/// A word or a punctuation mark. Times in seconds from the start of the audio (the
/// clip, for a video's transcript).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptItem {
    pub kind: ItemKind,
    pub content: String,
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// 0–1.
    pub confidence: f64,
    pub speaker: Option<String>,
}

impl TranscriptItem {
    /// A punctuation mark: untimed, confidence 0, as Amazon Transcribe writes them
    /// (its `items` of type `punctuation` carry no `start_time` or `end_time`).
    pub fn punctuation(mark: impl Into<String>) -> TranscriptItem {
        TranscriptItem {
            kind: ItemKind::Punctuation,
            content: mark.into(),
            start_s: None,
            end_s: None,
            confidence: 0.0,
            speaker: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub job_name: String,
    pub language_code: Option<String>,
    pub items: Vec<TranscriptItem>,
    /// The transcriber doubts its output (low mean confidence: speech in another
    /// language than the model's, heavy noise). Written as `results.vidpipe`.
    #[serde(default)]
    pub low_confidence: bool,
    /// `results.transcripts[0].transcript` of a document that has no items (the text
    /// is otherwise always made from the items).
    #[serde(default)]
    pub untimed_text: Option<String>,
}

/// Consecutive timed items of one speaker: Transcribe's `speaker_labels.segments[]`.
struct SpeakerRun {
    label: String,
    start_s: f64,
    end_s: f64,
    /// (start, end) of each item.
    items: Vec<(f64, f64)>,
}

/// A run of items ending at `.`, `?` or `!` (or the end).
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    pub text: String,
    pub start_s: f64,
    pub end_s: f64,
    /// Indices into `Transcript::items`.
    pub items: std::ops::Range<usize>,
}

// ----- the Transcribe document, as serde sees it

/// A number Transcribe writes as a string (`"4.87"`); numbers are accepted too.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Decimal {
    Text(String),
    Number(f64),
}

impl Decimal {
    fn value(&self) -> Option<f64> {
        match self {
            Decimal::Text(t) => t.trim().parse().ok(),
            Decimal::Number(n) => Some(*n),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocIn {
    job_name: Option<String>,
    status: Option<String>,
    #[serde(alias = "FailureReason", alias = "failure_reason")]
    failure_reason: Option<String>,
    results: Option<ResultsIn>,
}

#[derive(Debug, Deserialize)]
struct ResultsIn {
    #[serde(default)]
    transcripts: Vec<TextIn>,
    #[serde(default)]
    items: Vec<ItemIn>,
    speaker_labels: Option<SpeakerLabelsIn>,
    language_code: Option<String>,
    vidpipe: Option<VidpipeNotes>,
}

#[derive(Debug, Deserialize)]
struct TextIn {
    transcript: String,
}

#[derive(Debug, Deserialize)]
struct ItemIn {
    start_time: Option<Decimal>,
    end_time: Option<Decimal>,
    #[serde(default)]
    alternatives: Vec<AltIn>,
    #[serde(rename = "type")]
    kind: ItemKind,
    speaker_label: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AltIn {
    confidence: Option<Decimal>,
    content: String,
}

#[derive(Debug, Deserialize)]
struct SpeakerLabelsIn {
    #[serde(default)]
    segments: Vec<SpeakerSegmentIn>,
}

#[derive(Debug, Deserialize)]
struct SpeakerSegmentIn {
    speaker_label: String,
    #[serde(default)]
    items: Vec<SpeakerItemIn>,
}

#[derive(Debug, Deserialize)]
struct SpeakerItemIn {
    start_time: Option<Decimal>,
    speaker_label: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct VidpipeNotes {
    #[serde(default)]
    low_confidence: bool,
}

/// Seconds as Transcribe writes them: a string with at most three decimals.
fn decimal(x: f64) -> String {
    let text = format!("{x:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() {
        "0".into()
    } else {
        text.to_string()
    }
}

impl Transcript {
    /// Parses Amazon Transcribe's output document (or vidpipe's own in that shape).
    /// `key` names the document in errors.
    ///
    /// # Errors
    /// [`InputError::Other`] naming `key` when the bytes are not JSON of that shape,
    /// when `status` is `FAILED` (with the document's failure reason), or when it has
    /// no `results`.
    pub fn from_transcribe_json(key: &str, bytes: &[u8]) -> Result<Transcript, InputError> {
        let bad = |reason: String| InputError::Other(format!("transcript {key}: {reason}"));
        let doc: DocIn = serde_json::from_slice(bytes)
            .map_err(|e| bad(format!("not Amazon Transcribe output JSON: {e}")))?;
        if doc
            .status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("FAILED"))
        {
            return Err(bad(format!(
                "the transcription job failed: {}",
                doc.failure_reason.as_deref().unwrap_or("no reason given")
            )));
        }
        let results = doc.results.ok_or_else(|| bad("no results".into()))?;
        // Speaker labels live on items in newer output, in speaker_labels.segments in older.
        let mut speaker_at: Vec<(f64, String)> = Vec::new();
        if let Some(labels) = &results.speaker_labels {
            for segment in &labels.segments {
                for item in &segment.items {
                    if let Some(t) = item.start_time.as_ref().and_then(Decimal::value) {
                        let label = item
                            .speaker_label
                            .clone()
                            .unwrap_or_else(|| segment.speaker_label.clone());
                        speaker_at.push((t, label));
                    }
                }
            }
        }
        let untimed_text = results
            .transcripts
            .first()
            .map(|t| t.transcript.clone())
            .filter(|t| results.items.is_empty() && !t.trim().is_empty());
        let mut items = Vec::with_capacity(results.items.len());
        for (i, item) in results.items.into_iter().enumerate() {
            let alt = item
                .alternatives
                .into_iter()
                .next()
                .ok_or_else(|| bad(format!("item {i} has no alternatives")))?;
            let start_s = item.start_time.as_ref().and_then(Decimal::value);
            let speaker = item.speaker_label.or_else(|| {
                let t = start_s?;
                speaker_at
                    .iter()
                    .find(|(s, _)| (s - t).abs() < 1e-3)
                    .map(|(_, l)| l.clone())
            });
            items.push(TranscriptItem {
                kind: item.kind,
                content: alt.content,
                start_s,
                end_s: item.end_time.as_ref().and_then(Decimal::value),
                confidence: alt
                    .confidence
                    .as_ref()
                    .and_then(Decimal::value)
                    .unwrap_or(0.0),
                speaker,
            });
        }
        Ok(Transcript {
            job_name: doc.job_name.unwrap_or_default(),
            language_code: results.language_code,
            items,
            low_confidence: results.vidpipe.is_some_and(|v| v.low_confidence),
            untimed_text,
        })
    }

    /// Writes the document in Amazon Transcribe's batch output shape, `status`
    /// `COMPLETED`. Speaker labels appear on items and in `speaker_labels` when known.
    pub fn to_transcribe_json(&self) -> Vec<u8> {
        use serde_json::{json, Value};
        let items: Vec<Value> = self
            .items
            .iter()
            .enumerate()
            .map(|(id, item)| {
                let mut v = json!({
                    "id": id,
                    "alternatives": [{"confidence": decimal(item.confidence), "content": item.content}],
                    "type": item.kind,
                });
                if let (Some(s), Some(e)) = (item.start_s, item.end_s) {
                    v["start_time"] = json!(decimal(s));
                    v["end_time"] = json!(decimal(e));
                }
                if let Some(label) = &item.speaker {
                    v["speaker_label"] = json!(label);
                }
                v
            })
            .collect();
        let mut results = json!({
            "transcripts": [{"transcript": self.text()}],
            "items": items,
        });
        if let Some(code) = &self.language_code {
            results["language_code"] = json!(code);
        }
        if self.low_confidence {
            results["vidpipe"] = json!({"low_confidence": true});
        }
        let runs = self.speaker_runs();
        if !runs.is_empty() {
            let mut speakers: Vec<&str> = runs.iter().map(|r| r.label.as_str()).collect();
            speakers.sort_unstable();
            speakers.dedup();
            let segments: Vec<Value> = runs
                .iter()
                .map(|r| {
                    let items: Vec<Value> = r
                        .items
                        .iter()
                        .map(|(s, e)| json!({"speaker_label": r.label, "start_time": decimal(*s), "end_time": decimal(*e)}))
                        .collect();
                    json!({"speaker_label": r.label, "start_time": decimal(r.start_s), "end_time": decimal(r.end_s), "items": items})
                })
                .collect();
            results["speaker_labels"] = json!({"speakers": speakers.len(), "segments": segments});
        }
        let doc = json!({"jobName": self.job_name, "status": "COMPLETED", "results": results});
        serde_json::to_vec_pretty(&doc).unwrap_or_default()
    }

    /// Runs of timed items by one speaker.
    fn speaker_runs(&self) -> Vec<SpeakerRun> {
        let mut out: Vec<SpeakerRun> = Vec::new();
        for item in &self.items {
            let (Some(label), Some(s), Some(e)) = (&item.speaker, item.start_s, item.end_s) else {
                continue;
            };
            match out.last_mut() {
                Some(last) if &last.label == label => {
                    last.end_s = e;
                    last.items.push((s, e));
                }
                _ => out.push(SpeakerRun {
                    label: label.clone(),
                    start_s: s,
                    end_s: e,
                    items: vec![(s, e)],
                }),
            }
        }
        out
    }

    /// The full text: words separated by spaces, punctuation attached.
    pub fn text(&self) -> String {
        match (&self.untimed_text, self.items.is_empty()) {
            (Some(text), true) => text.clone(),
            _ => join_items(&self.items),
        }
    }

    /// Mean confidence of the words; 0 for none.
    pub fn mean_confidence(&self) -> f64 {
        let words: Vec<f64> = self.words().map(|w| w.confidence).collect();
        if words.is_empty() {
            0.0
        } else {
            words.iter().sum::<f64>() / words.len() as f64
        }
    }

    pub fn words(&self) -> impl Iterator<Item = &TranscriptItem> {
        self.items
            .iter()
            .filter(|i| i.kind == ItemKind::Pronunciation)
    }

    /// The sentences, split after `.`, `?` and `!`. A sentence's times are those of its
    /// first and last timed words; sentences without timed words are left out.
    pub fn sentences(&self) -> Vec<Sentence> {
        let mut out = Vec::new();
        let mut begin = 0;
        for (i, item) in self.items.iter().enumerate() {
            let ends = item.kind == ItemKind::Punctuation
                && matches!(item.content.as_str(), "." | "?" | "!");
            if ends || i + 1 == self.items.len() {
                let range = begin..i + 1;
                let slice = &self.items[range.clone()];
                let start = slice.iter().find_map(|w| w.start_s);
                let end = slice.iter().rev().find_map(|w| w.end_s);
                if let (Some(start_s), Some(end_s)) = (start, end) {
                    out.push(Sentence {
                        text: join_items(slice),
                        start_s,
                        end_s,
                        items: range,
                    });
                }
                begin = i + 1;
            }
        }
        out
    }
}

/// Words separated by spaces, punctuation attached to the word before it.
pub fn join_items(items: &[TranscriptItem]) -> String {
    let mut text = String::new();
    for item in items {
        if item.kind == ItemKind::Pronunciation && !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&item.content);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document in the exact shape Amazon Transcribe writes for a batch job with
    /// speaker partitioning (its Developer Guide's diarization example, extended).
    pub const AWS_SAMPLE: &str =
        include_str!("../../../tests/fixtures/transcribe-output-diarized.json");

    #[test]
    fn parses_amazon_transcribe_output_with_speakers() {
        let t = Transcript::from_transcribe_json("transcripts/x/t.json", AWS_SAMPLE.as_bytes())
            .unwrap();
        assert_eq!(t.job_name, "my-first-transcription-job");
        assert_eq!(t.text(), "I've been on hold for an hour. Sorry about that.");
        let first = &t.items[0];
        assert_eq!(
            (
                first.content.as_str(),
                first.start_s,
                first.end_s,
                first.speaker.as_deref()
            ),
            ("I've", Some(4.87), Some(5.02), Some("spk_0"))
        );
        let sorry = t.items.iter().find(|i| i.content == "Sorry").unwrap();
        assert_eq!(sorry.speaker.as_deref(), Some("spk_1"));
        assert_eq!(t.items[7].kind, ItemKind::Punctuation);
        let sentences = t.sentences();
        assert_eq!(sentences.len(), 2);
        assert_eq!((sentences[1].start_s, sentences[1].end_s), (8.49, 9.24));
    }

    #[test]
    fn parses_the_outline_a_team_used() {
        let outline = br#"{"jobName":"TestTranscribe","accountId":"591","results":{"language_code":"en-US",
            "transcripts":[{"transcript":"Hey, this is the full transcription!"}],"items":[]},"status":"COMPLETED"}"#;
        let t = Transcript::from_transcribe_json("k", outline).unwrap();
        assert_eq!(
            (t.items.len(), t.language_code.as_deref()),
            (0, Some("en-US"))
        );
        assert_eq!(t.text(), "Hey, this is the full transcription!");
        let back = Transcript::from_transcribe_json("k", &t.to_transcribe_json()).unwrap();
        assert_eq!(back.text(), t.text());
    }

    #[test]
    fn round_trips_through_the_transcribe_shape() {
        let t = Transcript::from_transcribe_json("k", AWS_SAMPLE.as_bytes()).unwrap();
        let mut t2 = t.clone();
        t2.low_confidence = true;
        let bytes = t2.to_transcribe_json();
        let back = Transcript::from_transcribe_json("k", &bytes).unwrap();
        assert_eq!(back, t2);
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["status"], "COMPLETED");
        assert_eq!(doc["results"]["items"][0]["start_time"], "4.87");
        assert_eq!(
            doc["results"]["items"][0]["alternatives"][0]["content"],
            "I've"
        );
        assert_eq!(doc["results"]["speaker_labels"]["speakers"], 2);
        assert!(
            doc["results"]["items"][7].get("start_time").is_none(),
            "punctuation has no times"
        );
    }

    #[test]
    fn failed_and_malformed_documents_are_errors_with_the_reason() {
        let failed =
            br#"{"jobName":"j","status":"FAILED","failure_reason":"Unsupported media format"}"#;
        let err = Transcript::from_transcribe_json("transcripts/x/transcript.json", failed)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("transcripts/x/transcript.json")
                && err.contains("Unsupported media format"),
            "{err}"
        );
        let err = Transcript::from_transcribe_json("k", b"{\"results\": [")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not Amazon Transcribe output JSON"), "{err}");
        assert!(Transcript::from_transcribe_json("k", br#"{"jobName":"j"}"#)
            .unwrap_err()
            .to_string()
            .contains("no results"));
    }
}
