//! The local record table: SQLite (bundled) at `<out>/vidpipe.db`, one row per video.
//! The whole record is kept as JSON in `record`; the columns beside it (status, each
//! stage's status, the failure, the outputs) are there for people and `sqlite3`.
//! Updates are conditional on `version`, as the cloud's DynamoDB writes are.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use vidpipe_domain::ports::{Created, LeaseTerms, UpdateResult, VideoRecords};
use vidpipe_domain::record::{Stage, StageStatus, VideoRecord};
use vidpipe_domain::{PortError, VideoId};

/// How long a local run's claim lasts: a day, longer than any local transcode. A run
/// that dies sooner is found by [`claim_of_a_dead_run`] when vidpipe starts again.
pub const LOCAL_LEASE_S: u64 = 24 * 3600;

/// This machine's name (`/proc/sys/kernel/hostname`), `localhost` where unknown.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The holder this process writes into its claims' leases: `pid N on HOST`.
pub fn local_holder() -> String {
    format!("pid {} on {}", std::process::id(), host_name())
}

/// A stage of `record` still running under the lease of a vidpipe process on this
/// machine that has ended (killed, crashed, the machine restarted): the stage and the
/// holder, for a run that takes the video over. `None` when every running stage's
/// holder is alive, on another machine, or unknown.
pub fn claim_of_a_dead_run(record: &VideoRecord) -> Option<(Stage, String)> {
    record.stages.iter().find_map(|(stage, state)| {
        let lease = state
            .lease
            .as_ref()
            .filter(|_| state.status == StageStatus::Running)?;
        holder_ended(&lease.holder).then(|| (*stage, lease.holder.clone()))
    })
}

/// Whether `holder` is a vidpipe process on this machine that has ended. `false` for
/// one alive, on another machine, or not a process's name.
pub fn holder_ended(holder: &str) -> bool {
    let host = host_name();
    let pid = holder
        .strip_prefix("pid ")
        .and_then(|rest| rest.strip_suffix(&format!(" on {host}")))
        .and_then(|pid| pid.parse::<u32>().ok());
    match pid {
        Some(pid) => pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}

pub struct SqliteRecords {
    conn: Mutex<Connection>,
}

fn db_error(e: rusqlite::Error) -> PortError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            PortError::Unavailable(format!("database busy: {e}"))
        }
        other => PortError::Failed(format!("database: {other}")),
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS videos (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    source_key TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    stage_ingest TEXT NOT NULL,
    stage_transcode TEXT NOT NULL,
    stage_transcribe_start TEXT NOT NULL,
    stage_transcribe_store TEXT NOT NULL,
    stage_cover TEXT NOT NULL,
    stage_publish TEXT NOT NULL,
    error_stage TEXT,
    error_reason TEXT,
    outputs TEXT NOT NULL,
    record TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);";

/// The column values of a record, in `SCHEMA` order after `id`.
struct Row {
    stages: [&'static str; 6],
    outputs: String,
    json: String,
}

fn row_of(record: &VideoRecord) -> Result<Row, PortError> {
    let stages = Stage::ALL.map(|s| record.stage(s).as_str());
    let outputs =
        serde_json::to_string(&record.outputs).map_err(|e| PortError::Failed(e.to_string()))?;
    let json = serde_json::to_string(record).map_err(|e| PortError::Failed(e.to_string()))?;
    Ok(Row {
        stages,
        outputs,
        json,
    })
}

/// Databases made before the cover stage had its name call its column
/// `stage_rekognition` and its failures `rekognition`: renamed in place (the records'
/// JSON reads either name).
fn migrate_cover_stage(conn: &Connection) -> Result<(), rusqlite::Error> {
    let old: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('videos') WHERE name = 'stage_rekognition'",
        [],
        |r| r.get(0),
    )?;
    if old > 0 {
        conn.execute_batch(
            "ALTER TABLE videos RENAME COLUMN stage_rekognition TO stage_cover;
             UPDATE videos SET error_stage = 'cover' WHERE error_stage = 'rekognition';",
        )?;
    }
    Ok(())
}

