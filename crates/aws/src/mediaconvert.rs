//! The cloud transcoder: the plan as AWS Elemental MediaConvert jobs, and the jobs'
//! state changes (EventBridge "MediaConvert Job State Change") as the domain's
//! [`JobStateChange`].
//!
//! One job a video makes every rendition from the same plan the local mode uses:
//! - the cut: one `InputClipping`, timecodes `HH:MM:SS:FF` at the probed frame rate
//!   on a zero-based input timecode (`TimecodeSource: ZEROBASED`), so 00:00:00:00 is
//!   the source's first frame;
//! - the fades: MediaConvert has no video fade, so a full-frame black PNG is laid over
//!   the input by the image inserter twice: opaque at the in point, fading out over
//!   the fade (`FadeOut`), and fading in over the last seconds (`FadeIn`) to opaque at
//!   the out point. Overlay times are input timecodes, like the clipping. MediaConvert
//!   has no audio fade either: in the cloud the sound starts and ends at full level,
//!   where the local mode fades it (a documented difference);
//! - a File group of MP4 renditions (H.264 QVBR capped at the rung's maxrate, AAC),
//!   an HLS group of the same ladder, an MP3 (File group, raw container), and frame
//!   captures (File group, JPEG every `interval_s`, at most `count`);
//! - `UserMetadata` carries the video id and which job this is, so the state change
//!   finds its video; a `ClientRequestToken` from the video id and the plan makes a
//!   retried submit return the first job instead of starting a second.
//!
//! The animated GIF preview is a job of its own, submitted with the renditions job: it
//! is a window of the clip (5 s by default), and MediaConvert clips per input, not per
//! output. One `InputClipping` for the window, one output (GIF container and codec,
//! the plan's size and frame rate) to `media/<id>/preview.gif`.
//!
//! The promo job is another: one input with an `InputClipping` per promo segment, the
//! black overlay fading at every join and both ends, one MP4 at the largest
//! rendition's size.

use std::collections::HashMap;

use aws_sdk_mediaconvert::types::{
    AacCodingMode, AacRateControlMode, AacSettings, AudioCodec, AudioCodecSettings,
    AudioDefaultSelection, AudioDescription, AudioSelector, ContainerSettings, ContainerType,
    FileGroupSettings, FrameCaptureSettings, GifFramerateControl, GifSettings, H264QvbrSettings,
    H264RateControlMode, H264SceneChangeDetect, H264Settings, HlsGroupSettings, HlsSegmentControl,
    ImageInserter, Input, InputClipping, InputRotate, InputTimecodeSource, InsertableImage,
    JobSettings, Mp3RateControlMode, Mp3Settings, Output, OutputGroup, OutputGroupSettings,
    OutputGroupType, ScalingBehavior, StatusUpdateInterval, VideoCodec, VideoCodecSettings,
    VideoDescription, VideoSelector,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use vidpipe_domain::events::{JobKind, JobStateChange};
use vidpipe_domain::keys::{self, VideoId};
use vidpipe_domain::plan::{Plan, RenditionSpec};
use vidpipe_domain::ports::{
    JobOutcome, ObjectReader, ObjectWriter, PromoJob, Submission, TranscodeJob, Transcoder,
};
use vidpipe_domain::record::{OutputFile, OutputKind};
use vidpipe_domain::time::timecode_hhmmssff;
use vidpipe_domain::PortError;

use crate::error::port_error;
use crate::s3::S3Store;

/// The SDK client the adapter takes, re-exported for the function binaries.
pub use aws_sdk_mediaconvert::Client;

/// The audio selector every output reads (the input's first audio track).
const AUDIO_SELECTOR: &str = "Audio Selector 1";
/// Frame rate for timecodes when the source has no video (audio only).
const AUDIO_ONLY_FPS: f64 = 25.0;
/// QVBR quality level (1–10). AWS recommends 7 for most content at 1080p and below
/// (MediaConvert User Guide, "Guidelines for using QVBR").
pub const QVBR_QUALITY: i32 = 7;
/// GOP length in seconds: 6 s HLS segments hold whole GOPs.
pub const GOP_S: f64 = 2.0;
/// JPEG quality of frame captures (1–100).
pub const FRAME_CAPTURE_QUALITY: i32 = 85;

/// `media/<id>/fade-black.png`: the overlay the fades use.
pub fn overlay_key(id: &VideoId) -> String {
    format!("{}fade-black.png", keys::media_dir(id))
}

/// A black, opaque PNG of `width` × `height` pixels.
///
/// # Errors
/// [`PortError::Failed`] if the encoder refuses the size.
pub fn black_png(width: u32, height: u32) -> Result<Vec<u8>, PortError> {
    let image = image::RgbImage::new(width.max(1), height.max(1));
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| PortError::Failed(format!("black {width}x{height} PNG: {e}")))?;
    Ok(bytes)
}

