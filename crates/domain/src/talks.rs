//! The talk sheet: a conference team's programme, one row per talk (title, speakers,
//! where to cut, a description, tags, the published link), and the speaker sheet (name
//! → email). Adapters read a spreadsheet (xlsx, ods, csv, a Google Sheet) into a
//! [`SheetTable`] of text cells; everything after that is here: columns found by
//! their header, the video's row found by its title or file name, speakers looked up,
//! and the row turned into the sidecar fields it fills.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::sidecar::{ClipTime, Sidecar, Speaker};

/// A similarity (0–1, normalised Levenshtein over normalised text) from which a row is
/// taken as the video's when no row matches exactly.
pub const MIN_SIMILARITY: f64 = 0.85;
/// How far ahead of the second-best row the best must be for a near match.
pub const MIN_LEAD: f64 = 0.05;

/// One sheet of a spreadsheet as text: `rows[0]` is the header. Numbers are written
/// as the spreadsheet shows them (`90`, `1.5`), empty cells as `""`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SheetTable {
    /// The sheet's (tab's) name, `""` for a CSV.
    pub name: String,
    pub rows: Vec<Vec<String>>,
}

impl SheetTable {
    /// The cell at `row`, `column` (0-based), `""` beyond the row's end.
    pub fn cell(&self, row: usize, column: usize) -> &str {
        self.rows
            .get(row)
            .and_then(|r| r.get(column))
            .map_or("", |c| c.trim())
    }
}

/// Why a talk sheet cannot be used, or the video has no row in it.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum SheetError {
    #[error("{sheet}: no title column (a header named title or talk); headers are: {headers}")]
    NoTitleColumn { sheet: String, headers: String },
    #[error("{sheet}: no row for {wanted:?}; closest rows: {closest}")]
    NoRow {
        sheet: String,
        wanted: Vec<String>,
        closest: String,
    },
    #[error("{sheet}: {wanted:?} matches more than one row: {rows}")]
    Ambiguous {
        sheet: String,
        wanted: Vec<String>,
        rows: String,
    },
    #[error("{sheet}: {reason}")]
    Unreadable { sheet: String, reason: String },
    /// The sheet could not be reached (a quota, a network failure): try again later.
    #[error("{sheet}: unavailable, retry: {reason}")]
    Unavailable { sheet: String, reason: String },
}

/// What a column holds, found from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Title,
    Speakers,
    Start,
    End,
    Description,
    Tags,
    Link,
    Email,
}

impl Column {
    /// The column a header names, case, spacing and punctuation ignored, with the
    /// usual synonyms.
    pub fn of_header(header: &str) -> Option<Column> {
        let h: String = header
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        Some(match h.as_str() {
            "title" | "talk" | "talktitle" | "session" => Column::Title,
            "speakers" | "speaker" | "presenter" | "presenters" => Column::Speakers,
            "start" | "in" | "inpoint" | "starttime" => Column::Start,
            "end" | "out" | "outpoint" | "endtime" => Column::End,
            "description" | "abstract" | "summary" => Column::Description,
            "tags" | "tag" | "keywords" => Column::Tags,
            "link" | "url" | "video" | "videolink" | "videourl" => Column::Link,
            "email" | "emails" | "mail" | "speakeremail" | "speakeremails" => Column::Email,
            _ => return None,
        })
    }
}

/// The columns of a talk sheet: 0-based indices, the first header naming each.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Columns {
    found: Vec<(Column, usize)>,
    /// The number of header cells, where a new link column goes.
    pub width: usize,
}

impl Columns {
    /// Finds the columns in `table`'s header.
    ///
    /// # Errors
    /// [`SheetError::NoTitleColumn`] when no header names the title.
    pub fn find(table: &SheetTable) -> Result<Columns, SheetError> {
        let header = table.rows.first().map(Vec::as_slice).unwrap_or_default();
        let mut found: Vec<(Column, usize)> = Vec::new();
        for (i, h) in header.iter().enumerate() {
            if let Some(c) = Column::of_header(h) {
                if !found.iter().any(|(f, _)| *f == c) {
                    found.push((c, i));
                }
            }
        }
        let columns = Columns {
            found,
            width: header.len(),
        };
        match columns.get(Column::Title) {
            Some(_) => Ok(columns),
            None => Err(SheetError::NoTitleColumn {
                sheet: table.name.clone(),
                headers: format!("{header:?}"),
            }),
        }
    }

    /// The 0-based index of `column`'s cells.
    pub fn get(&self, column: Column) -> Option<usize> {
        self.found
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, i)| *i)
    }
}

