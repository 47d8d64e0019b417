//! Matroska and WebM (EBML: Matroska's specification, RFC 9559) read with the
//! `matroska-demuxer` crate over ranged GETs ([`super::ranged`]): the segment's
//! SeekHead points at Info (the duration, in TimestampScale nanoseconds) and Tracks
//! (each track's type, codec, size, DefaultDuration and sampling); the clusters, the
//! media itself, are not read, but for a video track without DefaultDuration, whose
//! frame rate is measured from the first frames' timestamps.

use std::io::{Read, Seek};

use matroska_demuxer::{Frame, MatroskaFile, TrackType};
use vidpipe_domain::media::{AudioStreamInfo, MediaInfo, VideoStreamInfo};
use vidpipe_domain::PortError;

/// Frames read at most to measure a frame rate the header does not give.
const RATE_FRAMES: usize = 120;

/// The probe result of the Matroska or WebM file `reader` reads, `len` bytes long.
///
/// # Errors
/// [`PortError::Invalid`]: the header does not parse, has no duration (a live
/// recording never finalised, such as a browser's MediaRecorder output), or has no
/// video or audio track.
pub fn media_info<R: Read + Seek>(reader: R, len: u64) -> Result<MediaInfo, PortError> {
    let bad = |why: String| PortError::Invalid(format!("Matroska/WebM: {why}"));
    let mut file = MatroskaFile::open(reader).map_err(|e| bad(format!("{e}")))?;
    let scale_ns = file.info().timestamp_scale().get() as f64;
    let duration_s = file
        .info()
        .duration()
        .map(|d| d * scale_ns / 1e9)
        .filter(|d| *d > 0.0)
        .ok_or_else(|| {
            bad(
                "no duration in the header (a recording that was never finished, as browsers' \
                 MediaRecorder leaves them); remux it, e.g. ffmpeg -i in.webm -c copy out.webm"
                    .into(),
            )
        })?;
    let tracks = file.tracks().to_vec();
    let video_track = tracks
        .iter()
        .find(|t| t.track_type() == TrackType::Video && t.video().is_some());
    let audio_track = tracks
        .iter()
        .find(|t| t.track_type() == TrackType::Audio && t.audio().is_some());
    let video = match video_track {
        None => None,
        Some(t) => {
            let v = t.video().expect("checked");
            let fps = match t.default_duration() {
                Some(ns) => 1e9 / ns.get() as f64,
                None => measured_fps(&mut file, t.track_number().get(), scale_ns)
                    .ok_or_else(|| bad("the video track gives no frame rate".into()))?,
            };
            Some(VideoStreamInfo {
                width_px: v.pixel_width().get() as u32,
                height_px: v.pixel_height().get() as u32,
                fps,
                rotation_deg: 0,
                sample_aspect: (1, 1),
                codec: codec_name(t.codec_id()),
            })
        }
    };
    let audio = audio_track.map(|t| {
        let a = t.audio().expect("checked");
        AudioStreamInfo {
            codec: codec_name(t.codec_id()),
            channels: a.channels().get() as u32,
            sample_rate_hz: a.sampling_frequency().round() as u32,
        }
    });
    if video.is_none() && audio.is_none() {
        return Err(bad("no video or audio track".into()));
    }
    Ok(MediaInfo {
        format: "matroska,webm".into(),
        duration_s,
        size_bytes: len,
        video,
        audio,
    })
}

/// Frames per second from the timestamps of the track's first frames.
fn measured_fps<R: Read + Seek>(
    file: &mut MatroskaFile<R>,
    track: u64,
    scale_ns: f64,
) -> Option<f64> {
    let mut frame = Frame::default();
    let mut stamps = Vec::new();
    while stamps.len() < RATE_FRAMES && file.next_frame(&mut frame).ok()? {
        if frame.track == track {
            stamps.push(frame.timestamp);
        }
    }
    stamps.sort_unstable();
    let (first, last) = (*stamps.first()?, *stamps.last()?);
    let span_s = (last - first) as f64 * scale_ns / 1e9;
    (stamps.len() > 1 && span_s > 0.0).then(|| (stamps.len() - 1) as f64 / span_s)
}

/// The codec as ffprobe names it, from Matroska's codec ID (`V_VP9` → `vp9`).
fn codec_name(codec_id: &str) -> String {
    match codec_id {
        "V_MPEG4/ISO/AVC" => "h264",
        "V_MPEGH/ISO/HEVC" => "hevc",
        "V_VP8" => "vp8",
        "V_VP9" => "vp9",
        "V_AV1" => "av1",
        "V_MPEG2" => "mpeg2video",
        "A_AAC" => "aac",
        "A_OPUS" => "opus",
        "A_VORBIS" => "vorbis",
        "A_MPEG/L3" => "mp3",
        "A_AC3" => "ac3",
        "A_FLAC" => "flac",
        other => return other.to_ascii_lowercase(),
    }
    .into()
}
