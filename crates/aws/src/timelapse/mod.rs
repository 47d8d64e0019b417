//! The scheduled time-lapse function's work: sync a dataset's frames from FTP into the
//! bucket, compose the period's movie in Rust and stream it to S3 as a Y4M mezzanine
//! with a multipart upload, under `uploads/` with a sidecar, where ingest takes it as
//! any upload and MediaConvert encodes it.
//!
//! Why Y4M: MediaConvert reads no image sequences, and a Lambda function should not
//! carry an ffmpeg binary (the functions never link ffmpeg). Y4M is raw 4:2:0 video
//! in a stream, which MediaConvert takes as input, so the pictures are made here (the
//! same code as `vidpipe timelapse`) and the encode is MediaConvert's. The stream is
//! never held: one picture a time and one upload part (64 MiB) are in memory.
//!
//! Limits, for one invocation (Lambda: 15 minutes, up to 10 240 MB; S3 multipart:
//! parts of 5 MiB to 5 GiB, at most 10 000, so 640 GiB at 64 MiB a part): a
//! 4096×2048 frame is 12.6 MB of Y4M (12.6 MB × 365 = 4.6 GB for a year of daily
//! frames); memory stays near 300 MB at any length (the part buffer, four pictures,
//! the basemap). Time is the bound: see the README for the figures measured here.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::runtime::Handle;
use tracing::{info, warn};
use vidpipe_domain::catalog::CatalogTarget;
use vidpipe_domain::sidecar::Sidecar;
use vidpipe_domain::timelapse::{self as frames, Fill, Period, TimelapseError};
use vidpipe_timelapse::compose::{self, ComposeError, Composer};
use vidpipe_timelapse::ftp::{self, FrameStore, FtpSource, SyncError, SyncReport, Want};

use crate::error::port_error;

mod s3;
pub use s3::{MultipartUpload, S3Frames, PART_BYTES};

/// One dataset's job: the schedule's input, or a JSON object in the bucket that the
/// input names (`{"config_key": "config/timelapse/drought.json"}`). Empty strings
/// count as absent, so a template can pass its parameters whole.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TimelapseJob {
    /// Names the frames' folder (`timelapse/<id>/frames/`), the movie and, with
    /// `catalog`, the catalog entry. Letters, digits, `-`, `_` and `.`.
    pub dataset_id: String,
    /// `ftp://[user@]host[:port]/dir` or `ftps://…`.
    pub input: String,
    /// A Secrets Manager secret whose string is the FTP password.
    #[serde(default)]
    pub password_secret: Option<String>,
    /// ISO 8601 (`P1Y`) or `1Y`, `1M`, `1W`, `1D`.
    pub period: String,
    /// The period's end (ISO 8601 UTC); default the newest frame.
    #[serde(default)]
    pub end: Option<String>,
    #[serde(default)]
    pub pattern: Option<String>,
    /// The time between frames (`PT6H`); default the median step.
    #[serde(default)]
    pub cadence: Option<String>,
    /// An image in the bucket drawn below every frame.
    #[serde(default)]
    pub basemap_key: Option<String>,
    /// Frames a second; default 30.
    #[serde(default)]
    pub fps: Option<u32>,
    /// `WxH`: each frame fitted into it. Default: the preset's, else the first
    /// frame's.
    #[serde(default)]
    pub size: Option<String>,
    /// `sos` (4096×2048) or `web` (1920×1080).
    #[serde(default)]
    pub preset: Option<String>,
    #[serde(default)]
    pub label: bool,
    /// `none`, `hold`, `blank` or `basemap`.
    #[serde(default)]
    pub fill: Option<String>,
    /// `s3://bucket/key`: the dataset's entry gets the period (and the link) once the
    /// movie is published.
    #[serde(default)]
    pub catalog: Option<String>,
    /// The movie's title; default the dataset id and the period.
    #[serde(default)]
    pub title: Option<String>,
}

/// What starts a run: a job, or where one is kept.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum TimelapseEvent {
    Config { config_key: String },
    Job(Box<TimelapseJob>),
}