impl SqliteRecords {
    /// Opens (and creates) the database. WAL mode and a 5 s busy timeout let several
    /// `vidpipe` processes share one output folder.
    ///
    /// # Errors
    /// [`PortError::Failed`] when the file cannot be opened or the schema created.
    pub fn open(path: &Path) -> Result<SqliteRecords, PortError> {
        let conn = Connection::open(path).map_err(db_error)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(db_error)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db_error)?;
        conn.execute_batch(SCHEMA).map_err(db_error)?;
        conn.execute_batch(crate::search::SCHEMA)
            .map_err(db_error)?;
        migrate_cover_stage(&conn).map_err(db_error)?;
        Ok(SqliteRecords {
            conn: Mutex::new(conn),
        })
    }

    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, PortError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn).map_err(db_error)
    }

    /// Every record, newest first.
    pub fn all(&self) -> Result<Vec<VideoRecord>, PortError> {
        let texts: Vec<String> = self.with(|c| {
            let mut stmt = c.prepare("SELECT record FROM videos ORDER BY created_at DESC, id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })?;
        texts.iter().map(|t| parse(t)).collect()
    }

    /// Each video's id and record version, to tell which changed since a last look.
    pub fn versions(&self) -> Result<Vec<(String, u64)>, PortError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached("SELECT id, version FROM videos")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
            rows.collect()
        })
    }

    /// The record whose id starts with `prefix` (at least 4 characters), if exactly one.
    pub fn find_by_prefix(&self, prefix: &str) -> Result<Vec<VideoRecord>, PortError> {
        let pattern = format!("{}%", prefix.replace(['%', '_'], ""));
        let texts: Vec<String> = self.with(|c| {
            let mut stmt = c.prepare("SELECT record FROM videos WHERE id LIKE ?1 ORDER BY id")?;
            let rows = stmt.query_map([pattern], |r| r.get(0))?;
            rows.collect()
        })?;
        texts.iter().map(|t| parse(t)).collect()
    }
}

fn parse(text: &str) -> Result<VideoRecord, PortError> {
    serde_json::from_str(text).map_err(|e| PortError::Failed(format!("stored record: {e}")))
}

impl VideoRecords for SqliteRecords {
    fn lease_terms(&self) -> LeaseTerms {
        LeaseTerms {
            holder: local_holder(),
            lease_s: LOCAL_LEASE_S,
        }
    }

    /// A destination's upload held by a vidpipe process that was killed is taken over
    /// at once, not after the long local lease.
    fn holder_gone(&self, lease: &vidpipe_domain::record::Lease) -> bool {
        holder_ended(&lease.holder)
    }

    async fn create(&self, record: &VideoRecord) -> Result<Created, PortError> {
        let row = row_of(record)?;
        let inserted = self.with(|c| {
            c.execute(
                "INSERT INTO videos VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
                 ON CONFLICT(id) DO NOTHING",
                params![
                    record.id.as_str(), record.source, record.source_key, record.title(), record.status.as_str(),
                    row.stages[0], row.stages[1], row.stages[2], row.stages[3], row.stages[4], row.stages[5],
                    record.failure.as_ref().map(|f| f.stage.as_str()), record.failure.as_ref().map(|f| f.reason.as_str()),
                    row.outputs, row.json, record.version as i64, record.created_at_unix_s as i64, record.updated_at_unix_s as i64
                ],
            )
        })?;
        if inserted == 1 {
            return Ok(Created::Created);
        }
        let existing = self
            .get(&record.id)
            .await?
            .ok_or_else(|| PortError::Unavailable("record vanished".into()))?;
        Ok(Created::Existing(Box::new(existing)))
    }

    async fn get(&self, id: &VideoId) -> Result<Option<VideoRecord>, PortError> {
        let text: Option<String> = self.with(|c| {
            c.query_row(
                "SELECT record FROM videos WHERE id = ?1",
                [id.as_str()],
                |r| r.get(0),
            )
            .optional()
        })?;
        text.as_deref().map(parse).transpose()
    }