/// The talk sheet's row for one video, as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TalkRow {
    /// The row's number as the spreadsheet shows it (the header is row 1).
    pub row_number: usize,
    pub title: String,
    pub speakers: Vec<String>,
    /// Addresses from the talk sheet's own email cell, in speaker order.
    pub emails: Vec<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
}

/// Where a video's talk-sheet row is, recorded at ingest so that its link can be
/// written back after publishing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TalkRef {
    /// The sheet as the user named it: a file path, or `gsheet:<spreadsheet id>`.
    pub sheet: String,
    /// The tab (sheet) name; `""` for a CSV.
    pub tab: String,
    /// The row's number when it was read (the header is row 1). The row is found again
    /// by its title when written, in case rows moved.
    pub row_number: usize,
    /// The row's title cell as read.
    pub title: String,
}

/// Splits a speakers cell: commas, semicolons, ampersands and the word "and".
pub fn split_names(cell: &str) -> Vec<String> {
    cell.split([',', ';', '&', '\n'])
        .flat_map(|part| part.split(" and "))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

/// Text as rows and uploads are compared: an S3 event key's encoding undone (`+` for
/// space, `%3A`), a video extension dropped, accents folded (`é` → `e`), case and
/// punctuation ignored, spaces collapsed.
pub fn normalise(text: &str) -> String {
    let plus_decoded = text.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&plus_decoded).decode_utf8_lossy();
    let name = decoded.rsplit('/').next().unwrap_or(&decoded);
    let stem = match name.rsplit_once('.') {
        Some((stem, ext))
            if crate::events::VIDEO_EXTENSIONS.contains(&ext.to_lowercase().as_str())
                || crate::events::AUDIO_EXTENSIONS.contains(&ext.to_lowercase().as_str()) =>
        {
            stem
        }
        _ => name,
    };
    let folded = deunicode::deunicode(stem).to_lowercase();
    folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Finds the row of the video named by `wanted` (its title where known, then its file
/// name or upload key): a row whose normalised title equals one of them, else the one
/// row similar enough ([`MIN_SIMILARITY`]) and clearly ahead of the rest
/// ([`MIN_LEAD`]).
///
/// # Errors
/// [`SheetError::NoTitleColumn`]; [`SheetError::Ambiguous`] when two rows match (two
/// rows with the same title); [`SheetError::NoRow`] naming the three closest rows.
pub fn find_row(table: &SheetTable, wanted: &[&str]) -> Result<TalkRow, SheetError> {
    let columns = Columns::find(table)?;
    let title_col = columns.get(Column::Title).unwrap_or_default();
    let wanted_norm: Vec<String> = wanted
        .iter()
        .map(|w| normalise(w))
        .filter(|w| !w.is_empty())
        .collect();
    let titled: Vec<(usize, String)> = (1..table.rows.len())
        .map(|r| (r, normalise(table.cell(r, title_col))))
        .filter(|(_, t)| !t.is_empty())
        .collect();
    let describe = |rows: &[usize]| -> String {
        rows.iter()
            .map(|&r| format!("row {} {:?}", r + 1, table.cell(r, title_col)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sheet = || table.name.clone();
    let wanted_owned = || wanted.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    for w in &wanted_norm {
        let exact: Vec<usize> = titled
            .iter()
            .filter(|(_, t)| t == w)
            .map(|(r, _)| *r)
            .collect();
        match exact.len() {
            0 => continue,
            1 => return Ok(read_row(table, &columns, exact[0])),
            _ => {
                return Err(SheetError::Ambiguous {
                    sheet: sheet(),
                    wanted: wanted_owned(),
                    rows: describe(&exact),
                })
            }
        }
    }
    let mut scored: Vec<(f64, usize)> = titled
        .iter()
        .map(|(r, t)| {
            let best = wanted_norm
                .iter()
                .map(|w| strsim::normalized_levenshtein(w, t))
                .fold(0.0, f64::max);
            (best, *r)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let lead = match scored.as_slice() {
        [(best, _), (second, _), ..] => best - second,
        [(best, _)] => *best,
        [] => 0.0,
    };
    match scored.first() {
        Some(&(best, row)) if best >= MIN_SIMILARITY && lead >= MIN_LEAD => {
            Ok(read_row(table, &columns, row))
        }
        _ => Err(SheetError::NoRow {
            sheet: sheet(),
            wanted: wanted_owned(),
            closest: describe(&scored.iter().take(3).map(|(_, r)| *r).collect::<Vec<_>>()),
        }),
    }
}

fn read_row(table: &SheetTable, columns: &Columns, row: usize) -> TalkRow {
    let text = |c: Column| {
        columns
            .get(c)
            .map(|i| table.cell(row, i).to_string())
            .filter(|t| !t.is_empty())
    };
    let list = |c: Column| text(c).map(|t| split_names(&t)).unwrap_or_default();
    TalkRow {
        row_number: row + 1,
        title: text(Column::Title).unwrap_or_default(),
        speakers: list(Column::Speakers),
        emails: text(Column::Email)
            .map(|t| {
                t.split([',', ';', ' ', '\n'])
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        start: text(Column::Start),
        end: text(Column::End),
        description: text(Column::Description),
        tags: list(Column::Tags),
    }
}

/// Whether `text` has the shape of an email address: one `@`, a local part, a domain
/// with a dot, no spaces. (The mail adapter parses it fully before sending.)
pub fn looks_like_address(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c == ',' || c == ';')
        }
        None => false,
    }
}

/// The speaker sheet: name → email. Names are compared normalised.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpeakerDirectory {
    entries: Vec<(String, String)>,
}

impl SpeakerDirectory {
    /// Reads a sheet with a name (or speaker) column and an email column.
    ///
    /// # Errors
    /// [`SheetError::Unreadable`] when either column is missing.
    pub fn from_table(table: &SheetTable) -> Result<SpeakerDirectory, SheetError> {
        let header = table.rows.first().map(Vec::as_slice).unwrap_or_default();
        let find = |names: &[&str]| {
            header.iter().position(|h| {
                let h: String = h.chars().filter(|c| c.is_alphanumeric()).collect();
                names.contains(&h.to_lowercase().as_str())
            })
        };
        let (Some(name), Some(email)) = (
            find(&["name", "speaker", "speakers", "fullname"]),
            find(&["email", "mail", "emailaddress"]),
        ) else {
            return Err(SheetError::Unreadable {
                sheet: table.name.clone(),
                reason: format!(
                    "a speaker sheet needs a name and an email column; headers are {header:?}"
                ),
            });
        };
        let entries = (1..table.rows.len())
            .map(|r| {
                (
                    normalise(table.cell(r, name)),
                    table.cell(r, email).to_string(),
                )
            })
            .filter(|(n, _)| !n.is_empty())
            .collect();
        Ok(SpeakerDirectory { entries })
    }

    /// The cell given for `name`, if the sheet lists the speaker.
    pub fn email_of(&self, name: &str) -> Option<&str> {
        let n = normalise(name);
        self.entries
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, e)| e.as_str())
    }
}

impl TalkRow {
    /// The sidecar this row and the speaker sheet make, under `sidecar`: every field
    /// the sidecar gives wins; speakers without an email get the speaker sheet's (or
    /// the row's email cell, in order). Returns the notes for the run report: speakers
    /// who will not be emailed, and why.
    pub fn fill(
        &self,
        sidecar: Option<Sidecar>,
        directory: &SpeakerDirectory,
    ) -> (Sidecar, Vec<String>) {
        let mut s = sidecar.unwrap_or_default();
        s.title = s.title.or_else(|| Some(self.title.clone()));
        s.description = s.description.or_else(|| self.description.clone());
        s.start = s.start.or_else(|| self.start.clone().map(ClipTime::Text));
        s.end = s.end.or_else(|| self.end.clone().map(ClipTime::Text));
        if s.tags.is_empty() {
            s.tags = self.tags.clone();
        }
        if s.speakers.is_empty() {
            s.speakers = self
                .speakers
                .iter()
                .map(|name| Speaker {
                    name: name.clone(),
                    email: None,
                })
                .collect();
        }
        let mut notes = Vec::new();
        for (i, speaker) in s.speakers.iter_mut().enumerate() {
            if speaker.email.is_some() {
                continue;
            }
            let cell = directory
                .email_of(&speaker.name)
                .map(str::to_string)
                .or_else(|| self.emails.get(i).cloned());
            match cell {
                Some(e) if looks_like_address(&e) => speaker.email = Some(e),
                Some(e) => notes.push(format!(
                    "speaker {:?}: the email cell {e:?} is not an address; not emailed",
                    speaker.name
                )),
                None => notes.push(format!(
                    "speaker {:?} is not in the speaker sheet; not emailed",
                    speaker.name
                )),
            }
        }
        (s, notes)
    }
}

#[cfg(test)]
mod tests;
