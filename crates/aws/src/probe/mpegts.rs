//! MPEG transport streams (ISO/IEC 13818-1; `.ts`, and `.m2ts`/`.mts` with their
//! 4-byte timestamp before each packet), probed from the first and the last
//! [`EDGE_BYTES`] of the file: the PAT names the programme's PMT, the PMT its
//! streams; the video's size and frame rate come from its parameter sets (an H.264
//! SPS read by the `h264-reader` crate, ITU-T H.264 §7.3.2.1; an MPEG-2 sequence
//! header, ISO/IEC 13818-2 §6.2.2.1), the audio's from its first frame header (AAC
//! ADTS, MPEG audio, AC-3), and the duration from the smallest presentation time
//! stamp at the start to the largest at the end (90 kHz).

use h264_reader::nal::sps::SeqParameterSet;
use h264_reader::rbsp::{decode_nal, BitReader};
use vidpipe_domain::media::{AudioStreamInfo, MediaInfo, VideoStreamInfo};
use vidpipe_domain::PortError;

/// Bytes read at each end of the file.
pub const EDGE_BYTES: u64 = 1 << 20;
const SYNC: u8 = 0x47;
/// PTS ticks a second.
const PTS_HZ: f64 = 90_000.0;

/// Packet size and the offset of the first sync byte, when `data` is a transport
/// stream: 188-byte packets, or 192 with a 4-byte prefix (M2TS).
pub fn layout(data: &[u8]) -> Option<(usize, usize)> {
    [(188, 0), (192, 4)]
        .into_iter()
        .find(|&(size, at)| (0..3).all(|k| data.get(at + k * size) == Some(&SYNC)))
}

struct Packet<'a> {
    pid: u16,
    unit_start: bool,
    payload: &'a [u8],
}

/// The packets of `data`, `size` bytes apart, from the first sync byte at or after
/// `first` that the next packet confirms (at the file's end, mid-packet).
fn packets(data: &[u8], size: usize, first: usize) -> impl Iterator<Item = Packet<'_>> {
    let start = (first..first + size)
        .find(|&i| (0..2).all(|k| data.get(i + k * size) == Some(&SYNC)))
        .unwrap_or(data.len());
    (start..data.len()).step_by(size).filter_map(move |i| {
        let p = data.get(i..i + 188)?;
        if p[0] != SYNC {
            return None;
        }
        let pid = (u16::from(p[1] & 0x1F) << 8) | u16::from(p[2]);
        let control = (p[3] >> 4) & 3;
        let mut at = 4;
        if control & 2 != 0 {
            at += 1 + *p.get(4)? as usize;
        }
        (control & 1 != 0 && at < 188).then(|| Packet {
            pid,
            unit_start: p[1] & 0x40 != 0,
            payload: &p[at..],
        })
    })
}

/// The section a PSI packet starts (after its pointer field), if it starts one.
fn section<'a>(p: &Packet<'a>) -> Option<&'a [u8]> {
    if !p.unit_start {
        return None;
    }
    let pointer = *p.payload.first()? as usize;
    let s = p.payload.get(1 + pointer..)?;
    let len = ((usize::from(*s.get(1)?) & 0x0F) << 8) | usize::from(*s.get(2)?);
    s.get(..(3 + len).min(s.len()))
}

/// The streams of the first programme: (stream type, PID).
fn streams(data: &[u8], size: usize, first: usize) -> Vec<(u8, u16)> {
    let pmt_pid = packets(data, size, first)
        .filter(|p| p.pid == 0)
        .find_map(|p| {
            let s = section(&p).filter(|s| s.first() == Some(&0))?;
            s.get(8..s.len().saturating_sub(4))?
                .chunks_exact(4)
                .find(|e| u16::from_be_bytes([e[0], e[1]]) != 0)
                .map(|e| (u16::from(e[2] & 0x1F) << 8) | u16::from(e[3]))
        });
    let Some(pmt_pid) = pmt_pid else {
        return Vec::new();
    };
    packets(data, size, first)
        .filter(|p| p.pid == pmt_pid)
        .find_map(|p| {
            let s = section(&p).filter(|s| s.first() == Some(&2))?;
            let info = ((usize::from(*s.get(10)?) & 0x0F) << 8) | usize::from(*s.get(11)?);
            let mut rest = s.get(12 + info..s.len().saturating_sub(4))?;
            let mut out = Vec::new();
            while rest.len() >= 5 {
                let pid = (u16::from(rest[1] & 0x1F) << 8) | u16::from(rest[2]);
                let es_info = ((usize::from(rest[3]) & 0x0F) << 8) | usize::from(rest[4]);
                out.push((rest[0], pid));
                rest = rest.get(5 + es_info..).unwrap_or(&[]);
            }
            Some(out)
        })
        .unwrap_or_default()
}

