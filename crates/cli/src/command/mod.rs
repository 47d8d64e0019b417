//! One module per command, each with one public `run`.

pub mod auth;
pub mod catalog;
pub mod list;
pub mod process;
pub mod publish;
pub mod search;
pub mod serve;
pub mod show;
mod summary;
pub mod timelapse;
pub mod watch;

use std::path::Path;

use anyhow::{Context, Result};
use vidpipe_local::{LocalStore, SqliteRecords};

/// The video whose id is or starts with `id` (at least 4 characters).
///
/// # Errors
/// No video, or several, with that id.
fn find_one(
    records: &SqliteRecords,
    out: &Path,
    id: &str,
) -> Result<vidpipe_domain::record::VideoRecord> {
    let mut found = if id.len() >= 4 {
        records.find_by_prefix(id)?
    } else {
        Vec::new()
    };
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => anyhow::bail!("no video with id {id} in {}", out.display()),
        n => anyhow::bail!("{id} is the start of {n} ids; give more of it"),
    }
}

/// The output folder's store and database.
fn open(out: &Path) -> Result<(LocalStore, SqliteRecords)> {
    let store = LocalStore::open(out)
        .with_context(|| format!("cannot use output folder {}", out.display()))?;
    let records =
        SqliteRecords::open(&out.join("vidpipe.db")).context("cannot open the database")?;
    Ok((store, records))
}

/// The local reconciler, run as a command starts: a processing video whose stage is
/// still held by a vidpipe process on this machine that has ended (`kill -9`, a crash,
/// a restart) is failed with the reason, and the failure is told as any other
/// (`LogNotifier`); processing the file again then runs it whole. Videos held by
/// live runs, or by runs on other machines, are left alone. The ids failed.
async fn reconcile(records: &SqliteRecords) -> Result<Vec<vidpipe_domain::VideoId>> {
    let mut failed = Vec::new();
    for record in records.all()? {
        if record.status != vidpipe_domain::record::VideoStatus::Processing {
            continue;
        }
        let Some((stage, holder)) = vidpipe_local::records::claim_of_a_dead_run(&record) else {
            continue;
        };
        let reason = format!(
            "the vidpipe run that held its {stage} ({holder}) ended before it finished; process the file again to finish it"
        );
        let error = vidpipe_domain::InputError::Other(reason).into();
        let notifier = vidpipe_local::LogNotifier;
        vidpipe_domain::stages::record_failure(records, &notifier, &record.id, stage, error).await;
        failed.push(record.id);
    }
    Ok(failed)
}
