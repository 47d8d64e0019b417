//! Probing a source in S3 without downloading it: ranged GETs walk the top-level
//! boxes of an ISO base media file (MP4, MOV, M4V: ISO/IEC 14496-12 §4.2, each box is
//! a 32-bit size and a 4-character type, size 1 meaning a 64-bit size follows and 0
//! meaning "to the end of the file"), fetch `ftyp` and `moov`, and hand those to
//! Mozilla's `mp4parse` for the tracks. The media data (`mdat`) is never read.
//!
//! Matroska and WebM ([`matroska`]) and AVI ([`avi`]) are read the same way, their
//! headers only; MPEG transport streams ([`mpegts`]) from their first and last
//! megabyte; Y4M from its header line.

use std::io::Cursor;

use mp4parse::{SampleEntry, TrackType};
use vidpipe_domain::media::{AudioStreamInfo, MediaInfo, VideoStreamInfo};
use vidpipe_domain::ports::{MediaProber, ObjectInfo};
use vidpipe_domain::PortError;

use crate::s3::S3Store;

pub mod avi;
pub mod matroska;
pub mod mpegts;
pub mod ranged;

/// The EBML magic number every Matroska and WebM file starts with (RFC 9559).
const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

/// `moov` boxes larger than this are refused (an hour of 60 fps video has a `moov` of
/// a few megabytes).
pub const MAX_MOOV_BYTES: u64 = 64 << 20;
/// Top-level boxes walked before giving up (real files have a handful).
const MAX_TOP_LEVEL_BOXES: usize = 64;

pub struct S3Prober<'a> {
    pub store: &'a S3Store,
}

/// A top-level box: its type, where it starts and its whole length in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct BoxSpan {
    kind: [u8; 4],
    start: u64,
    len: u64,
}

/// Reads one box header at `start` from `head` (at least 8 bytes, 16 for a 64-bit
/// size). `file_len` resolves size 0.
fn box_at(head: &[u8], start: u64, file_len: u64) -> Result<BoxSpan, String> {
    if head.len() < 8 {
        return Err(format!(
            "truncated: {} bytes of box header at offset {start}",
            head.len()
        ));
    }
    let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
    let kind = [head[4], head[5], head[6], head[7]];
    let len = match size32 {
        0 => file_len - start,
        1 => {
            if head.len() < 16 {
                return Err(format!("truncated: 64-bit box size at offset {start}"));
            }
            u64::from_be_bytes(head[8..16].try_into().expect("8 bytes"))
        }
        n => n,
    };
    if len < 8 {
        return Err(format!(
            "box '{}' at offset {start} has an impossible size {len}",
            String::from_utf8_lossy(&kind)
        ));
    }
    Ok(BoxSpan { kind, start, len })
}

fn is_box_type(kind: &[u8; 4]) -> bool {
    kind.iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b' ' || *c == b'-')
}

/// Walks the top-level boxes with `read(start, end)` and returns `ftyp` followed by
/// `moov`, ready for `mp4parse`.
///
/// # Errors
/// The reason the object is not a whole MP4: no `ftyp` first, a box running past the
/// end (a truncated upload), no `moov`.
pub async fn header_boxes<F, Fut>(file_len: u64, mut read: F) -> Result<Vec<u8>, PortError>
where
    F: FnMut(u64, u64) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, PortError>>,
{
    let invalid = PortError::Invalid;
    let mut offset = 0u64;
    let mut ftyp = None;
    let mut moov = None;
    let mut walked = 0;
    while offset < file_len {
        walked += 1;
        if walked > MAX_TOP_LEVEL_BOXES {
            return Err(invalid(format!(
                "more than {MAX_TOP_LEVEL_BOXES} top-level boxes; not a usual MP4"
            )));
        }
        let head = read(offset, (offset + 16).min(file_len)).await?;
        let span = box_at(&head, offset, file_len).map_err(invalid)?;
        if !is_box_type(&span.kind) {
            return Err(invalid(if offset == 0 {
                "not an MP4/MOV file (no ISO base media box at the start); the cloud mode reads MP4, MOV and M4V".to_string()
            } else {
                format!("garbage where a box should start at offset {offset}")
            }));
        }
        if offset == 0 && &span.kind != b"ftyp" && &span.kind != b"wide" && &span.kind != b"free" {
            // QuickTime files may start with `wide` or `free`; everything ISO starts
            // with `ftyp`.
            if &span.kind != b"moov" && &span.kind != b"mdat" {
                return Err(invalid(
                    "not an MP4/MOV file (does not start with an ftyp box)".into(),
                ));
            }
        }
        if span.start + span.len > file_len {
            return Err(invalid(format!(
                "truncated: box '{}' at offset {} claims {} bytes but the object ends after {}",
                String::from_utf8_lossy(&span.kind),
                span.start,
                span.len,
                file_len - span.start
            )));
        }
        match &span.kind {
            b"ftyp" => ftyp = Some(span),
            b"moov" => {
                if span.len > MAX_MOOV_BYTES {
                    return Err(invalid(format!(
                        "moov box of {} bytes is over the {MAX_MOOV_BYTES}-byte limit",
                        span.len
                    )));
                }
                moov = Some(span);
            }
            _ => {}
        }
        offset = span.start + span.len;
    }
    let moov = moov.ok_or_else(|| {
        invalid("no moov box (the movie header is missing: an unfinished recording or a cut-short upload)".into())
    })?;
    let mut bytes = match ftyp {
        Some(f) => read(f.start, f.start + f.len).await?,
        None => Vec::new(),
    };
    bytes.extend(read(moov.start, moov.start + moov.len).await?);
    Ok(bytes)
}

