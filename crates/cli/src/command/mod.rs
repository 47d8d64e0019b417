//! One module per command, each with one public `run`.

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

/// The output folder's store and database.
fn open(out: &Path) -> Result<(LocalStore, SqliteRecords)> {
    let store = LocalStore::open(out)
        .with_context(|| format!("cannot use output folder {}", out.display()))?;
    let records =
        SqliteRecords::open(&out.join("vidpipe.db")).context("cannot open the database")?;
    Ok((store, records))
}
