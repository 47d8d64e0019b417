//! Full-text search over every video's title, description, tags and transcript: an
//! SQLite FTS5 table (`search_text`) in the output folder's `vidpipe.db`, ranked by
//! BM25 (SQLite FTS5 documentation, "Sorting by Auxiliary Function Results").
//!
//! The index follows the records table: [`SqliteRecords::sync_search`] re-indexes the
//! videos whose record version differs from the one indexed (`search_state`), so runs
//! of `vidpipe process` in other processes are found by the next search. A transcript
//! is indexed a sentence a row, with each word's start time (`word_times_s`), so that a
//! hit gives the time of the word that matched, not only of its sentence.

use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use vidpipe_domain::record::VideoRecord;
use vidpipe_domain::transcript::{ItemKind, Transcript};
use vidpipe_domain::PortError;

use crate::records::SqliteRecords;
use crate::store::LocalStore;

pub(crate) const SCHEMA: &str = "
CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(
    video_id UNINDEXED, field UNINDEXED, start_s UNINDEXED, word_times_s UNINDEXED, text,
    tokenize = 'porter unicode61'
);
CREATE TABLE IF NOT EXISTS search_state (
    video_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL
);";

/// The most matching rows a search ranks: BM25 is computed for every row that matches,
/// so a word said in nearly every sentence of a large library (measured: 600,000 rows
/// of 1,000 one-hour talks, 210 ms) would rank them all. Beyond this many, the most
/// recently indexed rows are ranked (about 7 ms); a word that common ranks about
/// evenly anyway.
const MAX_RANKED: usize = 20_000;

/// Marks around a matched word in FTS5's `highlight()` and `snippet()` output: control
/// characters no transcript or title holds.
const OPEN: char = '\u{2}';
const CLOSE: char = '\u{3}';

/// Which part of a video a hit is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Description,
    Tags,
    Transcript,
}

impl Field {
    fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Description => "description",
            Field::Tags => "tags",
            Field::Transcript => "transcript",
        }
    }

    fn parse(text: &str) -> Field {
        match text {
            "title" => Field::Title,
            "description" => Field::Description,
            "tags" => Field::Tags,
            _ => Field::Transcript,
        }
    }
}

/// One hit: where the words are and the text around them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub video_id: String,
    pub title: String,
    pub field: Field,
    /// Seconds from the start of the video (its clip) at which the first matching word
    /// is said; `None` outside the transcript.
    pub start_s: Option<f64>,
    /// The matching text (a transcript sentence, the title, …), plain.
    pub text: String,
    /// A fragment of it, HTML-escaped, each matching word in `<mark>`.
    pub snippet_html: String,
}

/// A row to index.
struct Entry {
    field: Field,
    start_s: Option<f64>,
    word_times_s: String,
    text: String,
}

/// What a record and its transcript put in the index.
fn entries(record: &VideoRecord, transcript: Option<&Transcript>) -> Vec<Entry> {
    let plain = |field, text: String| Entry {
        field,
        start_s: None,
        word_times_s: String::new(),
        text,
    };
    let mut out = vec![plain(Field::Title, record.title())];
    if let Some(d) = record.description.as_ref().filter(|d| !d.trim().is_empty()) {
        out.push(plain(Field::Description, d.clone()));
    }
    let mut tags: Vec<&str> = record.hashtags.iter().map(String::as_str).collect();
    if let Some(s) = &record.sidecar {
        tags.extend(s.tags.iter().map(String::as_str));
    }
    if !tags.is_empty() {
        out.push(plain(Field::Tags, tags.join(" ")));
    }
    for sentence in transcript.map(Transcript::sentences).unwrap_or_default() {
        let items = &transcript.map_or(&[][..], |t| &t.items[sentence.items.clone()]);
        out.push(Entry {
            field: Field::Transcript,
            start_s: Some(sentence.start_s),
            word_times_s: token_times(items, sentence.start_s),
            text: sentence.text,
        });
    }
    out
}

/// The start time of each whitespace-separated token of `join_items(items)`, as
/// space-separated seconds: a token starts at each word, punctuation joins the word
/// before it (`join_items`' rule).
fn token_times(items: &[vidpipe_domain::transcript::TranscriptItem], first_s: f64) -> String {
    let mut times = Vec::new();
    let mut last = first_s;
    for item in items {
        if item.kind == ItemKind::Pronunciation || times.is_empty() {
            last = item.start_s.unwrap_or(last);
            times.push(format!("{last:.2}"));
        }
    }
    times.join(" ")
}

