//! The documents organisers keep, read and written for them:
//! - talk sheets: `.xlsx`, `.ods` and `.csv` files ([`local`]) and Google Sheets
//!   ([`google`]), read into [`SheetTable`]s for the domain's matching
//!   (`vidpipe_domain::talks`), with the published link written back into the row;
//! - the dataset catalog: a JSON file locally or on S3 ([`catalog`]).
//!
//! Both modes use this crate; it depends on the domain only (no AWS SDK: S3 is
//! reached through `object_store`).

use std::path::PathBuf;

use vidpipe_domain::talks::{normalise, Column, Columns, SheetError, SheetTable, TalkRef};
use vidpipe_domain::PortError;

#[cfg(feature = "catalog")]
pub mod catalog;
pub mod google;
#[cfg(feature = "files")]
pub mod local;
#[cfg(feature = "test-util")]
pub mod stub;

/// Where a talk sheet is, as the user names it.
#[derive(Debug, Clone, PartialEq)]
pub enum SheetSource {
    /// A local file; its format from the extension.
    File { path: PathBuf, format: FileFormat },
    /// `gsheet:<spreadsheet id>`: a Google Sheet (Sheets API v4).
    Google { spreadsheet_id: String },
}

/// The spreadsheet files vidpipe reads and writes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Xlsx,
    Ods,
    Csv,
}

impl SheetSource {
    /// `gsheet:<id>`, or a path ending in `.xlsx`, `.xlsm`, `.ods` or `.csv`.
    ///
    /// # Errors
    /// [`SheetError::Unreadable`] for any other name.
    pub fn parse(text: &str) -> Result<SheetSource, SheetError> {
        if let Some(id) = text.strip_prefix("gsheet:") {
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            {
                return Err(SheetError::Unreadable {
                    sheet: text.to_string(),
                    reason: "a Google spreadsheet id is letters, digits, - and _".into(),
                });
            }
            return Ok(SheetSource::Google {
                spreadsheet_id: id.to_string(),
            });
        }
        let path = PathBuf::from(text);
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_lowercase);
        let format = match ext.as_deref() {
            Some("xlsx" | "xlsm") => FileFormat::Xlsx,
            Some("ods") => FileFormat::Ods,
            Some("csv") => FileFormat::Csv,
            _ => {
                return Err(SheetError::Unreadable {
                    sheet: text.to_string(),
                    reason: "not a spreadsheet vidpipe reads (.xlsx, .ods, .csv, or gsheet:<id>)"
                        .into(),
                })
            }
        };
        Ok(SheetSource::File { path, format })
    }
}

/// A workbook's sheets, as text.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Workbook {
    pub sheets: Vec<SheetTable>,
}

impl Workbook {
    /// The talk sheet: the first sheet with a title column.
    ///
    /// # Errors
    /// [`SheetError::NoTitleColumn`] for the first sheet when none has one.
    pub fn talk_sheet(&self) -> Result<&SheetTable, SheetError> {
        let mut first_error = None;
        for sheet in &self.sheets {
            match vidpipe_domain::talks::Columns::find(sheet) {
                Ok(_) => return Ok(sheet),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or(SheetError::Unreadable {
            sheet: String::new(),
            reason: "the workbook has no sheets".into(),
        }))
    }

    /// A speaker sheet in the same workbook: another sheet with a name and an email
    /// column.
    pub fn speaker_sheet(&self, talk_sheet: &str) -> Option<&SheetTable> {
        self.sheets.iter().find(|s| {
            s.name != talk_sheet && vidpipe_domain::talks::SpeakerDirectory::from_table(s).is_ok()
        })
    }
}

/// `bytes` in a new temporary file in `path`'s folder (so that renaming it over `path`
/// is atomic) with `path`'s permissions, named `.vidpipe-…` and removed if it is
/// dropped unrenamed.
///
/// # Errors
/// The filesystem's.
#[cfg(any(feature = "files", feature = "catalog"))]
pub(crate) fn temp_beside(
    path: &std::path::Path,
    bytes: &[u8],
) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".vidpipe-")
        .tempfile_in(dir)?;
    std::io::Write::write_all(&mut temp, bytes)?;
    // A temporary file is private (0600); the file it replaces keeps its own mode.
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(temp.path(), meta.permissions())?;
    }
    Ok(temp)
}

