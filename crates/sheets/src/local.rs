//! Spreadsheet files on this machine: read with calamine (xlsx, ods) and the csv
//! crate; the link written back by a library that edits the workbook it read
//! (umya-spreadsheet for xlsx, spreadsheet-ods for ods), so every other cell, formula
//! and format stays; a CSV rewritten whole. Every write goes to a temporary file in the
//! same folder, renamed over the original only if the original did not change
//! meanwhile; a sheet open in an office program (its lock file is there) is not
//! written at all.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use calamine::{open_workbook_auto, Data, Reader};
use tracing::{info, warn};
use vidpipe_domain::ports::LinkWriter;
use vidpipe_domain::talks::{SheetError, SheetTable, TalkRef};
use vidpipe_domain::PortError;

use crate::{link_cell, FileFormat, SheetSource, Workbook, LINK_HEADER};

/// Times the write is redone when the file changes while it is written.
const WRITE_ATTEMPTS: usize = 3;

/// Reads every sheet of a local spreadsheet file as text.
///
/// # Errors
/// [`SheetError::Unreadable`] naming the file and the reader's reason (not a
/// spreadsheet, unreadable, not UTF-8 for a CSV).
pub fn read(path: &Path, format: FileFormat) -> Result<Workbook, SheetError> {
    let unreadable = |reason: String| SheetError::Unreadable {
        sheet: path.display().to_string(),
        reason,
    };
    match format {
        FileFormat::Csv => {
            let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
            let rows = csv_rows(&bytes).map_err(unreadable)?;
            Ok(Workbook {
                sheets: vec![SheetTable {
                    name: String::new(),
                    rows,
                }],
            })
        }
        FileFormat::Xlsx | FileFormat::Ods => {
            let mut book = open_workbook_auto(path)
                .map_err(|e| unreadable(format!("not a readable spreadsheet: {e}")))?;
            let mut sheets = Vec::new();
            for name in book.sheet_names() {
                let range = book
                    .worksheet_range(&name)
                    .map_err(|e| unreadable(format!("sheet {name:?}: {e}")))?;
                sheets.push(SheetTable {
                    rows: table_rows(&range),
                    name,
                });
            }
            Ok(Workbook { sheets })
        }
    }
}

/// The range's cells as text, placed at their absolute row and column (a range that
/// starts below row 1 keeps its row numbers).
fn table_rows(range: &calamine::Range<Data>) -> Vec<Vec<String>> {
    let (row0, col0) = range.start().unwrap_or((0, 0));
    let mut rows = vec![Vec::new(); row0 as usize];
    for r in range.rows() {
        let mut row = vec![String::new(); col0 as usize];
        row.extend(r.iter().map(cell_text));
        rows.push(row);
    }
    rows
}

/// A cell as text: numbers as written (`95`, `1.5`); a time of day (a spreadsheet
/// duration under a day) as seconds, so that an in/out cell typed `00:01:30` reads 90.
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::DateTime(t) if t.as_f64() < 1.0 => {
            let seconds = (t.as_f64() * 86_400.0 * 1000.0).round() / 1000.0;
            format!("{seconds}")
        }
        other => other.to_string(),
    }
}

/// A CSV's rows: UTF-8 (a byte-order mark dropped), separated by `,` or, when the
/// header has more of them, `;` (as spreadsheet programs write in many locales).
fn csv_rows(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text: {e}"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header = text.lines().next().unwrap_or_default();
    let delimiter = if header.matches(';').count() > header.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            r.map(|rec| rec.iter().map(str::to_string).collect())
                .map_err(|e| format!("not a CSV: {e}"))
        })
        .collect()
}

/// The lock file an office program keeps beside a document it has open: LibreOffice's
/// `.~lock.<name>#`, Excel's `~$<name>`.
pub fn lock_file(path: &Path) -> Option<PathBuf> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name()?.to_str()?;
    [format!(".~lock.{name}#"), format!("~${name}")]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
}

fn fingerprint(path: &Path) -> Result<(u64, SystemTime), PortError> {
    crate::fingerprint(path).map_err(|e| PortError::NotFound(format!("{}: {e}", path.display())))
}

/// Writes links into local talk sheets ([`TalkRef::sheet`] is the file's path).
#[derive(Debug, Clone, Default)]
pub struct LocalSheets;

impl LinkWriter for LocalSheets {
    async fn write_link(&self, talk: &TalkRef, link: &str) -> Result<(), PortError> {
        let (path, format) = match SheetSource::parse(&talk.sheet) {
            Ok(SheetSource::File { path, format }) => (path, format),
            Ok(SheetSource::Google { .. }) => {
                return Err(PortError::Failed(format!(
                    "{}: a Google Sheet, not a local file",
                    talk.sheet
                )))
            }
            Err(e) => return Err(PortError::Invalid(e.to_string())),
        };
        write_link(&path, format, talk, link)
    }
}

