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

/// The HLS master playlist (RFC 8216 §4.3.4.2): one variant per rendition, BANDWIDTH
/// the peak (the rendition's maxrate plus its audio), AVERAGE-BANDWIDTH as measured.
fn master_playlist(
    plan: &Plan,
    renditions: &[(OutputFile, FfprobeOutput)],
) -> Result<Vec<u8>, PortError> {
    let mut variants = Vec::new();
    for (spec, (file, probe)) in plan.renditions.iter().zip(renditions) {
        let video = video_stream(probe);
        let mut codecs = avc1_codec(
            video.and_then(|v| v.profile.as_deref()),
            video.and_then(|v| v.level),
        );
        if spec.audio_bitrate_bps.is_some() {
            codecs += ",mp4a.40.2";
        }
        // The master playlist sits beside its variants: the URI is the file name.
        let variant = layout::hls_variant(&spec.name);
        variants.push(m3u8_rs::VariantStream {
            uri: variant.rsplit('/').next().unwrap_or(&variant).to_string(),
            bandwidth: spec.video_max_bitrate_bps + spec.audio_bitrate_bps.unwrap_or(0),
            average_bandwidth: file.bitrate_bps,
            codecs: Some(codecs),
            resolution: Some(m3u8_rs::Resolution {
                width: spec.width_px as u64,
                height: spec.height_px as u64,
            }),
            frame_rate: video
                .map(|v| ratio(v.avg_frame_rate.as_deref()))
                .filter(|f| *f > 0.0),
            ..Default::default()
        });
    }
    let master = m3u8_rs::MasterPlaylist {
        version: Some(3),
        variants,
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
/// playlist from the same measures, and lists the outputs in a fixed order:
/// renditions, HLS, MP3, GIF, frame captures. Keys are the final ones.
pub(super) async fn describe_outputs(
    job: &TranscodeJob,
    work: &Path,
) -> Result<Vec<OutputFile>, PortError> {
    let (at, plan) = (&job.keys(), &job.plan);
    let mut renditions = Vec::new();
    for r in &plan.renditions {
        let key = at.rendition(&r.name);
        let kind = OutputKind::Rendition;
        renditions.push(
            probed(
                work,
                &layout::rendition(&r.name),
                key,
                kind,
                Some(r.name.clone()),
            )
            .await?,
        );
    }
    let mut out: Vec<OutputFile> = renditions.iter().map(|(f, _)| f.clone()).collect();
    if !plan.renditions.is_empty() {
        out.extend(hls_outputs(job, work, &renditions)?);
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

/// Writes the master playlist and describes it and each variant (its playlist and
/// segments together).
fn hls_outputs(
    job: &TranscodeJob,
    work: &Path,
    renditions: &[(OutputFile, FfprobeOutput)],
) -> Result<Vec<OutputFile>, PortError> {
    let (at, plan) = (&job.keys(), &job.plan);
    let text = master_playlist(plan, renditions)?;
    let master_path = work.join(layout::hls_master());
    fs::write(&master_path, &text).map_err(|e| io_error(&master_path, e))?;
    let hls = |key, kind, name, size: Option<(u32, u32)>, codec: &str, bytes| OutputFile {
        key,
        kind,
        name,
        codec: codec.into(),
        width_px: size.map(|s| s.0),
        height_px: size.map(|s| s.1),
        bitrate_bps: None,
        duration_s: Some(plan.clip.duration_s()),
        bytes,
    };
    let mut out = vec![hls(
        at.hls_master(),
        OutputKind::HlsMaster,
        None,
        None,
        "hls",
        text.len() as u64,
    )];
    for r in &plan.renditions {
        let playlist = work.join(layout::hls_variant(&r.name));
        let listing = fs::read_to_string(&playlist).map_err(|e| io_error(&playlist, e))?;
        let mut bytes = listing.len() as u64;
        for segment in listing
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            bytes += size_of(&playlist.with_file_name(segment.trim()))?;
        }
        let size = Some((r.width_px, r.height_px));
        let key = at.hls_variant(&r.name);
        out.push(hls(
            key,
            OutputKind::HlsVariant,
            Some(r.name.clone()),
            size,
            "h264+aac/ts",
            bytes,
        ));
    }
    Ok(out)
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