#[derive(Debug, Error)]
pub enum TimelapseRunError {
    #[error("the job: {0}")]
    BadJob(String),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Frames(#[from] TimelapseError),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    #[error("{0}")]
    S3(String),
}

/// What a run did; also written to `timelapse/<id>/report.json`.
#[derive(Debug, Default, Serialize)]
pub struct CloudRunReport {
    pub dataset_id: String,
    pub sync: Option<SyncReport>,
    pub frames_used: usize,
    pub duplicates: Vec<(String, String)>,
    pub untimed: Vec<String>,
    pub gaps: Vec<String>,
    pub first_frame: Option<String>,
    pub last_frame: Option<String>,
    /// The Y4M mezzanine handed to ingest.
    pub movie_key: Option<String>,
    pub movie_bytes: u64,
    pub steps: u64,
    /// Whether this period's movie was already there (a repeated invocation).
    pub already_made: bool,
    pub error: Option<String>,
}

fn none_if_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn stamp(t: frames::FrameTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The job's event resolved: the job itself, or read from the bucket.
///
/// # Errors
/// [`TimelapseRunError::BadJob`]: not JSON of either shape, or the config object
/// missing.
pub async fn job_of(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    event: serde_json::Value,
) -> Result<TimelapseJob, TimelapseRunError> {
    let event: TimelapseEvent = serde_json::from_value(event).map_err(|e| {
        TimelapseRunError::BadJob(format!("neither a job nor {{\"config_key\": KEY}}: {e}"))
    })?;
    match event {
        TimelapseEvent::Job(job) => Ok(*job),
        TimelapseEvent::Config { config_key } => {
            let bytes = get(s3, bucket, &config_key).await?;
            serde_json::from_slice(&bytes)
                .map_err(|e| TimelapseRunError::BadJob(format!("s3://{bucket}/{config_key}: {e}")))
        }
    }
}

async fn get(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, TimelapseRunError> {
    let (bytes, _) = crate::s3::get_object(s3, bucket, key)
        .await
        .map_err(|e| TimelapseRunError::S3(e.to_string()))?;
    Ok(bytes)
}

impl TimelapseJob {
    /// Checks the job without running it: the id, period, fill, fps, size, preset
    /// and cadence.
    ///
    /// # Errors
    /// [`TimelapseRunError::BadJob`] or [`TimelapseRunError::Frames`] naming the field.
    pub fn validate(&self) -> Result<(), TimelapseRunError> {
        check(self).map(|_| ())
    }
}

/// The job checked: (period, fill, fps, size, cadence in seconds).
type Checked = (Period, Fill, u32, Option<(u32, u32)>, Option<i64>);

fn check(job: &TimelapseJob) -> Result<Checked, TimelapseRunError> {
    let bad = |m: String| TimelapseRunError::BadJob(m);
    let id_ok = !job.dataset_id.is_empty()
        && job
            .dataset_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !id_ok {
        return Err(bad(format!(
            "dataset_id {:?}: letters, digits, '-', '_' and '.' only",
            job.dataset_id
        )));
    }
    let period = Period::parse(&job.period)?;
    let fill = match none_if_empty(&job.fill).unwrap_or("none") {
        "none" => Fill::None,
        "hold" => Fill::Hold,
        "blank" => Fill::Blank,
        "basemap" => Fill::Basemap,
        other => return Err(bad(format!("fill {other:?}: none, hold, blank or basemap"))),
    };
    let fps = job.fps.unwrap_or(30);
    if !(1..=120).contains(&fps) {
        return Err(bad(format!("fps {fps}: 1 to 120")));
    }
    let preset = match none_if_empty(&job.preset) {
        None => None,
        Some("sos") => Some((4096, 2048)),
        Some("web") => Some((1920, 1080)),
        Some(other) => return Err(bad(format!("preset {other:?}: sos or web"))),
    };
    let size = match none_if_empty(&job.size) {
        Some(text) => {
            let parsed = text
                .split_once(['x', 'X'])
                .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
                .filter(|&(w, h): &(u32, u32)| {
                    (1..=compose::MAX_SIDE).contains(&w) && (1..=compose::MAX_SIDE).contains(&h)
                });
            Some(parsed.ok_or_else(|| {
                bad(format!(
                    "size {text:?}: WIDTHxHEIGHT, each 1 to {}",
                    compose::MAX_SIDE
                ))
            })?)
        }
        None => preset,
    };
    let cadence = match none_if_empty(&job.cadence) {
        Some(text) => match Period::parse(text)? {
            Period { months: 0, seconds } => Some(seconds),
            _ => return Err(bad(format!("cadence {text:?}: give days or hours (P30D)"))),
        },
        None => None,
    };
    Ok((period, fill, fps, size, cadence))
}

/// Runs `job` against the bucket: sync, select, compose, upload. Blocking: call it
/// from `spawn_blocking`, with `rt` the runtime's handle. The report is returned,
/// and written to `timelapse/<id>/report.json`, whatever happened.
pub fn run(
    s3: &aws_sdk_s3::Client,
    secrets: Option<&aws_sdk_secretsmanager::Client>,
    bucket: &str,
    job: &TimelapseJob,
    rt: Handle,
) -> (CloudRunReport, Result<(), TimelapseRunError>) {
    let mut report = CloudRunReport {
        dataset_id: job.dataset_id.clone(),
        ..CloudRunReport::default()
    };
    let result = run_into(s3, secrets, bucket, job, rt.clone(), &mut report);
    if let Err(e) = &result {
        report.error = Some(e.to_string());
    }
    if check(job).is_ok() {
        let key = format!("timelapse/{}/report.json", job.dataset_id);
        let body = serde_json::to_vec_pretty(&report).unwrap_or_default();
        let put = rt.block_on(
            s3.put_object()
                .bucket(bucket)
                .key(&key)
                .content_type("application/json")
                .body(body.into())
                .send(),
        );
        if let Err(e) = put {
            warn!(%key, error = %port_error("s3 PutObject", e), "the run report was not written");
        }
    }
    (report, result)
}

fn run_into(
    s3: &aws_sdk_s3::Client,
    secrets: Option<&aws_sdk_secretsmanager::Client>,
    bucket: &str,
    job: &TimelapseJob,
    rt: Handle,
    report: &mut CloudRunReport,
) -> Result<(), TimelapseRunError> {
    let (period, fill, fps, size, cadence) = check(job)?;
    let end = match none_if_empty(&job.end) {
        Some(text) => {
            let iso =
                vidpipe_domain::catalog::iso8601_utc(text).map_err(TimelapseRunError::BadJob)?;
            Some(
                frames::FrameTime::parse_from_str(&iso, "%Y-%m-%dT%H:%M:%SZ")
                    .map_err(|e| TimelapseRunError::BadJob(format!("end {text:?}: {e}")))?,
            )
        }
        None => None,
    };
    let mut source = FtpSource::parse(&job.input)?;
    if let Some(secret) = none_if_empty(&job.password_secret) {
        let secrets =
            secrets.ok_or_else(|| TimelapseRunError::BadJob("no Secrets Manager client".into()))?;
        let value = rt
            .block_on(secrets.get_secret_value().secret_id(secret).send())
            .map_err(|e| {
                TimelapseRunError::S3(port_error("secretsmanager GetSecretValue", e).to_string())
            })?;
        let password = value.secret_string().ok_or_else(|| {
            TimelapseRunError::BadJob(format!("{secret}: the secret has no string value"))
        })?;
        source = source.with_password(password.to_string());
    }
    let basemap = match none_if_empty(&job.basemap_key) {
        Some(key) => {
            let bytes = rt.block_on(get(s3, bucket, key))?;
            Some(
                compose::decode(&format!("basemap s3://{bucket}/{key}"), &bytes).map_err(|e| {
                    match e {
                        ComposeError::NotAnImage { path, reason } => {
                            ComposeError::Basemap { path, reason }
                        }
                        other => other,
                    }
                })?,
            )
        }
        None => None,
    };
    let pattern = none_if_empty(&job.pattern);
    let want = Want {
        pattern,
        period,
        end,
    };
    let mut store = S3Frames {
        s3,
        bucket,
        prefix: format!("timelapse/{}/frames/", job.dataset_id),
        rt: rt.clone(),
    };
    let (sync, remote) = ftp::sync(&source, &mut store, &want, false)?;
    let failure = sync.failure();
    report.sync = Some(sync);
    if let Some(reason) = failure {
        return Err(TimelapseRunError::Sync(SyncError::Transfer {
            server: source.to_string(),
            reason,
        }));
    }
    let held: Vec<String> = store
        .held()?
        .into_keys()
        .filter(|n| vidpipe_timelapse::is_frame_name(n))
        .collect();
    let mut selection = frames::select(&held, pattern, period, end, cadence)?;
    selection.add_unfetched(remote);
    let (first, last) = (
        selection.frames.first().expect("select keeps one").time,
        selection.frames.last().expect("select keeps one").time,
    );
    report.frames_used = selection.frames.len();
    report.duplicates = selection.duplicates.clone();
    report.untimed = selection.untimed.clone();
    report.gaps = selection.gaps.iter().map(|t| stamp(*t)).collect();
    report.first_frame = Some(stamp(first));
    report.last_frame = Some(stamp(last));

    let name = format!(
        "timelapse-{}-{}",
        job.dataset_id,
        last.format("%Y%m%dT%H%M%SZ")
    );
    let movie_key = format!("uploads/{name}.y4m");
    report.movie_key = Some(movie_key.clone());
    let steps = selection.steps(fill);
    // The first frame decides the size when none is given.
    let first_image = compose::decode(
        &selection.frames[0].name,
        &store.read(&selection.frames[0].name)?,
    )?;
    let size = size.unwrap_or((first_image.width(), first_image.height()));
    let composer = Composer::with_basemap_image(size, basemap, job.label)?;
    let (w, h) = composer.size();
    let expected = vidpipe_timelapse::y4m::stream_len(w, h, fps, steps.len() as u64);
    let existing = rt.block_on(s3.head_object().bucket(bucket).key(&movie_key).send());
    if existing.ok().and_then(|h| h.content_length()) == Some(expected as i64) {
        info!(key = %movie_key, "this period's movie is already there; nothing redone");
        report.already_made = true;
        report.movie_bytes = expected;
        report.steps = steps.len() as u64;
        return Ok(());
    }

    // The sidecar first: ingest reads it with the movie.
    let title = none_if_empty(&job.title)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}, {} to {}", job.dataset_id, stamp(first), stamp(last)));
    let sidecar = Sidecar {
        title: Some(title),
        description: Some(format!(
            "A time-lapse of {} frames from {} to {} (UTC).",
            selection.frames.len(),
            stamp(first),
            stamp(last)
        )),
        tags: vec!["timelapse".into()],
        catalog: none_if_empty(&job.catalog).map(|catalog| CatalogTarget {
            catalog: catalog.to_string(),
            dataset_id: job.dataset_id.clone(),
            start: stamp(first),
            end: stamp(last),
        }),
        ..Sidecar::default()
    };
    let sidecar_body = serde_json::to_vec_pretty(&sidecar)
        .map_err(|e| TimelapseRunError::BadJob(e.to_string()))?;
    rt.block_on(
        s3.put_object()
            .bucket(bucket)
            .key(format!("uploads/{name}.json"))
            .content_type("application/json")
            .body(sidecar_body.into())
            .send(),
    )
    .map_err(|e| TimelapseRunError::S3(port_error("s3 PutObject (sidecar)", e).to_string()))?;

    let mut upload = MultipartUpload::new(s3, bucket, &movie_key, rt.clone(), PART_BYTES);
    let first_name = selection.frames[0].name.clone();
    let first_image = std::sync::Mutex::new(Some(first_image));
    let load = |frame: &frames::Frame| {
        if frame.name == first_name {
            if let Some(image) = first_image.lock().map(|mut g| g.take()).unwrap_or(None) {
                return Ok(image);
            }
        }
        let bytes = store
            .read(&frame.name)
            .map_err(|e| ComposeError::NotAnImage {
                path: frame.name.clone(),
                reason: e.to_string(),
            })?;
        compose::decode(&frame.name, &bytes)
    };
    let written =
        vidpipe_timelapse::write_movie(&composer, &load, &selection, &steps, fps, &mut upload);
    match written {
        Ok(n) => {
            report.steps = n;
            report.movie_bytes = upload
                .complete()
                .map_err(|e| TimelapseRunError::S3(e.to_string()))?;
        }
        Err(e) => {
            upload.abort();
            return Err(match e {
                vidpipe_timelapse::MovieError::Compose(c) => TimelapseRunError::Compose(c),
                vidpipe_timelapse::MovieError::Write(w) => TimelapseRunError::S3(w.to_string()),
            });
        }
    }
    info!(key = %movie_key, bytes = report.movie_bytes, steps = report.steps, "time-lapse handed to ingest");
    Ok(())
}

/// The function's handler: resolves the event into a job ([`job_of`]) and runs it on
/// a blocking thread ([`run`]); returns the run report as JSON.
///
/// # Errors
/// The job's or the run's, after the report is written: the invocation fails, so
/// Lambda retries it and then sends it to the function's dead-letter queue.
pub async fn handle_event(
    clients: &crate::config::Clients,
    bucket: &str,
    event: serde_json::Value,
) -> Result<serde_json::Value, TimelapseRunError> {
    let job = job_of(&clients.s3, bucket, event).await?;
    let s3 = clients.s3.clone();
    let secrets = aws_sdk_secretsmanager::Client::new(&clients.sdk);
    let bucket = bucket.to_string();
    let rt = Handle::current();
    let (report, result) =
        tokio::task::spawn_blocking(move || run(&s3, Some(&secrets), &bucket, &job, rt))
            .await
            .map_err(|e| TimelapseRunError::BadJob(format!("the run stopped: {e}")))?;
    result?;
    serde_json::to_value(&report).map_err(|e| TimelapseRunError::BadJob(e.to_string()))
}