/// A video track's stream: size (from the sample entry, else the track header),
/// frame rate (samples over the time-to-sample table's ticks), rotation.
fn video_stream(
    track: &mp4parse::Track,
    entry: Option<&SampleEntry>,
    timescale: u64,
) -> VideoStreamInfo {
    let tkhd = track.tkhd.as_ref();
    let (width_px, height_px, codec) = match entry {
        Some(SampleEntry::Video(v)) => (
            v.width as u32,
            v.height as u32,
            format!("{:?}", v.codec_type).to_lowercase(),
        ),
        // A codec mp4parse does not know (HEVC, ProRes): the track header still has
        // the size, in 16.16 fixed point.
        _ => (
            tkhd.map_or(0, |t| t.width >> 16),
            tkhd.map_or(0, |t| t.height >> 16),
            "unknown".into(),
        ),
    };
    let fps = match (&track.stts, timescale) {
        (Some(stts), ts) if ts > 0 => {
            let (count, ticks) = stts.samples.iter().fold((0u64, 0u64), |acc, s| {
                (
                    acc.0 + s.sample_count as u64,
                    acc.1 + s.sample_count as u64 * s.sample_delta as u64,
                )
            });
            if ticks > 0 {
                count as f64 * ts as f64 / ticks as f64
            } else {
                0.0
            }
        }
        _ => 0.0,
    };
    VideoStreamInfo {
        width_px,
        height_px,
        fps,
        rotation_deg: tkhd.map_or(0, |t| rotation_of(&t.matrix)),
        sample_aspect: (1, 1),
        codec,
    }
}

/// The probe result from `ftyp` + `moov` bytes.
///
/// # Errors
/// `mp4parse`'s reason when the header does not parse; no video or audio track.
pub fn media_info_from_header(header: &[u8], file_len: u64) -> Result<MediaInfo, PortError> {
    let context = mp4parse::read_mp4(&mut Cursor::new(header))
        .map_err(|e| PortError::Invalid(format!("MP4 header does not parse: {e:?}")))?;
    let mut duration_s: f64 = 0.0;
    let mut video = None;
    let mut audio = None;
    for track in context.tracks.iter() {
        let timescale = track.timescale.map_or(0, |t| t.0);
        let track_s = match (track.duration, timescale) {
            (Some(d), ts) if ts > 0 => d.0 as f64 / ts as f64,
            _ => 0.0,
        };
        let entry = track.stsd.as_ref().and_then(|s| s.descriptions.first());
        match (&track.track_type, entry) {
            (TrackType::Video | TrackType::Picture, entry) if video.is_none() => {
                video = Some(video_stream(track, entry, timescale));
                duration_s = duration_s.max(track_s);
            }
            (TrackType::Audio, Some(SampleEntry::Audio(a))) if audio.is_none() => {
                audio = Some(AudioStreamInfo {
                    codec: format!("{:?}", a.codec_type).to_lowercase(),
                    channels: a.channelcount,
                    sample_rate_hz: a.samplerate as u32,
                });
                duration_s = duration_s.max(track_s);
            }
            _ => {}
        }
    }
    if video
        .as_ref()
        .is_some_and(|v| v.width_px == 0 || v.height_px == 0)
    {
        return Err(PortError::Invalid(
            "the video track has no frame size".into(),
        ));
    }
    if video.is_none() && audio.is_none() {
        return Err(PortError::Invalid("no video or audio track".into()));
    }
    Ok(MediaInfo {
        format: "mov,mp4,m4a,3gp".into(),
        duration_s,
        size_bytes: file_len,
        video,
        audio,
    })
}

