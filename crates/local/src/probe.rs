//! Probing with ffprobe (`-print_format json`), parsed with serde.

use std::path::Path;

use serde::Deserialize;
use tokio::process::Command;
use vidpipe_domain::media::{AudioStreamInfo, MediaInfo, VideoStreamInfo};
use vidpipe_domain::ports::{MediaProber, ObjectInfo};
use vidpipe_domain::PortError;

use crate::store::LocalStore;

/// The part of ffprobe's JSON we read.
#[derive(Debug, Deserialize)]
pub struct FfprobeOutput {
    #[serde(default)]
    pub streams: Vec<FfprobeStream>,
    pub format: Option<FfprobeFormat>,
}

#[derive(Debug, Deserialize)]
pub struct FfprobeFormat {
    #[serde(default)]
    pub format_name: String,
    pub duration: Option<String>,
    pub size: Option<String>,
    pub bit_rate: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct FfprobeStream {
    pub codec_type: Option<String>,
    #[serde(default)]
    pub codec_name: String,
    pub profile: Option<String>,
    pub level: Option<i64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub avg_frame_rate: Option<String>,
    pub r_frame_rate: Option<String>,
    pub sample_aspect_ratio: Option<String>,
    pub channels: Option<u32>,
    pub sample_rate: Option<String>,
    pub duration: Option<String>,
    pub nb_frames: Option<String>,
    pub bit_rate: Option<String>,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub side_data_list: Vec<serde_json::Value>,
    #[serde(default)]
    pub disposition: std::collections::BTreeMap<String, i64>,
}

/// `"30000/1001"` → 29.97; `"0/0"` or junk → 0.
pub fn ratio(text: Option<&str>) -> f64 {
    let Some(text) = text else { return 0.0 };
    let (n, d) = text.split_once(['/', ':']).unwrap_or((text, "1"));
    match (n.parse::<f64>(), d.parse::<f64>()) {
        (Ok(n), Ok(d)) if d != 0.0 && n.is_finite() => n / d,
        _ => 0.0,
    }
}

impl FfprobeStream {
    fn rotation_deg(&self) -> i32 {
        // ffmpeg ≥ 5 gives the display matrix as side data ("rotation": -90 means 90°
        // clockwise); older files also carry a "rotate" tag.
        let from_side = self
            .side_data_list
            .iter()
            .find_map(|s| s.get("rotation").and_then(|r| r.as_f64()));
        let deg = from_side
            .map(|r| -r)
            .or_else(|| self.tags.get("rotate").and_then(|r| r.parse::<f64>().ok()))
            .unwrap_or(0.0);
        (deg.round() as i32).rem_euclid(360)
    }

    fn is_cover_art(&self) -> bool {
        self.disposition.get("attached_pic").copied().unwrap_or(0) == 1
    }
}

/// Turns ffprobe's JSON into [`MediaInfo`].
///
/// # Errors
/// [`PortError::Invalid`] when it has no format or no audio/video stream.
pub fn media_info_from(out: &FfprobeOutput) -> Result<MediaInfo, PortError> {
    let format = out
        .format
        .as_ref()
        .ok_or_else(|| PortError::Invalid("ffprobe found no container format".into()))?;
    let video = out
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video") && !s.is_cover_art())
        .map(|s| {
            let sar = s.sample_aspect_ratio.as_deref().and_then(|t| {
                let (n, d) = t.split_once(':')?;
                Some((n.parse().ok()?, d.parse().ok()?))
            });
            let fps = match ratio(s.avg_frame_rate.as_deref()) {
                f if f > 0.0 && f < 1000.0 => f,
                _ => ratio(s.r_frame_rate.as_deref()),
            };
            VideoStreamInfo {
                width_px: s.width.unwrap_or(0),
                height_px: s.height.unwrap_or(0),
                fps,
                rotation_deg: s.rotation_deg(),
                sample_aspect: sar
                    .filter(|(n, d): &(u32, u32)| *n > 0 && *d > 0)
                    .unwrap_or((1, 1)),
                codec: s.codec_name.clone(),
            }
        })
        .filter(|v| v.width_px > 0 && v.height_px > 0);
    let audio = out
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("audio"))
        .map(|s| AudioStreamInfo {
            codec: s.codec_name.clone(),
            channels: s.channels.unwrap_or(0),
            sample_rate_hz: s
                .sample_rate
                .as_deref()
                .and_then(|r| r.parse().ok())
                .unwrap_or(0),
        });
    if video.is_none() && audio.is_none() {
        return Err(PortError::Invalid("no audio or video stream".into()));
    }
    let stream_duration = out
        .streams
        .iter()
        .filter_map(|s| s.duration.as_deref()?.parse::<f64>().ok())
        .fold(0.0, f64::max);
    let duration_s = format
        .duration
        .as_deref()
        .and_then(|d| d.parse().ok())
        .unwrap_or(stream_duration);
    Ok(MediaInfo {
        format: format.format_name.clone(),
        duration_s,
        size_bytes: format
            .size
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        video,
        audio,
    })
}

/// Runs ffprobe on a file and parses its JSON.
///
/// # Errors
/// [`PortError::Invalid`] with ffprobe's own last line when it cannot read the file;
/// [`PortError::Failed`] when ffprobe cannot be run.
pub async fn ffprobe_json(path: &Path, extra: &[&str]) -> Result<FfprobeOutput, PortError> {
    let output = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .args(extra)
        .arg(file_arg(path))
        .output()
        .await
        .map_err(|e| PortError::Failed(format!("cannot run ffprobe (install ffmpeg): {e}")))?;
    if !output.status.success() {
        return Err(PortError::Invalid(tool_message(
            &output.stderr,
            path,
            "ffprobe failed",
        )));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| PortError::Failed(format!("ffprobe JSON: {e}")))
}

