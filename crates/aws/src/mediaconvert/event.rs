//! MediaConvert's "Job State Change" (the EventBridge event) as the domain's
//! [`JobStateChange`]. The shape is the one the MediaConvert User Guide documents
//! under "EventBridge events for MediaConvert": `detail.status`, `detail.jobId`,
//! `detail.userMetadata`, and for COMPLETE `detail.outputGroupDetails[]` with each
//! output's `outputFilePaths`, `durationInMs` and `videoDetails` (a CMAF group names
//! only its master playlist, in `playlistFilePaths`); for ERROR
//! `detail.errorCode` and `detail.errorMessage`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;
use vidpipe_domain::events::{JobKind, JobOutcome, JobStateChange};
use vidpipe_domain::keys::{self, PlanKeys, VideoId};
use vidpipe_domain::layout;
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
    /// HLS and CMAF groups: the master playlist (and a CMAF group's DASH manifest).
    #[serde(default)]
    pub playlist_file_paths: Vec<String>,
    /// `FILE_GROUP`, `HLS_GROUP`, `CMAF_GROUP`, …
    #[serde(default, rename = "type")]
    pub group_type: Option<String>,
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
        let playlists = group.playlist_file_paths.iter().map(|p| (key_of(p), None));
        let files = group.output_details.iter().flat_map(|d| {
            d.output_file_paths
                .iter()
                .map(move |p| (key_of(p), Some(d)))
        });
        let renditions = cmaf_renditions(at, group).map(|(key, d)| (Some(key), d));
        for (key, output) in playlists.chain(files).chain(renditions) {
            let Some(key) = key else { continue };
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

/// A CMAF group's renditions, which its COMPLETE event does not name: each output's
/// variant playlist's key as the layout names it, `…/hls/video_<rung>.m3u8` for a
/// picture (the rung named by its short side, as the plan names rungs) and
/// `…/hls/video_audio.m3u8` for the sound, with the output's details. Nothing for
/// other groups.
fn cmaf_renditions<'a>(
    at: &'a PlanKeys,
    group: &'a OutputGroupDetail,
) -> impl Iterator<Item = (String, Option<&'a OutputDetail>)> + 'a {
    let cmaf = group.group_type.as_deref() == Some("CMAF_GROUP");
    group
        .output_details
        .iter()
        .filter(move |d| cmaf && d.output_file_paths.is_empty())
        .map(move |d| {
            let size = d
                .video_details
                .as_ref()
                .and_then(|v| Some(v.width_in_px?.min(v.height_in_px?)));
            let name = size.map_or(layout::AUDIO_RENDITION.to_string(), |px| format!("{px}p"));
            (at.hls_variant(&name), Some(d))
        })
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
        let name = (key == at.promo_vertical()).then(|| "vertical".to_string());
        Some((OutputKind::Promo, name, "h264+aac"))
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
        let (kind, codec) = match ext {
            "m3u8" if rung == layout::AUDIO_RENDITION => (OutputKind::HlsVariant, "aac/fmp4"),
            "m3u8" => (OutputKind::HlsVariant, "h264/fmp4"),
            _ => (OutputKind::Rendition, "h264+aac"),
        };
        Some((kind, Some(rung.to_string()), codec))
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

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vidpipe_domain::fakes::MemStore;

    use super::*;

    /// A COMPLETE as the User Guide's sample for a CMAF group has it: the group names
    /// its master playlist only; its outputs have durations and picture sizes.
    #[tokio::test]
    async fn a_cmaf_group_s_renditions_are_found_by_their_playlists() {
        let id = VideoId::parse("0123456789abcdef").unwrap();
        let at = PlanKeys::new(&id, 1);
        let store = MemStore::default();
        let uri = |key: String| format!("s3://b/{key}");
        for key in [
            at.hls_master(),
            at.hls_variant("1080p"),
            at.hls_variant("720p"),
            at.hls_variant("audio"),
            at.rendition("1080p"),
        ] {
            store.insert(&key, b"#EXTM3U\n");
        }
        let picture = |w: u32, h: u32| {
            json!({"durationInMs": 30000,
            "videoDetails": {"widthInPx": w, "heightInPx": h}})
        };
        let event = json!({"detail": {"jobId": "j-1", "status": "COMPLETE",
        "userMetadata": {"video_id": id.as_str(), "generation": "1"},
        "outputGroupDetails": [
            {"type": "FILE_GROUP", "outputDetails": [{"outputFilePaths": [uri(at.rendition("1080p"))],
                "durationInMs": 30000, "videoDetails": {"widthInPx": 1920, "heightInPx": 1080}}]},
            {"type": "CMAF_GROUP", "playlistFilePaths": [uri(at.hls_master())],
                "outputDetails": [picture(1920, 1080), picture(1280, 720), {"durationInMs": 30010}]}
        ]}});
        let change = job_state_change(&store, &event).await.unwrap();
        let JobOutcome::Complete { outputs } = change.outcome else {
            panic!("{:?}", change.outcome)
        };
        let found: Vec<_> = outputs
            .iter()
            .map(|o| (o.key.clone(), o.kind, o.name.clone(), o.height_px))
            .collect();
        let rung = |name: &str| Some(name.to_string());
        assert_eq!(
            found,
            [
                (at.hls_master(), OutputKind::HlsMaster, None, None),
                (
                    at.hls_variant("1080p"),
                    OutputKind::HlsVariant,
                    rung("1080p"),
                    Some(1080)
                ),
                (
                    at.hls_variant("720p"),
                    OutputKind::HlsVariant,
                    rung("720p"),
                    Some(720)
                ),
                (
                    at.hls_variant("audio"),
                    OutputKind::HlsVariant,
                    rung("audio"),
                    None
                ),
                (
                    at.rendition("1080p"),
                    OutputKind::Rendition,
                    rung("1080p"),
                    Some(1080)
                ),
            ]
        );
        // A portrait rung is named by its short side too; a playlist the job did not
        // write is an error that names it.
        let event = json!({"detail": {"jobId": "j-2", "status": "COMPLETE",
            "userMetadata": {"video_id": id.as_str(), "generation": "1"},
            "outputGroupDetails": [{"type": "CMAF_GROUP", "playlistFilePaths": [uri(at.hls_master())],
                "outputDetails": [picture(360, 640)]}]}});
        let err = job_state_change(&store, &event).await.unwrap_err();
        assert_eq!(
            err,
            JobEventError::Malformed(format!(
                "output {} is named by the job but not in the bucket",
                at.hls_variant("360p")
            ))
        );
    }
}