/// Clockwise display rotation from a track's matrix (ISO/IEC 14496-12 §8.3.2: the
/// matrix `{a, b, u, c, d, v, x, y, w}` maps (p, q) to (ap + cq + x, bp + dq + y); 90°
/// is a = d = 0, b = 1, c = −1, in 16.16 fixed point).
fn rotation_of(m: &mp4parse::Matrix) -> i32 {
    match (m.a.signum(), m.b.signum(), m.c.signum(), m.d.signum()) {
        (0, 1, -1, 0) => 90,
        (-1, 0, 0, -1) => 180,
        (0, -1, 1, 0) => 270,
        _ => 0,
    }
}

/// The probe result from the start of a Y4M stream (YUV4MPEG2: a header line of
/// space-separated tags, `W` width, `H` height, `F` rate as `num:den`, `A` sample
/// aspect, `C` colour space, then `FRAME` lines each followed by the planes). The
/// frame count, hence the duration, is the size after the header over one frame's
/// size: frames with parameters on their `FRAME` line are not expected (vidpipe's
/// writer adds none).
///
/// # Errors
/// [`PortError::Invalid`]: not a Y4M header, no size, an unknown colour space.
pub fn media_info_from_y4m(head: &[u8], file_len: u64) -> Result<MediaInfo, PortError> {
    let bad = |why: &str| PortError::Invalid(format!("Y4M header: {why}"));
    let end = head
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| bad("no end of line in the first bytes"))?;
    let line = std::str::from_utf8(&head[..end]).map_err(|_| bad("not text"))?;
    let mut tags = line.split(' ');
    if tags.next() != Some("YUV4MPEG2") {
        return Err(bad("no YUV4MPEG2 signature"));
    }
    let (mut w, mut h, mut fps, mut sar, mut chroma) = (0u64, 0u64, 0.0f64, (1u32, 1u32), "420");
    let ratio = |v: &str| -> Option<(u64, u64)> {
        let (n, d) = v.split_once(':')?;
        Some((n.parse().ok()?, d.parse().ok()?))
    };
    for tag in tags.filter(|t| !t.is_empty()) {
        let (k, v) = tag.split_at(1);
        match k {
            "W" => w = v.parse().map_err(|_| bad("bad width"))?,
            "H" => h = v.parse().map_err(|_| bad("bad height"))?,
            "F" => {
                let (n, d) = ratio(v)
                    .filter(|r| r.1 > 0)
                    .ok_or_else(|| bad("bad frame rate"))?;
                fps = n as f64 / d as f64;
            }
            "A" => {
                if let Some((n, d)) = ratio(v).filter(|r| r.0 > 0 && r.1 > 0) {
                    sar = (n as u32, d as u32);
                }
            }
            "C" => chroma = v,
            _ => {}
        }
    }
    if w == 0 || h == 0 {
        return Err(bad("no frame size"));
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let planes = match chroma {
        c if c.starts_with("420") => w * h + 2 * cw * ch,
        c if c.starts_with("422") => w * h + 2 * cw * h,
        c if c.starts_with("444") => w * h * 3,
        c if c.starts_with("mono") => w * h,
        other => return Err(bad(&format!("colour space {other:?}"))),
    };
    let deep = ["p10", "p12", "p14", "p16"]
        .iter()
        .any(|s| chroma.ends_with(s));
    let frame = 6 + planes * if deep { 2 } else { 1 };
    let frames = file_len.saturating_sub(end as u64 + 1) / frame;
    Ok(MediaInfo {
        format: "yuv4mpegpipe".into(),
        duration_s: if fps > 0.0 { frames as f64 / fps } else { 0.0 },
        size_bytes: file_len,
        video: Some(VideoStreamInfo {
            width_px: w as u32,
            height_px: h as u32,
            fps,
            rotation_deg: 0,
            sample_aspect: sar,
            codec: "rawvideo".into(),
        }),
        audio: None,
    })
}