/// `file:<path>`: keeps ffmpeg from reading a `name:with colons` as a protocol.
pub(crate) fn file_arg(path: &Path) -> std::ffi::OsString {
    let mut arg = std::ffi::OsString::from("file:");
    arg.push(path.as_os_str());
    arg
}

/// What a tool said on stderr, for a person: its distinct non-empty lines, without
/// the `[demuxer @ 0x…]` prefixes and without the file's own path (the caller names
/// the file), joined with "; ". `fallback` when it said nothing.
pub(crate) fn tool_message(stderr: &[u8], path: &Path, fallback: &str) -> String {
    let text = String::from_utf8_lossy(stderr);
    let shown = path.display().to_string();
    let mut parts: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = match line.split_once("] ") {
            Some((prefix, rest)) if prefix.starts_with('[') => rest,
            _ => line,
        };
        let line = line
            .replace(&format!("file:{shown}: "), "")
            .replace(&format!("{shown}: "), "");
        if !parts.contains(&line) {
            parts.push(line);
        }
    }
    if parts.is_empty() {
        fallback.to_string()
    } else {
        parts.join("; ")
    }
}

/// How much of the end of the source must hold packets (seconds).
const TAIL_CHECK_S: f64 = 1.5;

/// ffprobe on the local store.
pub struct FfProber<'a> {
    pub store: &'a LocalStore,
}

impl MediaProber for FfProber<'_> {
    /// Probes streams and duration, then reads the packets of the last 1.5 s the header
    /// promises: an MP4 whose index survived but whose data was cut off (a truncated
    /// upload with `faststart`) has none there, and is refused as truncated.
    async fn probe(&self, object: &ObjectInfo) -> Result<MediaInfo, PortError> {
        let path = self.store.path_of(&object.key)?;
        let info = media_info_from(&ffprobe_json(&path, &[]).await?)?;
        if info.duration_s > TAIL_CHECK_S {
            let from_s = info.duration_s - TAIL_CHECK_S;
            let output = Command::new("ffprobe")
                .args([
                    "-v",
                    "error",
                    "-read_intervals",
                    &format!("{from_s:.3}%"),
                    "-show_entries",
                    "packet=pts_time",
                    "-of",
                    "csv=p=0",
                ])
                .arg(file_arg(&path))
                .output()
                .await
                .map_err(|e| PortError::Failed(format!("cannot run ffprobe: {e}")))?;
            // A seek past the data falls back to the start, so count only the packets
            // that really lie in the tail.
            let in_tail = String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter_map(|l| l.trim().trim_end_matches(',').parse::<f64>().ok())
                .any(|pts_s| pts_s >= from_s - 0.5);
            if !in_tail {
                return Err(PortError::Invalid(format!(
                    "truncated: the header promises {:.3} s but there is no media data after {from_s:.3} s",
                    info.duration_s
                )));
            }
        }
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ffprobe_json_of_a_rotated_phone_video() {
        let json = r#"{"streams":[
            {"index":0,"codec_type":"video","codec_name":"h264","width":1920,"height":1080,
             "avg_frame_rate":"30000/1001","r_frame_rate":"30000/1001","sample_aspect_ratio":"1:1",
             "side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]},
            {"index":1,"codec_type":"audio","codec_name":"aac","channels":2,"sample_rate":"48000"},
            {"index":2,"codec_type":"video","codec_name":"mjpeg","width":300,"height":300,"disposition":{"attached_pic":1}}],
           "format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"12.345","size":"1000"}}"#;
        let info = media_info_from(&serde_json::from_str(json).unwrap()).unwrap();
        let v = info.video.unwrap();
        assert_eq!((v.rotation_deg, v.display_size_px()), (90, (1080, 1920)));
        assert!((v.fps - 29.97).abs() < 0.01);
        assert_eq!(info.audio.unwrap().sample_rate_hz, 48000);
        assert_eq!(info.duration_s, 12.345);
    }

    #[test]
    fn an_mp3_with_cover_art_is_audio_only() {
        let json = r#"{"streams":[
            {"codec_type":"audio","codec_name":"mp3","channels":1,"sample_rate":"44100"},
            {"codec_type":"video","codec_name":"png","width":500,"height":500,"disposition":{"attached_pic":1}}],
           "format":{"format_name":"mp3","duration":"60.0"}}"#;
        let info = media_info_from(&serde_json::from_str(json).unwrap()).unwrap();
        assert!(info.video.is_none() && info.audio.is_some());
    }

    #[test]
    fn streamless_input_is_invalid() {
        let json = r#"{"streams":[{"codec_type":"data","codec_name":"bin_data"}],"format":{"format_name":"tty"}}"#;
        assert!(matches!(
            media_info_from(&serde_json::from_str(json).unwrap()),
            Err(PortError::Invalid(_))
        ));
    }

    #[test]
    fn ratios_and_stderr_lines() {
        assert_eq!(ratio(Some("25/1")), 25.0);
        assert_eq!(ratio(Some("0/0")), 0.0);
        assert_eq!(ratio(None), 0.0);
        let said = b"[mov @ 0x1] moov atom not found\nfile:/x.mp4: Invalid data found when processing input\n";
        assert_eq!(
            tool_message(said, Path::new("/x.mp4"), "-"),
            "moov atom not found; Invalid data found when processing input"
        );
        assert_eq!(
            tool_message(b"\n", Path::new("/x.mp4"), "ffprobe failed"),
            "ffprobe failed"
        );
    }
}