/// The client request token: up to 64 ASCII characters (MediaConvert API Reference,
/// CreateJob, `clientRequestToken`), the same for the same video, job and plan.
pub fn request_token(id: &VideoId, job: JobKind, plan: &impl serde::Serialize) -> String {
    let digest = Sha256::digest(serde_json::to_vec(plan).unwrap_or_default());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("vidpipe-{id}-{}-{hex}", job.as_str())
}

fn timecode_fps(plan: &Plan) -> f64 {
    if plan.source_fps > 0.0 {
        plan.source_fps
    } else {
        AUDIO_ONLY_FPS
    }
}

fn ms(seconds: f64) -> i32 {
    (seconds * 1000.0).round().clamp(0.0, i32::MAX as f64) as i32
}

/// The black image laid over the input for the fades: where it is, and the input's
/// frame rate (for timecodes) and size (the overlay covers the whole frame).
struct BlackOverlay<'a> {
    image_uri: &'a str,
    fps: f64,
    size: (u32, u32),
}

impl BlackOverlay<'_> {
    /// One overlay on `layer`: opaque from `start_s` (input seconds) for `hold_s`,
    /// reaching or leaving full opacity over `fade_in_s` / `fade_out_s`.
    fn at(
        &self,
        layer: i32,
        start_s: f64,
        fade_in_s: f64,
        hold_s: f64,
        fade_out_s: f64,
    ) -> InsertableImage {
        InsertableImage::builder()
            .image_inserter_input(self.image_uri)
            .layer(layer)
            .opacity(100)
            .image_x(0)
            .image_y(0)
            .width(self.size.0 as i32)
            .height(self.size.1 as i32)
            .start_time(timecode_hhmmssff(start_s, self.fps))
            .fade_in(ms(fade_in_s))
            // Duration includes the fade-in but not the fade-out (API Reference,
            // InsertableImage).
            .duration(ms(fade_in_s + hold_s))
            .fade_out(ms(fade_out_s))
            .build()
    }

    /// The fades of a clip `[start_s, end_s)` (input seconds) as two overlays, on
    /// `first_layer` and the one above it.
    fn fades(
        &self,
        first_layer: i32,
        start_s: f64,
        end_s: f64,
        fade_in_s: f64,
        fade_out_s: f64,
    ) -> Vec<InsertableImage> {
        let frame_s = 1.0 / self.fps;
        let mut images = Vec::new();
        if fade_in_s > 0.0 {
            // Black on the first frame, then transparent by the end of the fade.
            images.push(self.at(
                first_layer,
                start_s,
                0.0,
                frame_s,
                (fade_in_s - frame_s).max(0.0),
            ));
        }
        if fade_out_s > 0.0 {
            images.push(self.at(
                first_layer + 1,
                end_s - fade_out_s,
                fade_out_s,
                frame_s,
                0.0,
            ));
        }
        images
    }
}

