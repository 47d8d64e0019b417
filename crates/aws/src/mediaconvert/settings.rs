//! The jobs' settings, one function per output group, as pure functions of the plan
//! and the bucket. Destinations are the names in [`vidpipe_domain::layout`].

use aws_sdk_mediaconvert::types::{
    AacCodingMode, AacRateControlMode, AacSettings, AudioCodec, AudioCodecSettings,
    AudioDefaultSelection, AudioDescription, AudioSelector, CmafGroupSettings, CmafSegmentControl,
    CmafWriteDashManifest, CmafWriteHlsManifest, CmfcSettings, ContainerSettings, ContainerType,
    FileGroupSettings, FrameCaptureSettings, H264GopSizeUnits, H264QualityTuningLevel,
    H264QvbrSettings, H264RateControlMode, H264SceneChangeDetect, H264Settings, ImageInserter,
    Input, InputClipping, InputRotate, InputTimecodeSource, InsertableImage, JobSettings,
    Mp3RateControlMode, Mp3Settings, Output, OutputGroup, OutputGroupSettings, OutputGroupType,
    ScalingBehavior, VideoCodec, VideoCodecSettings, VideoDescription, VideoSelector,
};
use vidpipe_domain::keys::PlanKeys;
use vidpipe_domain::layout;
use vidpipe_domain::plan::{FrameCaptureSpec, Plan, RenditionSpec, SourceWindow, GOP_S};
use vidpipe_domain::ports::TranscodeJob;
use vidpipe_domain::time::timecode_hhmmssff;

use super::overlay::{ms, BlackOverlay};
use crate::s3::s3_uri;

/// The audio selector every output reads (the input's first audio track).
const AUDIO_SELECTOR: &str = "Audio Selector 1";
/// QVBR quality level (1–10). AWS recommends 7 for most content at 1080p and below
/// (MediaConvert User Guide, "Guidelines for using QVBR").
pub const QVBR_QUALITY: i32 = 7;
/// JPEG quality of frame captures (1–100).
pub const FRAME_CAPTURE_QUALITY: i32 = 85;

/// A destination base below the plan's folder: `s3://<bucket>/media/<id>/<stem>`
/// (`media/<id>/g<N>/<stem>` after a replan).
fn destination(bucket: &str, at: &PlanKeys, stem: &str) -> String {
    s3_uri(bucket, &at.media_stem(stem))
}

fn clipping(window: SourceWindow, fps: f64) -> InputClipping {
    InputClipping::builder()
        .start_timecode(timecode_hhmmssff(window.start_s, fps))
        .end_timecode(timecode_hhmmssff(window.end_s, fps))
        .build()
}

/// The renditions job: one clipping for the clip, the fades as overlays, and the
/// groups the plan has: the ladder as CMAF (one billed output per rung and one for
/// the sound), the progressive MP4 of the top rung, the MP3, frame captures.
pub fn job_settings(bucket: &str, job: &TranscodeJob) -> JobSettings {
    let plan = &job.plan;
    let at = &job.keys();
    let fps = plan.timecode_fps();
    let window = SourceWindow {
        start_s: plan.clip.start_s,
        end_s: plan.clip.end_s,
        fade_s: plan.fades.fade_in_s,
    };
    let overlays = if plan.renditions.is_empty() {
        Vec::new()
    } else {
        let image_uri = s3_uri(bucket, &at.fade_overlay());
        BlackOverlay {
            image_uri: &image_uri,
            fps,
            size: overlay_size(plan),
        }
        .fades(1, window, plan.fades.fade_in_s, plan.fades.fade_out_s)
    };
    let mut groups = Vec::new();
    if let Some(top) = plan.progressive() {
        groups.push(progressive_group(bucket, at, top));
        groups.push(cmaf_group(bucket, at, plan));
    }
    if let Some(bps) = plan.mp3_bitrate_bps {
        groups.push(mp3_group(bucket, at, bps));
    }
    if let Some(frames) = &plan.frames {
        groups.push(frame_capture_group(bucket, at, frames));
    }
    let source = s3_uri(bucket, &job.source_key);
    JobSettings::builder()
        .inputs(input(
            &source,
            Reads::of(plan),
            vec![clipping(window, fps)],
            overlays,
        ))
        .set_output_groups(Some(groups))
        .build()
}

/// A File group with the progressive MP4 of `top` (H.264 QVBR capped at the rung's
/// maxrate, AAC): `video_<top>.mp4`.
pub fn progressive_group(bucket: &str, at: &PlanKeys, top: &RenditionSpec) -> OutputGroup {
    file_group(
        "renditions",
        destination(bucket, at, layout::RENDITION_STEM),
        vec![av_output(top, ContainerType::Mp4, Some("mp4"))],
    )
}