impl S3Prober<'_> {
    /// Matroska's header through [`ranged::RangedReader`], on a blocking thread: the
    /// demuxer reads a file, and each block it asks for is a ranged GET.
    async fn probe_matroska(&self, object: &ObjectInfo) -> Result<MediaInfo, PortError> {
        let (store, key, len) = (self.store.clone(), object.key.clone(), object.size_bytes);
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let fetch = |start, end| runtime.block_on(store.get_range(&key, start, end));
            let mut reader = ranged::RangedReader::new(len, fetch);
            let info = matroska::media_info(&mut reader, len);
            tracing::info!(key = %key, requests = reader.requests, bytes = reader.fetched, "Matroska header read");
            info
        })
        .await
        .map_err(|e| PortError::Failed(format!("probe of {}: {e}", object.key)))?
    }
}

impl MediaProber for S3Prober<'_> {
    async fn probe(&self, object: &ObjectInfo) -> Result<MediaInfo, PortError> {
        let key = &object.key;
        let start = self
            .store
            .get_range(key, 0, object.size_bytes.min(512))
            .await?;
        if start.starts_with(b"YUV4MPEG2 ") {
            return media_info_from_y4m(&start, object.size_bytes);
        }
        if start.starts_with(&EBML_MAGIC) {
            return self.probe_matroska(object).await;
        }
        if start.starts_with(b"RIFF") {
            let len = avi::header_len(&start)?.min(ranged::MAX_PROBE_BYTES);
            let head = self
                .store
                .get_range(key, 0, len.min(object.size_bytes))
                .await?;
            return avi::media_info(&head, object.size_bytes);
        }
        if mpegts::layout(&start).is_some() {
            let len = object.size_bytes;
            let head = self
                .store
                .get_range(key, 0, len.min(mpegts::EDGE_BYTES))
                .await?;
            let tail_start = len.saturating_sub(mpegts::EDGE_BYTES);
            let tail = if tail_start == 0 {
                head.clone()
            } else {
                self.store.get_range(key, tail_start, len).await?
            };
            return mpegts::media_info(&head, &tail, len);
        }
        let header = header_boxes(object.size_bytes, |start, end| {
            self.store.get_range(key, start, end)
        })
        .await?;
        media_info_from_header(&header, object.size_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y4m_headers_give_size_rate_aspect_and_duration() {
        let head = b"YUV4MPEG2 W64 H32 F30000:1001 Ip A4:3 C420jpeg XCOLORRANGE=LIMITED\nFRAME\n";
        let header_len = 67;
        assert_eq!(head.iter().position(|&b| b == b'\n'), Some(header_len - 1));
        let frame = 6 + 64 * 32 * 3 / 2;
        let info = media_info_from_y4m(head, header_len as u64 + 30 * frame).unwrap();
        let video = info.video.unwrap();
        assert_eq!((video.width_px, video.height_px), (64, 32));
        assert!((video.fps - 29.97).abs() < 0.01, "{}", video.fps);
        assert_eq!(video.sample_aspect, (4, 3));
        assert!((info.duration_s - 30.0 / (30000.0 / 1001.0)).abs() < 1e-9);
        assert!(info.audio.is_none());
        // 4:2:2 frames are larger, so fewer fit in the same bytes.
        let head422 = b"YUV4MPEG2 W64 H32 F25:1 C422\n";
        let len = head422.len() as u64 + 10 * (6 + 64 * 32 * 2);
        assert_eq!(
            media_info_from_y4m(head422, len).unwrap().duration_s,
            10.0 / 25.0
        );
    }

    #[test]
    fn bad_y4m_headers_say_what_is_wrong() {
        for (head, why) in [
            (&b"YUV4MPEG3 W64 H32\n"[..], "signature"),
            (b"YUV4MPEG2 W64 F25:1\n", "no frame size"),
            (b"YUV4MPEG2 W64 H32 F25:0\n", "frame rate"),
            (b"YUV4MPEG2 W64 H32 C411\n", "colour space"),
            (b"YUV4MPEG2 W64 H32", "end of line"),
        ] {
            let e = media_info_from_y4m(head, 1000).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
    }
}