/// A PES packet's presentation time stamp and where its payload starts.
fn pes_start(payload: &[u8]) -> Option<(Option<u64>, usize)> {
    if payload.get(..3)? != [0, 0, 1] {
        return None;
    }
    let flags = *payload.get(7)?;
    let header = 9 + *payload.get(8)? as usize;
    let pts = (flags & 0x80 != 0).then(|| {
        let b = payload.get(9..14)?;
        Some(
            (u64::from(b[0] & 0x0E) << 29)
                | (u64::from(b[1]) << 22)
                | (u64::from(b[2] & 0xFE) << 14)
                | (u64::from(b[3]) << 7)
                | (u64::from(b[4]) >> 1),
        )
    });
    Some((pts.flatten(), header))
}

/// A stream's PTSs at its unit starts and its first bytes of elementary stream.
fn elementary(
    data: &[u8],
    size: usize,
    first: usize,
    pid: u16,
    keep: usize,
) -> (Vec<u64>, Vec<u8>) {
    let (mut pts, mut bytes) = (Vec::new(), Vec::new());
    for p in packets(data, size, first).filter(|p| p.pid == pid) {
        let mut payload = p.payload;
        if p.unit_start {
            if let Some((stamp, header)) = pes_start(payload) {
                pts.extend(stamp);
                payload = payload.get(header..).unwrap_or(&[]);
            }
        }
        if bytes.len() < keep {
            bytes.extend_from_slice(payload);
        }
    }
    (pts, bytes)
}

/// NAL units or start-code-prefixed units of an elementary stream: each unit's bytes
/// after its `00 00 01`.
fn units(es: &[u8]) -> impl Iterator<Item = &[u8]> {
    let starts: Vec<usize> = es
        .windows(3)
        .enumerate()
        .filter(|(_, w)| *w == [0, 0, 1])
        .map(|(i, _)| i + 3)
        .collect();
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|s| s - 3)
        .chain([es.len()])
        .collect();
    starts
        .into_iter()
        .zip(ends)
        .map(move |(s, e)| &es[s..e.max(s)])
}

/// (width, height, frames a second or 0, codec) from the video's first bytes.
fn video_params(stream_type: u8, es: &[u8]) -> Option<(u32, u32, f64, &'static str)> {
    match stream_type {
        0x1B => units(es)
            .find(|u| u.first().is_some_and(|h| h & 0x1F == 7))
            .and_then(|nal| {
                let rbsp = decode_nal(nal).ok()?;
                let sps = SeqParameterSet::from_bits(BitReader::new(&rbsp[..])).ok()?;
                let (w, h) = sps.pixel_dimensions().ok()?;
                Some((w, h, sps.fps().unwrap_or(0.0), "h264"))
            }),
        0x01 | 0x02 => units(es).find(|u| u.first() == Some(&0xB3)).and_then(|u| {
            let b = u.get(1..5)?;
            let w = (u32::from(b[0]) << 4) | (u32::from(b[1]) >> 4);
            let h = ((u32::from(b[1]) & 0x0F) << 8) | u32::from(b[2]);
            let rates = [
                0.0,
                24000.0 / 1001.0,
                24.0,
                25.0,
                30000.0 / 1001.0,
                30.0,
                50.0,
                60000.0 / 1001.0,
                60.0,
            ];
            let fps = rates.get(usize::from(b[3] & 0x0F)).copied().unwrap_or(0.0);
            Some((w, h, fps, "mpeg2video"))
        }),
        _ => None,
    }
}

