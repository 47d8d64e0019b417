//! Reading a finished job's outputs back: each measured by ffprobe, the HLS master
//! playlist written from the same measures, keys as the layout names them.

use std::fs;
use std::path::Path;

use vidpipe_domain::layout;
use vidpipe_domain::plan::Plan;
use vidpipe_domain::ports::TranscodeJob;
use vidpipe_domain::record::{OutputFile, OutputKind};
use vidpipe_domain::PortError;

use crate::probe::{ffprobe_json, ratio, FfprobeOutput};
use crate::store::io_error;

/// `avc1.PPCCLL` from ffprobe's profile name and level (RFC 6381 §3.3).
fn avc1_codec(profile: Option<&str>, level: Option<i64>) -> String {
    let (idc, constraints) = match profile.unwrap_or("High") {
        "Baseline" => (0x42, 0x00),
        "Constrained Baseline" => (0x42, 0xE0),
        "Main" => (0x4D, 0x40),
        _ => (0x64, 0x00),
    };
    format!(
        "avc1.{idc:02X}{constraints:02X}{:02X}",
        level.unwrap_or(40).clamp(0, 255)
    )
}

fn video_stream(probe: &FfprobeOutput) -> Option<&crate::probe::FfprobeStream> {
    probe
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video"))
}

/// The HLS master playlist (RFC 8216 §4.3.4): the audio rendition as an `EXT-X-MEDIA`
/// of group [`layout::HLS_AUDIO_GROUP`], then one variant per rung naming it. A
/// variant's BANDWIDTH is its peak (the rung's maxrate plus the audio's bitrate),
/// AVERAGE-BANDWIDTH the measured rates of its picture and the sound.
fn master_playlist(
    plan: &Plan,
    rungs: &[(OutputFile, FfprobeOutput)],
    audio: Option<&OutputFile>,
) -> Result<Vec<u8>, PortError> {
    // The master playlist sits beside its variants: a URI is the file name.
    let file_name = |path: String| path.rsplit('/').next().unwrap_or(&path).to_string();
    let audio_bps = plan.audio_rendition_bps().filter(|_| audio.is_some());
    let mut variants = Vec::new();
    for (spec, (file, probe)) in plan.renditions.iter().zip(rungs) {
        let video = video_stream(probe);
        let mut codecs = avc1_codec(
            video.and_then(|v| v.profile.as_deref()),
            video.and_then(|v| v.level),
        );
        if audio_bps.is_some() {
            codecs += ",mp4a.40.2";
        }
        variants.push(m3u8_rs::VariantStream {
            uri: file_name(layout::hls_variant(&spec.name)),
            bandwidth: spec.video_max_bitrate_bps + audio_bps.unwrap_or(0),
            average_bandwidth: file
                .bitrate_bps
                .map(|v| v + audio.and_then(|a| a.bitrate_bps).unwrap_or(0)),
            codecs: Some(codecs),
            resolution: Some(m3u8_rs::Resolution {
                width: spec.width_px as u64,
                height: spec.height_px as u64,
            }),
            frame_rate: video
                .map(|v| ratio(v.avg_frame_rate.as_deref()))
                .filter(|f| *f > 0.0),
            audio: audio_bps.map(|_| layout::HLS_AUDIO_GROUP.to_string()),
            ..Default::default()
        });
    }
    let alternatives = audio_bps
        .map(|_| m3u8_rs::AlternativeMedia {
            media_type: m3u8_rs::AlternativeMediaType::Audio,
            uri: Some(file_name(layout::hls_variant(layout::AUDIO_RENDITION))),
            group_id: layout::HLS_AUDIO_GROUP.into(),
            name: "Audio".into(),
            default: true,
            autoselect: true,
            channels: Some("2".into()),
            ..Default::default()
        })
        .into_iter()
        .collect();
    let master = m3u8_rs::MasterPlaylist {
        // EXT-X-MAP in the media playlists of a stream without I-frame-only
        // playlists needs version 6 (RFC 8216 §7).
        version: Some(6),
        variants,
        alternatives,
        independent_segments: true,
        ..Default::default()
    };
    let mut text = Vec::new();
    master
        .write_to(&mut text)
        .map_err(|e| PortError::Failed(format!("master playlist: {e}")))?;
    Ok(text)
}

/// An output as ffprobe measured it.
pub(super) fn output_from(
    key: String,
    kind: OutputKind,
    name: Option<String>,
    probe: &FfprobeOutput,
    bytes: u64,
) -> OutputFile {
    let codec = probe
        .streams
        .iter()
        .map(|s| s.codec_name.as_str())
        .collect::<Vec<_>>()
        .join("+");
    let video = video_stream(probe);
    let format = probe.format.as_ref();
    OutputFile {
        key,
        kind,
        name,
        codec,
        width_px: video.and_then(|v| v.width),
        height_px: video.and_then(|v| v.height),
        bitrate_bps: format.and_then(|f| f.bit_rate.as_deref()?.parse().ok()),
        duration_s: format.and_then(|f| f.duration.as_deref()?.parse().ok()),
        bytes,
    }
}