/// What says a file changed since it was read: its length and modification time.
///
/// # Errors
/// The filesystem's (no such file).
#[cfg(any(feature = "files", feature = "catalog"))]
pub(crate) fn fingerprint(path: &std::path::Path) -> std::io::Result<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(path)?;
    Ok((
        meta.len(),
        meta.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH),
    ))
}

/// Writes a link into whichever kind of sheet a talk's row is in: a local file, or a
/// Google Sheet when a client is configured.
#[derive(Debug, Default)]
pub struct SheetLinks {
    pub google: Option<google::GoogleSheets>,
}

impl vidpipe_domain::ports::LinkWriter for SheetLinks {
    async fn write_link(
        &self,
        talk: &vidpipe_domain::talks::TalkRef,
        link: &str,
    ) -> Result<(), vidpipe_domain::PortError> {
        if talk.sheet.starts_with("gsheet:") {
            match &self.google {
                Some(g) => g.write_link(talk, link).await,
                None => Err(vidpipe_domain::PortError::Unavailable(format!(
                    "{}: no Google service account key is configured (VIDPIPE_GOOGLE_KEY)",
                    talk.sheet
                ))),
            }
        } else {
            #[cfg(feature = "files")]
            return local::LocalSheets.write_link(talk, link).await;
            #[cfg(not(feature = "files"))]
            return Err(PortError::Failed(format!(
                "{}: local sheet files are not written here",
                talk.sheet
            )));
        }
    }

    /// A catalog file or `s3://bucket/key` ([`catalog::set`]), with the feature
    /// `catalog`.
    async fn write_catalog(
        &self,
        target: &vidpipe_domain::catalog::CatalogTarget,
        link: Option<&str>,
    ) -> Result<(), vidpipe_domain::PortError> {
        #[cfg(feature = "catalog")]
        {
            use catalog::CatalogStoreError as E;
            use vidpipe_domain::catalog::CatalogError;
            use vidpipe_domain::PortError;
            let location = catalog::CatalogLocation::parse(&target.catalog)
                .map_err(|e| PortError::Invalid(e.to_string()))?;
            match catalog::set(&location, &target.dataset_id, &target.update(link)).await {
                Ok(_) => Ok(()),
                Err(e @ E::Catalog(CatalogError::NoDataset { .. })) => {
                    Err(PortError::NotFound(e.to_string()))
                }
                Err(e @ (E::Catalog(_) | E::BadLocation(_))) => {
                    Err(PortError::Invalid(e.to_string()))
                }
                Err(e @ (E::Io(_) | E::Contended(_))) => Err(PortError::Unavailable(e.to_string())),
            }
        }
        #[cfg(not(feature = "catalog"))]
        {
            let _ = link;
            Err(vidpipe_domain::PortError::Invalid(format!(
                "{}: catalogs are not written here",
                target.catalog
            )))
        }
    }
}

/// Reads a talk sheet (and its speaker sheet: `speakers`, else a second sheet of the
/// same workbook) and finds the row of the video named by `wanted` (its title, then its
/// file name): what ingest needs to fill the sidecar and write the link back later.
///
/// # Errors
/// [`SheetError`]: the sheet is unreadable or has no title column, or no row or more
/// than one matches (naming the closest rows).
pub async fn find_talk(
    sheet: &str,
    speakers: Option<&str>,
    google: Option<&google::GoogleSheets>,
    wanted: &[&str],
) -> Result<vidpipe_domain::stages::TalkMatch, SheetError> {
    let book = read_any(sheet, google)
        .await
        .map_err(|e| located(e, sheet))?;
    let talks = book.talk_sheet().map_err(|e| located(e, sheet))?;
    let row = vidpipe_domain::talks::find_row(talks, wanted).map_err(|e| located(e, sheet))?;
    let directory = match speakers {
        Some(other) => {
            let book = read_any(other, google)
                .await
                .map_err(|e| located(e, other))?;
            let table = book.sheets.first().ok_or_else(|| SheetError::Unreadable {
                sheet: other.to_string(),
                reason: "no sheets".into(),
            })?;
            vidpipe_domain::talks::SpeakerDirectory::from_table(table)
                .map_err(|e| located(e, other))?
        }
        None => match book.speaker_sheet(&talks.name) {
            Some(table) => vidpipe_domain::talks::SpeakerDirectory::from_table(table)
                .map_err(|e| located(e, sheet))?,
            None => vidpipe_domain::talks::SpeakerDirectory::default(),
        },
    };
    Ok(vidpipe_domain::stages::TalkMatch {
        reference: vidpipe_domain::talks::TalkRef {
            sheet: sheet.to_string(),
            tab: talks.name.clone(),
            row_number: row.row_number,
            title: row.title.clone(),
        },
        row,
        directory,
    })
}

