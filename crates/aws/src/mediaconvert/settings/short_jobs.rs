//! The short jobs beside the renditions job: the promo clip (with its vertical cut)
//! and the GIF preview, each clipping only its windows of the source.

use aws_sdk_mediaconvert::types::{
    ContainerSettings, ContainerType, GifFramerateControl, GifSettings, JobSettings, Output,
    Rectangle, ScalingBehavior, VideoCodec, VideoCodecSettings, VideoDescription,
};
use vidpipe_domain::destinations::vertical::{output_size, Crop};
use vidpipe_domain::layout;
use vidpipe_domain::plan::{GifSpec, RenditionSpec};
use vidpipe_domain::ports::{PromoJob, TranscodeJob};
use vidpipe_domain::PortError;

use super::{av_output, clipping, destination, file_group, input, overlay_size, Reads};
use crate::mediaconvert::overlay::BlackOverlay;
use crate::s3::s3_uri;

/// The promo job's settings: one clipping per promo window of the source, the black
/// overlay fading at each window's ends, one MP4 at the largest rendition's size.
///
/// # Errors
/// [`PortError::Invalid`] when the plan has no video rendition to size it by.
pub fn promo_job_settings(bucket: &str, job: &PromoJob) -> Result<JobSettings, PortError> {
    let plan = &job.plan;
    let Some(largest) = plan.renditions.first() else {
        return Err(PortError::Invalid(
            "no video rendition to size the promo clip by".into(),
        ));
    };
    let fps = plan.timecode_fps();
    let image_uri = s3_uri(bucket, &job.keys().fade_overlay());
    let black = BlackOverlay {
        image_uri: &image_uri,
        fps,
        size: overlay_size(plan),
    };
    let windows = plan.promo_windows(&job.segments, job.fade_s);
    let clippings = windows.iter().map(|w| clipping(*w, fps)).collect();
    let overlays = windows
        .iter()
        .enumerate()
        .flat_map(|(i, w)| black.fades(1 + 2 * i as i32, *w, w.fade_s, w.fade_s))
        .collect();
    let mut output = av_output(largest, ContainerType::Mp4, Some("mp4"));
    output.name_modifier = None;
    let mut outputs = vec![output];
    if let Some(crop) = &job.vertical {
        outputs.push(vertical_output(largest, crop, overlay_size(plan)));
    }
    let source = s3_uri(bucket, &job.source_key);
    Ok(JobSettings::builder()
        .inputs(input(&source, Reads::of(plan), clippings, overlays))
        .output_groups(file_group(
            "promo",
            destination(bucket, &job.keys(), layout::PROMO_STEM),
            outputs,
        ))
        .build())
}

/// The vertical cut (`promo-vertical.mp4`): the 9:16 window of the input (`Crop`, in
/// the input's pixels, even values) scaled to [`output_size`], H.264 at the top rung's
/// maxrate with the sound.
fn vertical_output(top: &RenditionSpec, crop: &Crop, input_px: (u32, u32)) -> Output {
    let (x, y, w, h) = crop.pixels(input_px.0, input_px.1);
    let (ow, oh) = output_size(w, h);
    let spec = RenditionSpec {
        name: "vertical".into(),
        width_px: ow,
        height_px: oh,
        ..top.clone()
    };
    let mut output = av_output(&spec, ContainerType::Mp4, Some("mp4"));
    output.name_modifier = Some(layout::PROMO_VERTICAL_MODIFIER.into());
    if let Some(video) = output.video_description.as_mut() {
        video.crop = Some(
            Rectangle::builder()
                .x(x as i32)
                .y(y as i32)
                .width(w as i32)
                .height(h as i32)
                .build(),
        );
    }
    output
}

/// The GIF job's settings: the plan's GIF window as the one clipping, the GIF output
/// at the plan's size and frame rate. `None` when the plan has no GIF (audio only).
pub fn gif_job_settings(bucket: &str, job: &TranscodeJob) -> Option<JobSettings> {
    let plan = &job.plan;
    let gif = plan.gif.as_ref()?;
    let window = plan.gif_source_window()?;
    let source = s3_uri(bucket, &job.source_key);
    let video_only = Reads {
        audio: false,
        video: true,
    };
    Some(
        JobSettings::builder()
            .inputs(input(
                &source,
                video_only,
                vec![clipping(window, plan.timecode_fps())],
                Vec::new(),
            ))
            .output_groups(file_group(
                "gif",
                destination(bucket, &job.keys(), layout::GIF_STEM),
                vec![gif_output(gif)],
            ))
            .build(),
    )
}

fn gif_output(gif: &GifSpec) -> Output {
    let settings = GifSettings::builder()
        .framerate_control(GifFramerateControl::Specified)
        .framerate_numerator(gif.fps.max(1) as i32)
        .framerate_denominator(1)
        .build();
    Output::builder()
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
                        .gif_settings(settings)
                        .build(),
                )
                .build(),
        )
        .build()
}
