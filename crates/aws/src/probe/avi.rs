//! AVI (RIFF `AVI `, the OpenDML and Microsoft "AVI RIFF File Reference" layouts):
//! the header list `hdrl` comes first and holds the main header `avih` and one
//! stream list `strl` per stream, whose `strh` gives the stream's type, rate/scale
//! and length and whose `strf` gives a video stream's BITMAPINFOHEADER (size, codec)
//! or an audio stream's WAVEFORMATEX (channels, sample rate). Only `hdrl` is read.

use vidpipe_domain::media::{AudioStreamInfo, MediaInfo, VideoStreamInfo};
use vidpipe_domain::PortError;

/// A chunk: its id and its payload.
fn chunks(mut data: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 8 {
            return None;
        }
        let id = [data[0], data[1], data[2], data[3]];
        let size = u32::from_le_bytes([data[4], data[5], data[6], data[7]]) as usize;
        let payload = data.get(8..8 + size).unwrap_or(&data[8..]);
        // Chunks are padded to an even size.
        data = data.get(8 + size + (size & 1)..).unwrap_or(&[]);
        Some((id, payload))
    })
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The codec as ffprobe names it, from a video stream's FourCC handler.
fn video_codec(fourcc: &str) -> String {
    let fourcc = fourcc.trim().to_ascii_uppercase();
    match fourcc.as_str() {
        "FMP4" | "XVID" | "DIVX" | "DX50" | "MP4V" => "mpeg4",
        "H264" | "X264" | "AVC1" => "h264",
        "MJPG" => "mjpeg",
        "HEVC" | "H265" => "hevc",
        _ => return fourcc.to_ascii_lowercase(),
    }
    .into()
}

/// Where the header list ends: the bytes to read (from 0) for [`media_info`], from
/// the file's first 12 + 12 bytes (`RIFF` size `AVI `, `LIST` size `hdrl`).
///
/// # Errors
/// [`PortError::Invalid`] when the file does not start with an AVI header list.
pub fn header_len(start: &[u8]) -> Result<u64, PortError> {
    let bad = |why: &str| PortError::Invalid(format!("AVI: {why}"));
    if start.len() < 24 || &start[..4] != b"RIFF" || &start[8..12] != b"AVI " {
        return Err(bad("no RIFF AVI header"));
    }
    if &start[12..16] != b"LIST" || &start[20..24] != b"hdrl" {
        return Err(bad("the header list (hdrl) does not come first"));
    }
    Ok(20 + u32_at(start, 16).unwrap_or(0) as u64)
}

/// The probe result from the file's first bytes, through the header list.
///
/// # Errors
/// [`PortError::Invalid`]: no header list, no video or audio stream, no frame rate.
pub fn media_info(head: &[u8], len: u64) -> Result<MediaInfo, PortError> {
    let bad = |why: &str| PortError::Invalid(format!("AVI: {why}"));
    let end = header_len(head)?.min(head.len() as u64) as usize;
    let hdrl = &head[24..end];
    let (mut video, mut audio, mut duration_s) = (None, None, 0.0f64);
    for (id, list) in chunks(hdrl) {
        if &id != b"LIST" || list.get(..4) != Some(b"strl") {
            continue;
        }
        let mut strh = None;
        let mut strf = None;
        for (id, body) in chunks(&list[4..]) {
            match &id {
                b"strh" => strh = Some(body),
                b"strf" => strf = Some(body),
                _ => {}
            }
        }
        let (Some(strh), Some(strf)) = (strh, strf) else {
            continue;
        };
        let (scale, rate, length) = (
            u32_at(strh, 20).unwrap_or(0),
            u32_at(strh, 24).unwrap_or(0),
            u32_at(strh, 32).unwrap_or(0),
        );
        let per_s = if scale > 0 {
            rate as f64 / scale as f64
        } else {
            0.0
        };
        match strh.get(..4) {
            Some(b"vids") if video.is_none() => {
                if per_s <= 0.0 {
                    return Err(bad("the video stream has no frame rate"));
                }
                let height = (u32_at(strf, 8).unwrap_or(0) as i32).unsigned_abs();
                let fourcc = strh
                    .get(4..8)
                    .map(String::from_utf8_lossy)
                    .unwrap_or_default();
                video = Some(VideoStreamInfo {
                    width_px: u32_at(strf, 4).unwrap_or(0),
                    height_px: height,
                    fps: per_s,
                    rotation_deg: 0,
                    sample_aspect: (1, 1),
                    codec: video_codec(&fourcc),
                });
                duration_s = duration_s.max(length as f64 / per_s);
            }
            Some(b"auds") if audio.is_none() => {
                let codec = match u16_at(strf, 0) {
                    Some(0x0001) => "pcm",
                    Some(0x0055) => "mp3",
                    Some(0x00ff | 0x1610) => "aac",
                    Some(0x2000) => "ac3",
                    _ => "unknown",
                };
                audio = Some(AudioStreamInfo {
                    codec: codec.into(),
                    channels: u16_at(strf, 2).unwrap_or(0) as u32,
                    sample_rate_hz: u32_at(strf, 4).unwrap_or(0),
                });
                if per_s > 0.0 {
                    duration_s = duration_s.max(length as f64 / per_s);
                }
            }
            _ => {}
        }
    }
    if video
        .as_ref()
        .is_some_and(|v| v.width_px == 0 || v.height_px == 0)
    {
        return Err(bad("the video stream has no frame size"));
    }
    if video.is_none() && audio.is_none() {
        return Err(bad("no video or audio stream in the header list"));
    }
    Ok(MediaInfo {
        format: "avi".into(),
        duration_s,
        size_bytes: len,
        video,
        audio,
    })
}