/// `e` naming the file or spreadsheet, and the tab where there is one:
/// `talks.xlsx (sheet Talks)`.
fn located(e: SheetError, location: &str) -> SheetError {
    let name = |tab: String| {
        if tab.is_empty() || tab == location {
            location.to_string()
        } else {
            format!("{location} (sheet {tab})")
        }
    };
    match e {
        SheetError::NoTitleColumn { sheet, headers } => SheetError::NoTitleColumn {
            sheet: name(sheet),
            headers,
        },
        SheetError::NoRow {
            sheet,
            wanted,
            closest,
        } => SheetError::NoRow {
            sheet: name(sheet),
            wanted,
            closest,
        },
        SheetError::Ambiguous {
            sheet,
            wanted,
            rows,
        } => SheetError::Ambiguous {
            sheet: name(sheet),
            wanted,
            rows,
        },
        SheetError::Unreadable { sheet, reason } => SheetError::Unreadable {
            sheet: name(sheet),
            reason,
        },
        SheetError::Unavailable { sheet, reason } => SheetError::Unavailable {
            sheet: name(sheet),
            reason,
        },
    }
}

async fn read_any(
    sheet: &str,
    google: Option<&google::GoogleSheets>,
) -> Result<Workbook, SheetError> {
    match SheetSource::parse(sheet)? {
        #[cfg(feature = "files")]
        SheetSource::File { path, format } => local::read(&path, format),
        #[cfg(not(feature = "files"))]
        SheetSource::File { .. } => Err(SheetError::Unreadable {
            sheet: sheet.to_string(),
            reason: "local sheet files are not read here: name a Google Sheet (gsheet:<id>)".into(),
        }),
        SheetSource::Google { spreadsheet_id } => match google {
            Some(g) => g.read(&spreadsheet_id).await,
            None => Err(SheetError::Unreadable {
                sheet: sheet.to_string(),
                reason: "a Google Sheet needs a service account key (VIDPIPE_GOOGLE_KEY)".into(),
            }),
        },
    }
}

/// Where the link goes: the row (0-based) found again by its title (it may have moved
/// since it was read), the link column (0-based) and whether it is new (its header
/// must be written). `Ok(None)` when the cell holds the link already.
pub(crate) fn link_cell(
    table: &SheetTable,
    talk: &TalkRef,
    link: &str,
) -> Result<Option<(usize, usize, bool)>, PortError> {
    let columns = Columns::find(table).map_err(|e| PortError::Invalid(e.to_string()))?;
    let title_col = columns.get(Column::Title).unwrap_or_default();
    let wanted = normalise(&talk.title);
    let rows: Vec<usize> = (1..table.rows.len())
        .filter(|&r| normalise(table.cell(r, title_col)) == wanted)
        .collect();
    let row = match rows.as_slice() {
        [one] => *one,
        [] => {
            return Err(PortError::NotFound(format!(
                "no row titled {:?} any more",
                talk.title
            )))
        }
        many => {
            // Two rows with the title now: the one read before, if it is still one.
            let read = talk.row_number.saturating_sub(1);
            if many.contains(&read) {
                read
            } else {
                return Err(PortError::Invalid(format!(
                    "{} rows are titled {:?}",
                    many.len(),
                    talk.title
                )));
            }
        }
    };
    let (col, new) = match columns.get(Column::Link) {
        Some(c) => (c, false),
        None => (columns.width, true),
    };
    if table.cell(row, col) == link {
        return Ok(None);
    }
    Ok(Some((row, col, new)))
}

/// The header a new link column gets.
pub(crate) const LINK_HEADER: &str = "Link";