    async fn update(&self, record: &VideoRecord) -> Result<UpdateResult, PortError> {
        let mut next = record.clone();
        next.version += 1;
        let row = row_of(&next)?;
        let changed = self.with(|c| {
            c.execute(
                "UPDATE videos SET source = ?2, title = ?3, status = ?4,
                    stage_ingest = ?5, stage_transcode = ?6, stage_transcribe_start = ?7,
                    stage_transcribe_store = ?8, stage_cover = ?9, stage_publish = ?10,
                    error_stage = ?11, error_reason = ?12, outputs = ?13, record = ?14,
                    version = ?15, updated_at = ?16
                 WHERE id = ?1 AND version = ?17",
                params![
                    next.id.as_str(),
                    next.source,
                    next.title(),
                    next.status.as_str(),
                    row.stages[0],
                    row.stages[1],
                    row.stages[2],
                    row.stages[3],
                    row.stages[4],
                    row.stages[5],
                    next.failure.as_ref().map(|f| f.stage.as_str()),
                    next.failure.as_ref().map(|f| f.reason.as_str()),
                    row.outputs,
                    row.json,
                    next.version as i64,
                    next.updated_at_unix_s as i64,
                    record.version as i64
                ],
            )
        })?;
        Ok(if changed == 1 {
            UpdateResult::Stored
        } else {
            UpdateResult::Conflict
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidpipe_domain::record::StageStatus;

    #[tokio::test]
    async fn create_is_conditional_and_updates_check_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteRecords::open(&dir.path().join("v.db")).unwrap();
        let id = VideoId::parse("00000000000000aa").unwrap();
        let mut rec = VideoRecord::new(id.clone(), "uploads/a.mp4", "/tmp/a.mp4");
        assert_eq!(db.create(&rec).await.unwrap(), Created::Created);
        assert!(matches!(
            db.create(&rec).await.unwrap(),
            Created::Existing(_)
        ));
        rec.fail(Stage::Ingest, "empty (0 bytes)");
        assert_eq!(db.update(&rec).await.unwrap(), UpdateResult::Stored);
        // The same version again: someone else wrote first.
        assert_eq!(db.update(&rec).await.unwrap(), UpdateResult::Conflict);
        let stored = db.get(&id).await.unwrap().unwrap();
        assert_eq!(
            (stored.version, stored.stage(Stage::Ingest)),
            (1, StageStatus::Failed)
        );
        let (stage, reason): (String, String) = db
            .with(|c| {
                c.query_row(
                    "SELECT error_stage, error_reason FROM videos WHERE id = ?1",
                    [id.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
            })
            .unwrap();
        assert_eq!(
            (stage.as_str(), reason.as_str()),
            ("ingest", "empty (0 bytes)")
        );
        assert_eq!(db.find_by_prefix("0000").unwrap().len(), 1);
        assert_eq!(db.all().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_database_from_before_the_cover_stage_name_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let id = VideoId::parse("00000000000000bb").unwrap();
        let mut rec = VideoRecord::new(id.clone(), "uploads/a.mp4", "/tmp/a.mp4");
        rec.fail(Stage::Cover, "unreadable frames");
        let json = serde_json::to_string(&rec)
            .unwrap()
            .replace("\"cover\"", "\"rekognition\"");
        assert!(json.contains("\"rekognition\""));
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(&SCHEMA.replace("stage_cover", "stage_rekognition"))
                .unwrap();
            old.execute(
                "INSERT INTO videos VALUES (?1, 's', 'uploads/a.mp4', 't', 'failed', 'done',
                 'done', 'skipped', 'skipped', 'failed', 'pending', 'rekognition', 'r', '[]',
                 ?2, 0, 0, 0)",
                params![id.as_str(), json],
            )
            .unwrap();
        }
        let db = SqliteRecords::open(&path).unwrap();
        let back = db.get(&id).await.unwrap().unwrap();
        assert_eq!(back.failure.as_ref().unwrap().stage, Stage::Cover);
        assert_eq!(back.stage(Stage::Cover), StageStatus::Failed);
        let (column, error_stage): (String, String) = db
            .with(|c| {
                c.query_row("SELECT stage_cover, error_stage FROM videos", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
            })
            .unwrap();
        assert_eq!((column.as_str(), error_stage.as_str()), ("failed", "cover"));
        drop(db);
        SqliteRecords::open(&path).expect("opening again finds nothing to migrate");
    }

    #[test]
    fn a_destination_held_by_an_ended_process_is_taken_over_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let records = SqliteRecords::open(&dir.path().join("v.db")).unwrap();
        let lease = |holder: String| vidpipe_domain::record::Lease {
            holder,
            expires_unix_s: u64::MAX,
        };
        // This process, alive: its own. Another machine's: not ours to judge.
        assert!(!records.holder_gone(&lease(local_holder())));
        assert!(!records.holder_gone(&lease("pid 1 on another-host".into())));
        // A pid on this machine that no process has.
        let gone = format!("pid {} on {}", u32::MAX - 7, host_name());
        assert!(records.holder_gone(&lease(gone)));
    }
}