fn h264(r: &RenditionSpec) -> VideoDescription {
    VideoDescription::builder()
        .width(r.width_px as i32)
        .height(r.height_px as i32)
        .scaling_behavior(ScalingBehavior::Default)
        .codec_settings(
            VideoCodecSettings::builder()
                .codec(VideoCodec::H264)
                .h264_settings(
                    H264Settings::builder()
                        .rate_control_mode(H264RateControlMode::Qvbr)
                        .qvbr_settings(
                            H264QvbrSettings::builder()
                                .qvbr_quality_level(QVBR_QUALITY)
                                .build(),
                        )
                        .max_bitrate(r.video_max_bitrate_bps.min(i32::MAX as u64) as i32)
                        .gop_size(GOP_S)
                        .gop_size_units(aws_sdk_mediaconvert::types::H264GopSizeUnits::Seconds)
                        .scene_change_detect(H264SceneChangeDetect::TransitionDetection)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn aac(bitrate_bps: u64) -> AudioDescription {
    AudioDescription::builder()
        .audio_source_name(AUDIO_SELECTOR)
        .codec_settings(
            AudioCodecSettings::builder()
                .codec(AudioCodec::Aac)
                .aac_settings(
                    AacSettings::builder()
                        .bitrate(bitrate_bps as i32)
                        .coding_mode(AacCodingMode::CodingMode20)
                        .rate_control_mode(AacRateControlMode::Cbr)
                        .sample_rate(48_000)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn file_group(name: &str, destination: String, outputs: Vec<Output>) -> OutputGroup {
    OutputGroup::builder()
        .name(name)
        .output_group_settings(
            OutputGroupSettings::builder()
                .r#type(OutputGroupType::FileGroupSettings)
                .file_group_settings(
                    FileGroupSettings::builder()
                        .destination(destination)
                        .build(),
                )
                .build(),
        )
        .set_outputs(Some(outputs))
        .build()
}

fn av_output(r: &RenditionSpec, container: ContainerType, extension: Option<&str>) -> Output {
    let mut o = Output::builder()
        .name_modifier(format!("_{}", r.name))
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
    store: &S3Store,
    source_key: &str,
    reads: Reads,
    clippings: Vec<InputClipping>,
    overlays: Vec<InsertableImage>,
) -> Input {
    let mut i = Input::builder()
        .file_input(store.uri(source_key))
        .timecode_source(InputTimecodeSource::Zerobased)
        .set_input_clippings(Some(clippings));
    if reads.audio {
        i = i.audio_selectors(
            AUDIO_SELECTOR,
            AudioSelector::builder()
                .default_selection(AudioDefaultSelection::Default)
                .build(),
        );
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

fn overlay_size(plan: &Plan) -> (u32, u32) {
    plan.renditions
        .iter()
        .map(|r| (r.width_px, r.height_px))
        .max_by_key(|(w, h)| w * h)
        .unwrap_or((16, 16))
}

/// The renditions job's settings: the module docs say what is in it.
pub fn job_settings(store: &S3Store, job: &TranscodeJob) -> JobSettings {
    let plan = &job.plan;
    let id = &job.video_id;
    let fps = timecode_fps(plan);
    let dir = format!("s3://{}/{}", store.bucket, keys::media_dir(id));
    let clipping = InputClipping::builder()
        .start_timecode(timecode_hhmmssff(plan.clip.start_s, fps))
        .end_timecode(timecode_hhmmssff(plan.clip.end_s, fps))
        .build();
    let overlays = if plan.renditions.is_empty() {
        Vec::new()
    } else {
        BlackOverlay {
            image_uri: &store.uri(&overlay_key(id)),
            fps,
            size: overlay_size(plan),
        }
        .fades(
            1,
            plan.clip.start_s,
            plan.clip.end_s,
            plan.fades.fade_in_s,
            plan.fades.fade_out_s,
        )
    };
    let mut groups = Vec::new();
    if !plan.renditions.is_empty() {
        groups.push(file_group(
            "renditions",
            format!("{dir}video"),
            plan.renditions
                .iter()
                .map(|r| av_output(r, ContainerType::Mp4, Some("mp4")))
                .collect(),
        ));
        let segment_s = plan.hls_segment_s.unwrap_or(6) as i32;
        groups.push(
            OutputGroup::builder()
                .name("hls")
                .output_group_settings(
                    OutputGroupSettings::builder()
                        .r#type(OutputGroupType::HlsGroupSettings)
                        .hls_group_settings(
                            HlsGroupSettings::builder()
                                .destination(format!("{dir}hls/video"))
                                .segment_length(segment_s)
                                .min_segment_length(0)
                                .segment_control(HlsSegmentControl::SegmentedFiles)
                                .build(),
                        )
                        .build(),
                )
                .set_outputs(Some(
                    plan.renditions
                        .iter()
                        .map(|r| av_output(r, ContainerType::M3U8, None))
                        .collect(),
                ))
                .build(),
        );
    }
    if let Some(bps) = plan.mp3_bitrate_bps {
        let mp3 = Output::builder()
            .container_settings(
                ContainerSettings::builder()
                    .container(ContainerType::Raw)
                    .build(),
            )
            .extension("mp3")
            .audio_descriptions(
                AudioDescription::builder()
                    .audio_source_name(AUDIO_SELECTOR)
                    .codec_settings(
                        AudioCodecSettings::builder()
                            .codec(AudioCodec::Mp3)
                            .mp3_settings(
                                Mp3Settings::builder()
                                    .bitrate(bps as i32)
                                    .channels(2)
                                    .rate_control_mode(Mp3RateControlMode::Cbr)
                                    .sample_rate(44_100)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build();
        groups.push(file_group("audio", format!("{dir}audio"), vec![mp3]));
    }
    if let Some(frames) = &plan.frames {
        let capture = Output::builder()
            .container_settings(
                ContainerSettings::builder()
                    .container(ContainerType::Raw)
                    .build(),
            )
            .extension("jpg")
            .video_description(
                VideoDescription::builder()
                    .width(frames.width_px as i32)
                    .height(frames.height_px as i32)
                    .codec_settings(
                        VideoCodecSettings::builder()
                            .codec(VideoCodec::FrameCapture)
                            .frame_capture_settings(
                                // One capture every interval_s: 1000 / (interval_s × 1000) fps.
                                FrameCaptureSettings::builder()
                                    .framerate_numerator(1000)
                                    .framerate_denominator(ms(frames.interval_s).max(1))
                                    .max_captures(frames.count as i32)
                                    .quality(FRAME_CAPTURE_QUALITY)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build();
        groups.push(file_group(
            "frame-captures",
            format!("{dir}frames/frame"),
            vec![capture],
        ));
    }
    JobSettings::builder()
        .inputs(input(
            store,
            &job.source_key,
            Reads::of(plan),
            vec![clipping],
            overlays,
        ))
        .set_output_groups(Some(groups))
        .build()
}

/// The promo job's settings: one clipping per segment (segment times are from the
/// clip's start; clippings are source times), a short fade at each segment's ends.
pub fn promo_job_settings(store: &S3Store, job: &PromoJob) -> Result<JobSettings, PortError> {
    let plan = &job.plan;
    let Some(largest) = plan.renditions.first() else {
        return Err(PortError::Invalid(
            "no video rendition to size the promo clip by".into(),
        ));
    };
    let fps = timecode_fps(plan);
    let overlay = store.uri(&overlay_key(&job.video_id));
    let black = BlackOverlay {
        image_uri: &overlay,
        fps,
        size: overlay_size(plan),
    };
    let mut clippings = Vec::new();
    let mut overlays = Vec::new();
    for (i, s) in job.segments.iter().enumerate() {
        let start_s = plan.clip.start_s + s.start_s;
        let end_s = (plan.clip.start_s + s.end_s).min(plan.clip.end_s);
        clippings.push(
            InputClipping::builder()
                .start_timecode(timecode_hhmmssff(start_s, fps))
                .end_timecode(timecode_hhmmssff(end_s, fps))
                .build(),
        );
        let fade_s = job.fade_s.min((end_s - start_s) / 2.0);
        overlays.extend(black.fades(1 + 2 * i as i32, start_s, end_s, fade_s, fade_s));
    }
    let mut output = av_output(largest, ContainerType::Mp4, Some("mp4"));
    output.name_modifier = None;
    Ok(JobSettings::builder()
        .inputs(input(
            store,
            &job.source_key,
            Reads::of(plan),
            clippings,
            overlays,
        ))
        .output_groups(file_group(
            "promo",
            format!(
                "s3://{}/{}promo",
                store.bucket,
                keys::media_dir(&job.video_id)
            ),
            vec![output],
        ))
        .build())
}

/// The GIF job's settings: the plan's GIF window (seconds from the clip's start) as
/// the one clipping, the GIF output at the plan's size and frame rate. `None` when the
/// plan has no GIF (audio-only sources).
pub fn gif_job_settings(store: &S3Store, job: &TranscodeJob) -> Option<JobSettings> {
    let plan = &job.plan;
    let gif = plan.gif.as_ref()?;
    let fps = timecode_fps(plan);
    let start_s = plan.clip.start_s + gif.start_s;
    let end_s = (start_s + gif.duration_s).min(plan.clip.end_s);
    let clipping = InputClipping::builder()
        .start_timecode(timecode_hhmmssff(start_s, fps))
        .end_timecode(timecode_hhmmssff(end_s, fps))
        .build();
    let output = Output::builder()
        .container_settings(
            ContainerSettings::builder()
                .container(ContainerType::Gif)
                .build(),
        )
        .extension("gif")
        .video_description(
            VideoDescription::builder()
                .width(gif.width_px as i32)
                .height(gif.height_px as i32)
                .scaling_behavior(ScalingBehavior::Default)
                .codec_settings(
                    VideoCodecSettings::builder()
                        .codec(VideoCodec::Gif)
                        .gif_settings(
                            GifSettings::builder()
                                .framerate_control(GifFramerateControl::Specified)
                                .framerate_numerator(gif.fps.max(1) as i32)
                                .framerate_denominator(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build();
    let preview = keys::preview_gif(&job.video_id);
    let stem = preview.strip_suffix(".gif").unwrap_or(&preview);
    Some(
        JobSettings::builder()
            .inputs(input(
                store,
                &job.source_key,
                Reads {
                    audio: false,
                    video: true,
                },
                vec![clipping],
                Vec::new(),
            ))
            .output_groups(file_group("gif", store.uri(stem), vec![output]))
            .build(),
    )
}

/// MediaConvert behind the [`Transcoder`] port.
pub struct MediaConvertTranscoder<'a> {
    pub client: aws_sdk_mediaconvert::Client,
    /// The role MediaConvert assumes to read the source and write outputs.
    pub role_arn: String,
    pub store: &'a S3Store,
}

impl MediaConvertTranscoder<'_> {
    async fn create(
        &self,
        id: &VideoId,
        job: JobKind,
        token: String,
        settings: JobSettings,
    ) -> Result<Submission, PortError> {
        let out = self
            .client
            .create_job()
            .role(&self.role_arn)
            .settings(settings)
            .user_metadata("video_id", id.as_str())
            .user_metadata("job", job.as_str())
            .client_request_token(token)
            .status_update_interval(StatusUpdateInterval::Seconds60)
            .send()
            .await
            .map_err(|e| port_error(&format!("mediaconvert CreateJob {id} {}", job.as_str()), e))?;
        let job_id = out.job.and_then(|j| j.id).ok_or_else(|| {
            PortError::Failed("mediaconvert CreateJob answered without a job id".into())
        })?;
        Ok(Submission::Submitted { job_id })
    }

    async fn put_overlay(&self, id: &VideoId, plan: &Plan) -> Result<(), PortError> {
        if plan.renditions.is_empty() {
            return Ok(());
        }
        let key = overlay_key(id);
        if self.store.head(&key).await?.is_none() {
            let (w, h) = overlay_size(plan);
            self.store.put(&key, black_png(w, h)?, "image/png").await?;
        }
        Ok(())
    }
}

impl Transcoder for MediaConvertTranscoder<'_> {
    async fn submit(&self, job: &TranscodeJob) -> Result<Submission, PortError> {
        self.put_overlay(&job.video_id, &job.plan).await?;
        let settings = job_settings(self.store, job);
        let token = request_token(&job.video_id, JobKind::Renditions, &job.plan);
        let submitted = self
            .create(&job.video_id, JobKind::Renditions, token, settings)
            .await?;
        // Second, so that a retry after a failed GIF submit finds the renditions job
        // by its token rather than making another.
        if let Some(settings) = gif_job_settings(self.store, job) {
            let token = request_token(&job.video_id, JobKind::Gif, &job.plan);
            self.create(&job.video_id, JobKind::Gif, token, settings)
                .await?;
        }
        Ok(submitted)
    }

    async fn submit_promo(&self, job: &PromoJob) -> Result<Submission, PortError> {
        self.put_overlay(&job.video_id, &job.plan).await?;
        let settings = promo_job_settings(self.store, job)?;
        let token = request_token(&job.video_id, JobKind::Promo, &(&job.plan, &job.segments));
        self.create(&job.video_id, JobKind::Promo, token, settings)
            .await
    }
}

/// Why a MediaConvert event was not turned into a state change.
#[derive(Debug, PartialEq)]
pub enum JobEventError {
    /// Not a state we act on (PROGRESSING, STATUS_UPDATE, …): nothing to do.
    Ignored(String),
    /// Not readable as a state change of one of our jobs.
    Malformed(String),
}

/// A MediaConvert "Job State Change" (the EventBridge event) as a [`JobStateChange`].
/// COMPLETE outputs are measured by a HEAD of each file; frame captures are not
/// listed (the cover stage lists them), HLS variant playlists are.
pub async fn job_state_change<S: ObjectReader>(
    store: &S,
    event: &Value,
) -> Result<JobStateChange, JobEventError> {
    let detail = event
        .get("detail")
        .ok_or_else(|| JobEventError::Malformed("no 'detail'".into()))?;
    let status = detail.get("status").and_then(Value::as_str).unwrap_or("");
    let job_id = detail
        .get("jobId")
        .and_then(Value::as_str)
        .ok_or_else(|| JobEventError::Malformed("no 'detail.jobId'".into()))?
        .to_string();
    let meta = detail.get("userMetadata");
    let video_id = meta
        .and_then(|m| m.get("video_id"))
        .and_then(Value::as_str)
        .and_then(VideoId::parse)
        .ok_or_else(|| {
            JobEventError::Malformed(format!("job {job_id}: no vidpipe video_id in userMetadata"))
        })?;
    let job = match meta.and_then(|m| m.get("job")).and_then(Value::as_str) {
        None => JobKind::Renditions,
        Some(name) => JobKind::parse(name).ok_or_else(|| {
            JobEventError::Malformed(format!("job {job_id}: unknown job kind '{name}'"))
        })?,
    };
    let outcome = match status {
        "COMPLETE" => JobOutcome::Complete {
            outputs: complete_outputs(store, &video_id, job, detail)
                .await
                .map_err(JobEventError::Malformed)?,
        },
        "ERROR" => JobOutcome::Error {
            code: detail.get("errorCode").and_then(Value::as_i64),
            message: detail
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or("no error message")
                .to_string(),
        },
        other => return Err(JobEventError::Ignored(format!("job {job_id} is {other}"))),
    };
    Ok(JobStateChange {
        video_id,
        job_id,
        outcome,
        job,
    })
}

async fn complete_outputs<S: ObjectReader>(
    store: &S,
    id: &VideoId,
    job: JobKind,
    detail: &Value,
) -> Result<Vec<OutputFile>, String> {
    let mut outputs = Vec::new();
    let groups = detail
        .get("outputGroupDetails")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let key_of = |uri: &str| -> Option<String> {
        uri.strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .map(|(_, key)| key.to_string())
    };
    let mut found: Vec<(String, Option<&Value>)> = Vec::new();
    for group in &groups {
        for path in group
            .get("playlistFilePaths")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(k) = path.as_str().and_then(key_of) {
                found.push((k, None));
            }
        }
        for detail in group
            .get("outputDetails")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for path in detail
                .get("outputFilePaths")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(k) = path.as_str().and_then(key_of) {
                    found.push((k, Some(detail)));
                }
            }
        }
    }
    let mut by_key: HashMap<String, Option<&Value>> = HashMap::new();
    for (key, detail) in found {
        if !key.starts_with(&keys::media_dir(id)) {
            return Err(format!("output {key} is outside media/{id}/"));
        }
        by_key.entry(key).or_insert(detail);
    }
    let mut keys_sorted: Vec<_> = by_key.keys().cloned().collect();
    keys_sorted.sort();
    for key in keys_sorted {
        let detail = by_key[&key];
        let file = key.rsplit('/').next().unwrap_or("");
        let (kind, name, codec) = if job == JobKind::Promo {
            (OutputKind::Promo, None, "h264+aac")
        } else if key == keys::preview_gif(id) {
            (OutputKind::Gif, None, "gif")
        } else if key == keys::hls_master(id) {
            (OutputKind::HlsMaster, None, "h264+aac")
        } else if key == keys::audio_mp3(id) {
            (OutputKind::Mp3, None, "mp3")
        } else if keys::frame_capture_index(&key).is_some() {
            continue;
        } else if let Some(rung) = file.strip_prefix("video_") {
            let (rung, ext) = rung.rsplit_once('.').unwrap_or((rung, ""));
            let kind = if ext == "m3u8" {
                OutputKind::HlsVariant
            } else {
                OutputKind::Rendition
            };
            (kind, Some(rung.to_string()), "h264+aac")
        } else {
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
        let video = detail.and_then(|d| d.get("videoDetails"));
        let number =
            |v: Option<&Value>, field: &str| v.and_then(|v| v.get(field)).and_then(Value::as_u64);
        let duration_s = number(detail, "durationInMs").map(|ms| ms as f64 / 1000.0);
        outputs.push(OutputFile {
            key,
            kind,
            name,
            codec: codec.into(),
            width_px: number(video, "widthInPx").map(|w| w as u32),
            height_px: number(video, "heightInPx").map(|h| h as u32),
            bitrate_bps: number(video, "averageBitrate").or_else(|| {
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