/// The FTS5 query for what a person typed: each word a quoted string (so `AND`,
/// `NEAR`, `*` and quotes are words, not syntax), all of them required.
fn fts_query(words: &str) -> Option<String> {
    let terms: Vec<String> = words
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// `text` HTML-escaped, the marked words in `<mark>`.
fn marked_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            OPEN => out.push_str("<mark>"),
            CLOSE => out.push_str("</mark>"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The time of the first marked token in `highlighted`, from the row's token times.
fn first_match_time(highlighted: &str, word_times_s: &str) -> Option<f64> {
    let at = highlighted.find(OPEN)?;
    let before = &highlighted[..at];
    // The token holding the mark: count the tokens that end before it.
    let index = before.split_whitespace().count()
        - usize::from(!before.ends_with(' ') && !before.is_empty());
    word_times_s.split(' ').nth(index)?.parse().ok()
}

impl SqliteRecords {
    /// Brings the search index up to date with the records: re-indexes each video
    /// whose record changed since it was indexed, reading its transcript from `store`.
    /// Returns how many videos were (re-)indexed.
    ///
    /// # Errors
    /// [`PortError::Failed`] on a database error or an unreadable stored record. A
    /// transcript that cannot be read or parsed leaves the video indexed without it.
    pub fn sync_search(&self, store: &LocalStore) -> Result<usize, PortError> {
        let stale: Vec<(String, String, i64)> = self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT v.id, v.record, v.version FROM videos v
                 LEFT JOIN search_state s ON s.video_id = v.id
                 WHERE s.version IS NULL OR s.version != v.version",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        })?;
        for (id, json, version) in &stale {
            let record: VideoRecord = serde_json::from_str(json)
                .map_err(|e| PortError::Failed(format!("stored record {id}: {e}")))?;
            let transcript = record.speech.as_ref().and_then(|s| {
                let path = store.path_of(&s.transcript_key).ok()?;
                let bytes = std::fs::read(path).ok()?;
                Transcript::from_transcribe_json(&s.transcript_key, &bytes).ok()
            });
            let rows = entries(&record, transcript.as_ref());
            self.with(|c| {
                let tx = c.unchecked_transaction()?;
                tx.execute("DELETE FROM search_text WHERE video_id = ?1", [id])?;
                let mut insert = tx.prepare(
                    "INSERT INTO search_text (video_id, field, start_s, word_times_s, text)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for e in &rows {
                    insert.execute(params![
                        id,
                        e.field.as_str(),
                        e.start_s,
                        e.word_times_s,
                        e.text
                    ])?;
                }
                drop(insert);
                tx.execute(
                    "INSERT INTO search_state (video_id, version) VALUES (?1, ?2)
                     ON CONFLICT(video_id) DO UPDATE SET version = excluded.version",
                    params![id, version],
                )?;
                tx.commit()
            })?;
        }
        Ok(stale.len())
    }

    /// The best `limit` hits for `words` (every word must match; word forms are
    /// stemmed), best first by BM25. A query matching more than [`MAX_RANKED`] rows is
    /// ranked among the most recently indexed of them. Nothing to search for (no
    /// letters or digits) gives no hits.
    ///
    /// # Errors
    /// [`PortError::Failed`] on a database error.
    pub fn search(&self, words: &str, limit: usize) -> Result<Vec<SearchHit>, PortError> {
        self.search_ranking_at_most(words, limit, MAX_RANKED)
    }

    /// [`search`](Self::search), ranking at most the `ranked` most recently indexed
    /// matching rows.
    fn search_ranking_at_most(
        &self,
        words: &str,
        limit: usize,
        ranked: usize,
    ) -> Result<Vec<SearchHit>, PortError> {
        let Some(query) = fts_query(words) else {
            return Ok(Vec::new());
        };
        // The lowest rowid worth ranking: FTS5 walks a term's rows in rowid order and
        // stops at the bound, so this costs `ranked` steps at most.
        let lowest: i64 = self
            .with(|c| {
                c.query_row(
                    "SELECT rowid FROM search_text WHERE search_text MATCH ?1
                 ORDER BY rowid DESC LIMIT 1 OFFSET ?2",
                    params![query, ranked as i64 - 1],
                    |r| r.get(0),
                )
                .optional()
            })?
            .unwrap_or(0);
        let marks = (OPEN.to_string(), CLOSE.to_string());
        type Row = (String, String, Option<f64>, String, String, String, String);
        let rows: Vec<Row> = self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT s.video_id, s.field, s.start_s, s.word_times_s, s.text,
                        highlight(search_text, 4, ?2, ?3),
                        snippet(search_text, 4, ?2, ?3, '…', 16)
                 FROM search_text s
                 WHERE search_text MATCH ?1 AND s.rowid >= ?5
                 ORDER BY bm25(search_text) LIMIT ?4",
            )?;
            let args = params![query, marks.0, marks.1, limit as i64, lowest];
            let rows = stmt.query_map(args, |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?;
            rows.collect()
        })?;
        let mut hits = Vec::with_capacity(rows.len());
        for (video_id, field, start_s, times, text, highlighted, snippet) in rows {
            let field = Field::parse(&field);
            let title = self.title_of(&video_id)?.unwrap_or_default();
            let start_s = match field {
                Field::Transcript => first_match_time(&highlighted, &times).or(start_s),
                _ => None,
            };
            hits.push(SearchHit {
                video_id,
                title,
                field,
                start_s,
                text,
                snippet_html: marked_html(&snippet),
            });
        }
        Ok(hits)
    }

    fn title_of(&self, id: &str) -> Result<Option<String>, PortError> {
        self.with(|c| {
            c.query_row("SELECT title FROM videos WHERE id = ?1", [id], |r| r.get(0))
                .optional()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidpipe_domain::ports::VideoRecords;
    use vidpipe_domain::transcript::TranscriptItem;
    use vidpipe_domain::VideoId;

    fn word(content: &str, start_s: f64) -> TranscriptItem {
        TranscriptItem {
            kind: ItemKind::Pronunciation,
            content: content.into(),
            start_s: Some(start_s),
            end_s: Some(start_s + 0.4),
            confidence: 0.9,
            speaker: None,
        }
    }

    fn stop() -> TranscriptItem {
        TranscriptItem::punctuation(".")
    }

    #[test]
    fn the_time_of_a_hit_is_its_word_not_its_sentence() {
        let items = [
            word("we", 10.0),
            word("measured", 10.5),
            word("latency", 11.0),
            word("metrics", 14.25),
            stop(),
        ];
        let times = token_times(&items, 10.0);
        assert_eq!(times, "10.00 10.50 11.00 14.25");
        let highlighted = format!("we measured latency {OPEN}metrics{CLOSE}.");
        assert_eq!(first_match_time(&highlighted, &times), Some(14.25));
        let first = format!("{OPEN}we{CLOSE} measured");
        assert_eq!(first_match_time(&first, &times), Some(10.0));
    }

    #[test]
    fn typed_words_are_never_query_syntax_and_snippets_are_escaped() {
        assert_eq!(
            fts_query("metrics AND \"x"),
            Some("\"metrics\" \"AND\" \"x\"".into())
        );
        assert_eq!(fts_query("  *** "), None);
        assert_eq!(
            marked_html(&format!("a <b> & {OPEN}c{CLOSE}")),
            "a &lt;b&gt; &amp; <mark>c</mark>"
        );
    }

    #[tokio::test]
    async fn a_spoken_word_is_found_at_its_time_and_a_changed_record_is_reindexed() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        let db = SqliteRecords::open(&dir.path().join("vidpipe.db")).unwrap();
        let id = VideoId::parse("00000000000000cc").unwrap();
        let transcript = Transcript {
            job_name: "t".into(),
            language_code: Some("en-US".into()),
            items: vec![
                word("Good", 1.0),
                word("morning", 1.5),
                stop(),
                word("Our", 3.0),
                word("metrics", 3.6),
                word("improved", 4.2),
                stop(),
            ],
            low_confidence: false,
            untimed_text: None,
        };
        let key = vidpipe_domain::keys::PlanKeys::new(&id, 0).transcript_json();
        std::fs::create_dir_all(store.path_of(&key).unwrap().parent().unwrap()).unwrap();
        std::fs::write(
            store.path_of(&key).unwrap(),
            transcript.to_transcribe_json(),
        )
        .unwrap();
        let mut rec = VideoRecord::new(id.clone(), "uploads/a.mp4", "/tmp/a.mp4");
        rec.speech = Some(vidpipe_domain::record::Speech {
            transcript_key: key,
            word_count: 5,
            language_code: None,
            mean_confidence: 0.9,
            low_confidence: false,
            keywords: vec![],
            summary: vec![],
            promo: None,
        });
        db.create(&rec).await.unwrap();
        assert_eq!(db.sync_search(&store).unwrap(), 1);
        assert_eq!(db.sync_search(&store).unwrap(), 0, "nothing changed");
        let hits = db.search("metric", 10).unwrap();
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(
            (hits[0].field, hits[0].start_s),
            (Field::Transcript, Some(3.6))
        );
        assert_eq!(hits[0].text, "Our metrics improved.");
        assert!(
            hits[0].snippet_html.contains("<mark>metrics</mark>"),
            "{}",
            hits[0].snippet_html
        );
        assert!(
            db.search("metrics breakfast", 10).unwrap().is_empty(),
            "every word must match"
        );

        rec.description = Some("A talk about breakfast".into());
        db.update(&rec).await.unwrap();
        assert_eq!(db.sync_search(&store).unwrap(), 1);
        let hits = db.search("breakfast", 10).unwrap();
        assert_eq!(
            (hits.len(), hits[0].field, hits[0].start_s),
            (1, Field::Description, None)
        );

        // Two rows say "metrics" now; ranking only the newest one (the transcript's
        // sentence, indexed after the description) gives that one alone.
        rec = db.get(&id).await.unwrap().unwrap();
        rec.description = Some("Metrics for breakfast".into());
        db.update(&rec).await.unwrap();
        db.sync_search(&store).unwrap();
        assert_eq!(db.search("metrics", 10).unwrap().len(), 2);
        let capped = db.search_ranking_at_most("metrics", 10, 1).unwrap();
        assert_eq!(capped.len(), 1);
        assert_eq!(capped[0].field, Field::Transcript);
    }
}
