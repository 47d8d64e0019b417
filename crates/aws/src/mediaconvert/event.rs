//! MediaConvert's "Job State Change" (the EventBridge event) as the domain's
//! [`JobStateChange`]. The shape is the one the MediaConvert User Guide documents
//! under "EventBridge events for MediaConvert": `detail.status`, `detail.jobId`,
//! `detail.userMetadata`, and for COMPLETE `detail.outputGroupDetails[]` with each
//! output's `outputFilePaths`, `durationInMs` and `videoDetails`; for ERROR
//! `detail.errorCode` and `detail.errorMessage`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;
use vidpipe_domain::events::{JobKind, JobOutcome, JobStateChange};
use vidpipe_domain::keys::{self, PlanKeys, VideoId};
use vidpipe_domain::ports::ObjectReader;
use vidpipe_domain::record::{OutputFile, OutputKind};

/// Why a MediaConvert event was not turned into a state change.
#[derive(Debug, PartialEq)]
pub enum JobEventError {
    /// Not a state we act on (PROGRESSING, STATUS_UPDATE, …): nothing to do.
    Ignored(String),
    /// Not readable as a state change of one of our jobs.
    Malformed(String),
}

/// The event's part vidpipe reads.
#[derive(Debug, Deserialize)]
pub struct JobStateEvent {
    pub detail: JobDetail,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDetail {
    pub job_id: String,
    #[serde(default)]
    pub status: String,
    /// What CreateJob's `UserMetadata` carried: `video_id`, `job` and `generation`.
    #[serde(default)]
    pub user_metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub output_group_details: Vec<OutputGroupDetail>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputGroupDetail {
    #[serde(default)]
    pub output_details: Vec<OutputDetail>,
    /// HLS groups: the master playlist.
    #[serde(default)]
    pub playlist_file_paths: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputDetail {
    #[serde(default)]
    pub output_file_paths: Vec<String>,
    #[serde(default)]
    pub duration_in_ms: Option<u64>,
    #[serde(default)]
    pub video_details: Option<VideoDetails>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoDetails {
    #[serde(default)]
    pub width_in_px: Option<u32>,
    #[serde(default)]
    pub height_in_px: Option<u32>,
    #[serde(default)]
    pub average_bitrate: Option<u64>,
}

impl JobStateEvent {
    /// Reads the event.
    ///
    /// # Errors
    /// [`JobEventError::Malformed`] when the fields above do not have their types.
    pub fn from_value(event: &Value) -> Result<JobStateEvent, JobEventError> {
        JobStateEvent::deserialize(event)
            .map_err(|e| JobEventError::Malformed(format!("not a job state change: {e}")))
    }
}

/// A MediaConvert "Job State Change" as a [`JobStateChange`]. COMPLETE outputs are
/// measured by a HEAD of each file; frame captures are not listed (the cover stage
/// lists them), HLS variant playlists are.
///
/// # Errors
/// [`JobEventError::Ignored`] for states other than COMPLETE and ERROR;
/// [`JobEventError::Malformed`] for an event without our metadata, or naming an
/// output outside the video's folder or not in the bucket.
pub async fn job_state_change<S: ObjectReader>(
    store: &S,
    event: &Value,
) -> Result<JobStateChange, JobEventError> {
    let detail = JobStateEvent::from_value(event)?.detail;
    let job_id = detail.job_id.clone();
    let video_id = detail
        .user_metadata
        .get("video_id")
        .and_then(|id| VideoId::parse(id))
        .ok_or_else(|| {
            JobEventError::Malformed(format!("job {job_id}: no vidpipe video_id in userMetadata"))
        })?;
    let generation = match detail.user_metadata.get("generation") {
        None => 0,
        Some(n) => n.parse().map_err(|_| {
            JobEventError::Malformed(format!("job {job_id}: generation '{n}' is not a number"))
        })?,
    };
    let at = PlanKeys::new(&video_id, generation);
    let job = match detail.user_metadata.get("job") {
        None => JobKind::Renditions,
        Some(name) => JobKind::parse(name).ok_or_else(|| {
            JobEventError::Malformed(format!("job {job_id}: unknown job kind '{name}'"))
        })?,
    };
    let outcome = match detail.status.as_str() {
        "COMPLETE" => JobOutcome::Complete {
            outputs: complete_outputs(store, &at, job, &detail)
                .await
                .map_err(JobEventError::Malformed)?,
        },
        "ERROR" => JobOutcome::Error {
            code: detail.error_code,
            message: detail
                .error_message
                .clone()
                .unwrap_or_else(|| "no error message".into()),
        },
        other => return Err(JobEventError::Ignored(format!("job {job_id} is {other}"))),
    };
    Ok(JobStateChange {
        video_id,
        job_id,
        outcome,
        job,
        generation,
    })
}

/// The key of an `s3://bucket/key` URI.
fn key_of(uri: &str) -> Option<String> {
    uri.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .map(|(_, key)| key.to_string())
}

/// Every output key a COMPLETE event names, each with its output's details (none
/// for an HLS master playlist), in key order.
fn named_outputs(
    at: &PlanKeys,
    detail: &JobDetail,
) -> Result<Vec<(String, Option<OutputDetail>)>, String> {
    let mut by_key: HashMap<String, Option<OutputDetail>> = HashMap::new();
    for group in &detail.output_group_details {
        let playlists = group.playlist_file_paths.iter().map(|p| (p, None));
        let files = group
            .output_details
            .iter()
            .flat_map(|d| d.output_file_paths.iter().map(move |p| (p, Some(d))));
        for (path, output) in playlists.chain(files) {
            let Some(key) = key_of(path) else { continue };
            if !key.starts_with(&at.media_dir()) {
                return Err(format!("output {key} is outside {}", at.media_dir()));
            }
            by_key.entry(key).or_insert(output.cloned());
        }
    }
    let mut outputs: Vec<_> = by_key.into_iter().collect();
    outputs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(outputs)
}

/// What an output key is, by the names in [`vidpipe_domain::layout`]; `None` for
/// files not recorded as outputs (frame captures, segments).
fn kind_of(
    at: &PlanKeys,
    job: JobKind,
    key: &str,
) -> Option<(OutputKind, Option<String>, &'static str)> {
    let file = key.rsplit('/').next().unwrap_or("");
    if job == JobKind::Promo {
        Some((OutputKind::Promo, None, "h264+aac"))
    } else if key == at.preview_gif() {
        Some((OutputKind::Gif, None, "gif"))
    } else if key == at.hls_master() {
        Some((OutputKind::HlsMaster, None, "h264+aac"))
    } else if key == at.audio_mp3() {
        Some((OutputKind::Mp3, None, "mp3"))
    } else if keys::frame_capture_index(key).is_some() {
        None
    } else {
        let stem = vidpipe_domain::layout::RENDITION_STEM;
        let rung = file.strip_prefix(stem)?.strip_prefix('_')?;
        let (rung, ext) = rung.rsplit_once('.').unwrap_or((rung, ""));
        let kind = if ext == "m3u8" {
            OutputKind::HlsVariant
        } else {
            OutputKind::Rendition
        };
        Some((kind, Some(rung.to_string()), "h264+aac"))
    }
}

async fn complete_outputs<S: ObjectReader>(
    store: &S,
    at: &PlanKeys,
    job: JobKind,
    detail: &JobDetail,
) -> Result<Vec<OutputFile>, String> {
    let mut outputs = Vec::new();
    for (key, output) in named_outputs(at, detail)? {
        let Some((kind, name, codec)) = kind_of(at, job, &key) else {
            continue;
        };
        let bytes = match store.head(&key).await {
            Ok(Some(info)) => info.size_bytes,
            Ok(None) => {
                return Err(format!(
                    "output {key} is named by the job but not in the bucket"
                ))
            }
            Err(e) => return Err(format!("output {key}: {e}")),
        };
        let output = output.unwrap_or_default();
        let video = output.video_details.unwrap_or_default();
        let duration_s = output.duration_in_ms.map(|ms| ms as f64 / 1000.0);
        outputs.push(OutputFile {
            key,
            kind,
            name,
            codec: codec.into(),
            width_px: video.width_in_px,
            height_px: video.height_in_px,
            bitrate_bps: video.average_bitrate.or_else(|| {
                duration_s
                    .filter(|d| *d > 0.0)
                    .map(|d| (bytes as f64 * 8.0 / d) as u64)
            }),
            duration_s,
            bytes,
        });
    }
    Ok(outputs)
}