/// Writes `link` into `talk`'s row of the file at `path`: see [`LinkWriter`]. The
/// read, the change of one cell and the write are redone (up to [`WRITE_ATTEMPTS`]
/// times) when the file changes while it is being written.
///
/// # Errors
/// As [`LinkWriter::write_link`].
pub fn write_link(
    path: &Path,
    format: FileFormat,
    talk: &TalkRef,
    link: &str,
) -> Result<(), PortError> {
    for attempt in 1..=WRITE_ATTEMPTS {
        if let Some(lock) = lock_file(path) {
            return Err(PortError::Unavailable(format!(
                "{} is open in an office program ({} is there): close it, then run `vidpipe publish --due`",
                path.display(),
                lock.display()
            )));
        }
        let before = fingerprint(path)?;
        let bytes = std::fs::read(path)
            .map_err(|e| PortError::NotFound(format!("{}: {e}", path.display())))?;
        let written = match format {
            FileFormat::Csv => with_link_csv(&bytes, talk, link),
            FileFormat::Xlsx => with_link_xlsx(&bytes, talk, link),
            FileFormat::Ods => with_link_ods(&bytes, talk, link),
        }
        .map_err(|e| match e {
            PortError::NotFound(why) => PortError::NotFound(format!("{}: {why}", path.display())),
            PortError::Invalid(why) => PortError::Invalid(format!("{}: {why}", path.display())),
            other => other,
        })?;
        let Some(new_bytes) = written else {
            info!(sheet = %path.display(), row = talk.row_number, "the link is in the sheet already");
            return Ok(());
        };
        let temp = crate::temp_beside(path, &new_bytes)
            .map_err(|e| PortError::Failed(format!("{}: {e}", path.display())))?;
        if fingerprint(path)? != before || lock_file(path).is_some() {
            warn!(sheet = %path.display(), attempt, "the sheet changed while the link was written; reading it again");
            continue;
        }
        temp.persist(path)
            .map_err(|e| PortError::Failed(format!("{}: {e}", path.display())))?;
        info!(sheet = %path.display(), row = talk.row_number, "link written");
        return Ok(());
    }
    Err(PortError::Unavailable(format!(
        "{} kept changing while the link was written; deferred",
        path.display()
    )))
}

fn with_link_csv(bytes: &[u8], talk: &TalkRef, link: &str) -> Result<Option<Vec<u8>>, PortError> {
    let mut rows = csv_rows(bytes).map_err(PortError::Invalid)?;
    let table = SheetTable {
        name: String::new(),
        rows: rows.clone(),
    };
    let Some((row, col, new)) = link_cell(&table, talk, link)? else {
        return Ok(None);
    };
    let mut set = |r: usize, value: &str| {
        let cells = &mut rows[r];
        if cells.len() <= col {
            cells.resize(col + 1, String::new());
        }
        cells[col] = value.to_string();
    };
    if new {
        set(0, LINK_HEADER);
    }
    set(row, link);
    let text = std::str::from_utf8(bytes).unwrap_or_default();
    let header = text.lines().next().unwrap_or_default();
    let delimiter = if header.matches(';').count() > header.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .delimiter(delimiter)
        .from_writer(Vec::new());
    for r in &rows {
        writer
            .write_record(r)
            .map_err(|e| PortError::Failed(e.to_string()))?;
    }
    writer
        .into_inner()
        .map(Some)
        .map_err(|e| PortError::Failed(e.to_string()))
}

fn with_link_xlsx(bytes: &[u8], talk: &TalkRef, link: &str) -> Result<Option<Vec<u8>>, PortError> {
    let mut book = umya_spreadsheet::reader::xlsx::read_reader(std::io::Cursor::new(bytes), true)
        .map_err(|e| PortError::Invalid(format!("not a readable xlsx workbook: {e}")))?;
    let sheet = book
        .get_sheet_by_name_mut(&talk.tab)
        .ok_or_else(|| PortError::NotFound(format!("no sheet named {:?}", talk.tab)))?;
    let (cols, rows) = (sheet.get_highest_column(), sheet.get_highest_row());
    let table = SheetTable {
        name: talk.tab.clone(),
        rows: (1..=rows)
            .map(|r| (1..=cols).map(|c| sheet.get_value((c, r))).collect())
            .collect(),
    };
    let Some((row, col, new)) = link_cell(&table, talk, link)? else {
        return Ok(None);
    };
    let (col, row) = (col as u32 + 1, row as u32 + 1);
    if new {
        sheet.get_cell_mut((col, 1)).set_value_string(LINK_HEADER);
    }
    sheet.get_cell_mut((col, row)).set_value_string(link);
    let mut out = std::io::Cursor::new(Vec::new());
    umya_spreadsheet::writer::xlsx::write_writer(&book, &mut out)
        .map_err(|e| PortError::Failed(format!("writing the workbook: {e}")))?;
    Ok(Some(out.into_inner()))
}

fn with_link_ods(bytes: &[u8], talk: &TalkRef, link: &str) -> Result<Option<Vec<u8>>, PortError> {
    let mut book = spreadsheet_ods::read_ods_buf(bytes)
        .map_err(|e| PortError::Invalid(format!("not a readable ods workbook: {e}")))?;
    let index = book
        .sheet_idx(&talk.tab)
        .ok_or_else(|| PortError::NotFound(format!("no sheet named {:?}", talk.tab)))?;
    let sheet = book.sheet_mut(index);
    let (rows, cols) = sheet.used_grid_size();
    let table = SheetTable {
        name: talk.tab.clone(),
        rows: (0..rows)
            .map(|r| {
                (0..cols)
                    .map(|c| sheet.value(r, c).as_cow_str_or("").into_owned())
                    .collect()
            })
            .collect(),
    };
    let Some((row, col, new)) = link_cell(&table, talk, link)? else {
        return Ok(None);
    };
    if new {
        sheet.set_value(0, col as u32, LINK_HEADER);
    }
    sheet.set_value(row as u32, col as u32, link);
    spreadsheet_ods::write_ods_buf(&mut book, Vec::new())
        .map(Some)
        .map_err(|e| PortError::Failed(format!("writing the workbook: {e}")))
}