pub(super) fn size_of(path: &Path) -> Result<u64, PortError> {
    fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| io_error(path, e))
}

/// The output at `relative` in the work folder, measured by ffprobe.
async fn probed(
    work: &Path,
    relative: &str,
    key: String,
    kind: OutputKind,
    name: Option<String>,
) -> Result<(OutputFile, FfprobeOutput), PortError> {
    let path = work.join(relative);
    let probe = ffprobe_json(&path, &[])
        .await
        .map_err(|e| PortError::Failed(format!("{key}: {e}")))?;
    let file = output_from(key, kind, name, &probe, size_of(&path)?);
    Ok((file, probe))
}

/// Measures every output in the work folder (one ffprobe each), writes the HLS master
/// playlist from the same measures, and lists the outputs in a fixed order: the
/// progressive MP4, HLS, MP3, GIF, frame captures. Keys are the final ones.
pub(super) async fn describe_outputs(
    job: &TranscodeJob,
    work: &Path,
) -> Result<Vec<OutputFile>, PortError> {
    let (at, plan) = (&job.keys(), &job.plan);
    let mut out = Vec::new();
    if let Some(top) = plan.progressive() {
        let key = at.rendition(&top.name);
        let name = Some(top.name.clone());
        let relative = layout::rendition(&top.name);
        out.push(
            probed(work, &relative, key, OutputKind::Rendition, name)
                .await?
                .0,
        );
    }
    if !plan.renditions.is_empty() {
        out.extend(hls_outputs(job, work).await?);
    }
    if plan.mp3_bitrate_bps.is_some() {
        let key = at.audio_mp3();
        out.push(
            probed(work, &layout::mp3(), key, OutputKind::Mp3, None)
                .await?
                .0,
        );
    }
    if plan.gif.is_some() {
        let key = at.preview_gif();
        out.push(
            probed(work, &layout::gif(), key, OutputKind::Gif, None)
                .await?
                .0,
        );
    }
    out.extend(frame_capture_outputs(job, work));
    Ok(out)
}

/// Measures each HLS rendition (its media file by ffprobe, its playlist and media
/// file together in bytes), writes the master playlist, and describes it and each
/// rendition: the rungs in ladder order, then the audio.
async fn hls_outputs(job: &TranscodeJob, work: &Path) -> Result<Vec<OutputFile>, PortError> {
    let (at, plan) = (&job.keys(), &job.plan);
    let mut names: Vec<&str> = plan.renditions.iter().map(|r| r.name.as_str()).collect();
    if plan.audio_rendition_bps().is_some() {
        names.push(layout::AUDIO_RENDITION);
    }
    let mut measured = Vec::new();
    for name in names {
        let key = at.hls_variant(name);
        let media = layout::hls_media(name);
        let (mut file, probe) =
            probed(work, &media, key, OutputKind::HlsVariant, Some(name.into())).await?;
        file.codec += "/fmp4";
        file.bytes += size_of(&work.join(layout::hls_variant(name)))?;
        measured.push((file, probe));
    }
    let audio = measured
        .get(plan.renditions.len())
        .map(|(file, _)| file.clone());
    let text = master_playlist(plan, &measured[..plan.renditions.len()], audio.as_ref())?;
    let master_path = work.join(layout::hls_master());
    fs::write(&master_path, &text).map_err(|e| io_error(&master_path, e))?;
    let master = OutputFile {
        key: at.hls_master(),
        kind: OutputKind::HlsMaster,
        name: None,
        codec: "hls".into(),
        width_px: None,
        height_px: None,
        bitrate_bps: None,
        duration_s: Some(plan.clip.duration_s()),
        bytes: text.len() as u64,
    };
    Ok(std::iter::once(master)
        .chain(measured.into_iter().map(|(file, _)| file))
        .collect())
}

/// The frame captures written, in order, up to the first missing one.
fn frame_capture_outputs(job: &TranscodeJob, work: &Path) -> Vec<OutputFile> {
    let Some(fr) = &job.plan.frames else {
        return Vec::new();
    };
    (0..fr.count)
        .map_while(|i| {
            let bytes = size_of(&work.join(layout::frame_capture(i))).ok()?;
            Some(OutputFile {
                key: job.keys().frame_capture(i),
                kind: OutputKind::FrameCapture,
                name: None,
                codec: "mjpeg".into(),
                width_px: Some(fr.width_px),
                height_px: Some(fr.height_px),
                bitrate_bps: None,
                duration_s: None,
                bytes,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avc1_codec_strings_follow_rfc_6381() {
        assert_eq!(avc1_codec(Some("High"), Some(40)), "avc1.640028");
        assert_eq!(avc1_codec(Some("Main"), Some(31)), "avc1.4D401F");
        assert_eq!(
            avc1_codec(Some("Constrained Baseline"), Some(30)),
            "avc1.42E01E"
        );
    }
}