/// The audio's codec, channels and sample rate from its first frame header.
fn audio_params(stream_type: u8, es: &[u8]) -> Option<AudioStreamInfo> {
    let at = |i: usize| es.get(i).copied();
    let info = |codec: &str, channels: u32, rate: u32| AudioStreamInfo {
        codec: codec.into(),
        channels,
        sample_rate_hz: rate,
    };
    match stream_type {
        0x0F => {
            // ADTS (ISO/IEC 13818-7 §6.2): 12-bit sync, rate index, channel config.
            let i = es
                .windows(2)
                .position(|w| w[0] == 0xFF && w[1] & 0xF6 == 0xF0)?;
            const RATES: [u32; 13] = [
                96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000,
                7350,
            ];
            let rate = *RATES.get(usize::from((at(i + 2)? >> 2) & 0x0F))?;
            let channels = (u32::from(at(i + 2)? & 1) << 2) | u32::from(at(i + 3)? >> 6);
            Some(info("aac", channels, rate))
        }
        0x03 | 0x04 => {
            // MPEG audio (ISO/IEC 11172-3 §2.4.2.3): 11-bit sync, version, rate, mode.
            let i = es
                .windows(2)
                .position(|w| w[0] == 0xFF && w[1] & 0xE0 == 0xE0)?;
            let version = (at(i + 1)? >> 3) & 3;
            let base = [44100, 48000, 32000]
                .get(usize::from((at(i + 2)? >> 2) & 3))
                .copied()?;
            let rate = match version {
                3 => base,
                2 => base / 2,
                _ => base / 4,
            };
            let channels = if at(i + 3)? >> 6 == 3 { 1 } else { 2 };
            let layer = (at(i + 1)? >> 1) & 3;
            Some(info(if layer == 1 { "mp3" } else { "mp2" }, channels, rate))
        }
        0x81 => {
            // AC-3 (ATSC A/52 §5.3): sync 0x0B77, fscod, then acmod and lfeon.
            let i = es.windows(2).position(|w| w == [0x0B, 0x77])?;
            let rate = [48000, 44100, 32000]
                .get(usize::from(at(i + 4)? >> 6))
                .copied()?;
            let acmod = at(i + 6)? >> 5;
            let channels = [2, 1, 2, 3, 3, 4, 4, 5][usize::from(acmod)];
            Some(info("ac3", channels, rate))
        }
        _ => None,
    }
}

/// The probe result from the file's first and last bytes (the same bytes when the
/// file is short).
///
/// # Errors
/// [`PortError::Invalid`]: no programme, or a video stream whose size cannot be read
/// (a codec other than H.264 and MPEG-2), or no time stamps.
pub fn media_info(head: &[u8], tail: &[u8], len: u64) -> Result<MediaInfo, PortError> {
    let bad = |why: &str| PortError::Invalid(format!("MPEG transport stream: {why}"));
    let (size, first) = layout(head).ok_or_else(|| bad("no 188- or 192-byte packets"))?;
    let found = streams(head, size, first);
    let video_stream = found
        .iter()
        .find(|(t, _)| matches!(t, 0x01 | 0x02 | 0x1B | 0x24 | 0x10));
    let audio_stream = found
        .iter()
        .find(|(t, _)| matches!(t, 0x03 | 0x04 | 0x0F | 0x11 | 0x81));
    let (_, timed_pid) = video_stream
        .or(audio_stream)
        .ok_or_else(|| bad("no programme with video or audio (no PAT or PMT)"))?;
    // The timed stream's first bytes are read once: the video's parameter sets (or
    // the audio's frame header) and its time stamps.
    let (start_pts, timed_es) = elementary(head, size, first, *timed_pid, 256 << 10);
    let video = match video_stream {
        None => None,
        Some(&(kind, _)) => {
            let (pts, es) = (&start_pts, &timed_es);
            let (w, h, mut fps, codec) = video_params(kind, es).ok_or_else(|| {
                bad(&format!("the video stream (type 0x{kind:02x}) gives no frame size that vidpipe reads (H.264, MPEG-2)"))
            })?;
            if fps <= 0.0 {
                fps = rate_of(pts).ok_or_else(|| bad("the video stream gives no frame rate"))?;
            }
            Some(VideoStreamInfo {
                width_px: w,
                height_px: h,
                fps,
                rotation_deg: 0,
                sample_aspect: (1, 1),
                codec: codec.into(),
            })
        }
    };
    let audio = audio_stream.and_then(|&(kind, pid)| match video_stream {
        None => audio_params(kind, &timed_es),
        Some(_) => audio_params(kind, &elementary(head, size, first, pid, 16 << 10).1),
    });
    let (end_pts, _) = elementary(tail, size, 0, *timed_pid, 0);
    let (Some(start), Some(end)) = (start_pts.iter().min(), end_pts.iter().max()) else {
        return Err(bad("no presentation time stamps"));
    };
    let frame_s = video.as_ref().map_or(0.0, |v| 1.0 / v.fps);
    let span = end.wrapping_sub(*start) & ((1 << 33) - 1);
    Ok(MediaInfo {
        format: "mpegts".into(),
        duration_s: span as f64 / PTS_HZ + frame_s,
        size_bytes: len,
        video,
        audio,
    })
}

/// Frames a second from time stamps a frame apart (one PES per frame).
fn rate_of(pts: &[u64]) -> Option<f64> {
    let mut sorted = pts.to_vec();
    sorted.sort_unstable();
    let mut steps: Vec<u64> = sorted
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .collect();
    steps.sort_unstable();
    let median = *steps.get(steps.len() / 2)?;
    Some(PTS_HZ / median as f64)
}
