//! `manifest.json`: every output of a video with its measured properties, the frame
//! scores behind the cover, and the plan that made them. Paths are relative to the
//! manifest (the video's own folder), so the folder can be moved or served as is.

use serde::Serialize;

use crate::cover::FrameScore;
use crate::media::MediaInfo;
use crate::plan::Plan;
use crate::record::{OutputFile, VideoRecord};
use crate::sidecar::Speaker;

#[derive(Debug, Clone, Serialize)]
pub struct ManifestOutput<'a> {
    /// Path relative to the manifest.
    pub path: String,
    #[serde(flatten)]
    pub output: &'a OutputFile,
}

#[derive(Debug, Clone, Serialize)]
pub struct Manifest<'a> {
    pub video_id: &'a str,
    pub title: String,
    pub source: &'a str,
    pub status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub speakers: &'a [Speaker],
    pub tags: &'a [String],
    pub media: Option<&'a MediaInfo>,
    pub plan: Option<&'a Plan>,
    pub outputs: Vec<ManifestOutput<'a>>,
    /// Path of the cover, relative to the manifest.
    pub cover: Option<String>,
    pub frames: Vec<ManifestFrame<'a>>,
    pub labels: &'a [String],
}

#[derive(Debug, Clone, Serialize)]
pub struct ManifestFrame<'a> {
    pub path: String,
    #[serde(flatten)]
    pub score: &'a FrameScore,
}

impl<'a> Manifest<'a> {
    /// The manifest of `record`; `rel` gives an object's path relative to the video's
    /// media folder (an object store's `relative_path`).
    pub fn of(record: &'a VideoRecord, rel: &dyn Fn(&str) -> String) -> Manifest<'a> {
        let sidecar = record.sidecar.as_ref();
        Manifest {
            video_id: record.id.as_str(),
            title: record.title(),
            source: &record.source,
            status: record.status.as_str(),
            description: sidecar.and_then(|s| s.description.as_deref()),
            speakers: sidecar.map_or(&[], |s| s.speakers.as_slice()),
            tags: sidecar.map_or(&[], |s| s.tags.as_slice()),
            media: record.media.as_ref(),
            plan: record.plan.as_ref(),
            outputs: record
                .outputs
                .iter()
                .map(|o| ManifestOutput {
                    path: rel(&o.key),
                    output: o,
                })
                .collect(),
            cover: record.cover_key.as_deref().map(rel),
            frames: record
                .frames
                .iter()
                .map(|f| ManifestFrame {
                    path: rel(&f.key),
                    score: f,
                })
                .collect(),
            labels: &record.labels,
        }
    }

    /// Pretty JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}