/// The ladder as a CMAF group of single files (`SegmentControl` SINGLE_FILE: one
/// fragmented MP4 per output, its HLS playlist addressing segments by byte range),
/// HLS manifests only, segments of the plan's length. One output per rung (picture
/// only) and one for the sound (AAC at [`Plan::audio_rendition_bps`]), since a CMAF
/// output holds one track. Names: the master `hls/video.m3u8`, a rung's playlist
/// `hls/video_<rung>.m3u8`, the sound's `hls/video_audio.m3u8`.
pub fn cmaf_group(bucket: &str, at: &PlanKeys, plan: &Plan) -> OutputGroup {
    let segment_s = plan.hls_segment_s.unwrap_or(6) as i32;
    let audio = plan.audio_rendition_bps();
    let cmfc = |c: CmfcSettings| {
        ContainerSettings::builder()
            .container(ContainerType::Cmfc)
            .cmfc_settings(c)
            .build()
    };
    let mut outputs: Vec<Output> = plan
        .renditions
        .iter()
        .map(|r| {
            let mut c = CmfcSettings::builder();
            if audio.is_some() {
                c = c.audio_rendition_sets(layout::HLS_AUDIO_GROUP);
            }
            Output::builder()
                .name_modifier(layout::rung_modifier(&r.name))
                .container_settings(cmfc(c.build()))
                .video_description(h264(r))
                .build()
        })
        .collect();
    if let Some(bps) = audio {
        let c = CmfcSettings::builder()
            .audio_group_id(layout::HLS_AUDIO_GROUP)
            .build();
        outputs.push(
            Output::builder()
                .name_modifier(layout::rung_modifier(layout::AUDIO_RENDITION))
                .container_settings(cmfc(c))
                .audio_descriptions(aac(bps))
                .build(),
        );
    }
    OutputGroup::builder()
        .name("hls")
        .output_group_settings(
            OutputGroupSettings::builder()
                .r#type(OutputGroupType::CmafGroupSettings)
                .cmaf_group_settings(
                    CmafGroupSettings::builder()
                        .destination(destination(bucket, at, layout::HLS_STEM))
                        .segment_control(CmafSegmentControl::SingleFile)
                        .segment_length(segment_s)
                        .fragment_length(GOP_S as i32)
                        .write_hls_manifest(CmafWriteHlsManifest::Enabled)
                        .write_dash_manifest(CmafWriteDashManifest::Disabled)
                        .min_final_segment_length(0.0)
                        .build(),
                )
                .build(),
        )
        .set_outputs(Some(outputs))
        .build()
}

/// The MP3 (File group, raw container), CBR at `bitrate_bps`, 44.1 kHz stereo.
pub fn mp3_group(bucket: &str, at: &PlanKeys, bitrate_bps: u64) -> OutputGroup {
    let mp3 = Mp3Settings::builder()
        .bitrate(bitrate_bps as i32)
        .channels(2)
        .rate_control_mode(Mp3RateControlMode::Cbr)
        .sample_rate(44_100)
        .build();
    let output = Output::builder()
        .container_settings(raw_container())
        .extension("mp3")
        .audio_descriptions(
            AudioDescription::builder()
                .audio_source_name(AUDIO_SELECTOR)
                .codec_settings(
                    AudioCodecSettings::builder()
                        .codec(AudioCodec::Mp3)
                        .mp3_settings(mp3)
                        .build(),
                )
                .build(),
        )
        .build();
    file_group(
        "audio",
        destination(bucket, at, layout::MP3_STEM),
        vec![output],
    )
}

/// Frame captures (File group): a JPEG every `interval_s`, at most `count`.
pub fn frame_capture_group(bucket: &str, at: &PlanKeys, frames: &FrameCaptureSpec) -> OutputGroup {
    // One capture every interval_s: 1000 / (interval_s × 1000) fps.
    let capture = FrameCaptureSettings::builder()
        .framerate_numerator(1000)
        .framerate_denominator(ms(frames.interval_s).max(1))
        .max_captures(frames.count as i32)
        .quality(FRAME_CAPTURE_QUALITY)
        .build();
    let output = Output::builder()
        .container_settings(raw_container())
        .extension("jpg")
        .video_description(
            VideoDescription::builder()
                .width(frames.width_px as i32)
                .height(frames.height_px as i32)
                .codec_settings(
                    VideoCodecSettings::builder()
                        .codec(VideoCodec::FrameCapture)
                        .frame_capture_settings(capture)
                        .build(),
                )
                .build(),
        )
        .build();
    file_group(
        "frame-captures",
        destination(bucket, at, layout::FRAME_STEM),
        vec![output],
    )
}

fn raw_container() -> ContainerSettings {
    ContainerSettings::builder()
        .container(ContainerType::Raw)
        .build()
}

fn h264(r: &RenditionSpec) -> VideoDescription {
    let h264 = H264Settings::builder()
        .rate_control_mode(H264RateControlMode::Qvbr)
        .qvbr_settings(
            H264QvbrSettings::builder()
                .qvbr_quality_level(QVBR_QUALITY)
                .build(),
        )
        .max_bitrate(r.video_max_bitrate_bps.min(i32::MAX as u64) as i32)
        // Single pass HQ, MediaConvert's default, keeps the job in the Basic tier:
        // multi-pass HQ is billed at the Professional tier (API Reference,
        // H264QualityTuningLevel; AWS Elemental MediaConvert pricing, "Basic tier").
        .quality_tuning_level(H264QualityTuningLevel::SinglePassHq)
        .gop_size(GOP_S)
        .gop_size_units(H264GopSizeUnits::Seconds)
        .scene_change_detect(H264SceneChangeDetect::TransitionDetection)
        .build();
    VideoDescription::builder()
        .width(r.width_px as i32)
        .height(r.height_px as i32)
        .scaling_behavior(ScalingBehavior::Default)
        .codec_settings(
            VideoCodecSettings::builder()
                .codec(VideoCodec::H264)
                .h264_settings(h264)
                .build(),
        )
        .build()
}

fn aac(bitrate_bps: u64) -> AudioDescription {
    let aac = AacSettings::builder()
        .bitrate(bitrate_bps as i32)
        .coding_mode(AacCodingMode::CodingMode20)
        .rate_control_mode(AacRateControlMode::Cbr)
        .sample_rate(48_000)
        .build();
    AudioDescription::builder()
        .audio_source_name(AUDIO_SELECTOR)
        .codec_settings(
            AudioCodecSettings::builder()
                .codec(AudioCodec::Aac)
                .aac_settings(aac)
                .build(),
        )
        .build()
}

fn file_group(name: &str, destination: String, outputs: Vec<Output>) -> OutputGroup {
    let settings = FileGroupSettings::builder()
        .destination(destination)
        .build();
    OutputGroup::builder()
        .name(name)
        .output_group_settings(
            OutputGroupSettings::builder()
                .r#type(OutputGroupType::FileGroupSettings)
                .file_group_settings(settings)
                .build(),
        )
        .set_outputs(Some(outputs))
        .build()
}

fn av_output(r: &RenditionSpec, container: ContainerType, extension: Option<&str>) -> Output {
    let mut o = Output::builder()
        .name_modifier(layout::rung_modifier(&r.name))
        .container_settings(ContainerSettings::builder().container(container).build())
        .video_description(h264(r));
    if let Some(ext) = extension {
        o = o.extension(ext);
    }
    if let Some(bps) = r.audio_bitrate_bps {
        o = o.audio_descriptions(aac(bps));
    }
    o.build()
}

/// What a job's outputs read of the input.
#[derive(Debug, Clone, Copy)]
struct Reads {
    audio: bool,
    video: bool,
}

impl Reads {
    /// Everything the plan's outputs use: audio for the MP3 or a rendition's AAC,
    /// video for the renditions.
    fn of(plan: &Plan) -> Reads {
        Reads {
            audio: plan.mp3_bitrate_bps.is_some()
                || plan
                    .renditions
                    .iter()
                    .any(|r| r.audio_bitrate_bps.is_some()),
            video: !plan.renditions.is_empty(),
        }
    }
}

fn input(
    source_uri: &str,
    reads: Reads,
    clippings: Vec<InputClipping>,
    overlays: Vec<InsertableImage>,
) -> Input {
    let mut i = Input::builder()
        .file_input(source_uri)
        .timecode_source(InputTimecodeSource::Zerobased)
        .set_input_clippings(Some(clippings));
    if reads.audio {
        let selector = AudioSelector::builder()
            .default_selection(AudioDefaultSelection::Default)
            .build();
        i = i.audio_selectors(AUDIO_SELECTOR, selector);
    }
    if reads.video {
        i = i.video_selector(VideoSelector::builder().rotate(InputRotate::Auto).build());
    }
    if !overlays.is_empty() {
        i = i.image_inserter(
            ImageInserter::builder()
                .set_insertable_images(Some(overlays))
                .build(),
        );
    }
    i.build()
}

/// The overlay's size: the input's frame ([`Plan::source_frame_px`]), since input
/// overlays are drawn at the input's resolution (MediaConvert User Guide, "Sizing
/// your overlays for scaling"); for a plan recorded without it, the largest
/// rendition's; 16×16 where there is neither.
pub fn overlay_size(plan: &Plan) -> (u32, u32) {
    plan.source_frame_px.unwrap_or_else(|| {
        plan.renditions
            .iter()
            .map(|r| (r.width_px, r.height_px))
            .max_by_key(|(w, h)| w * h)
            .unwrap_or((16, 16))
    })
}

mod short_jobs;
pub use short_jobs::{gif_job_settings, promo_job_settings};

#[cfg(test)]
mod tests;
