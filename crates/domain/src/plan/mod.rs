//! The plan: which outputs a video gets, at which sizes and bitrates, cut to which
//! window, with which fades. A pure function of the probe result, the sidecar and the
//! configuration; the local transcoder (one ffmpeg run) and the cloud one (one
//! MediaConvert job) both build from it.

use serde::{Deserialize, Serialize};

use crate::error::InputError;
use crate::media::MediaInfo;
use crate::understanding::PromoSegment;

/// One rung of the rendition ladder, named by its short side (`720p` is 1280×720
/// landscape or 720×1280 portrait).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderRung {
    pub name: String,
    /// Short side in pixels (even).
    pub short_side_px: u32,
    /// Peak video bitrate in bits per second (the encoder's maxrate).
    pub video_max_bitrate_bps: u64,
    pub audio_bitrate_bps: u64,
}

impl LadderRung {
    pub fn new(short_side_px: u32, video_kbps: u64, audio_kbps: u64) -> Self {
        LadderRung {
            name: format!("{short_side_px}p"),
            short_side_px,
            video_max_bitrate_bps: video_kbps * 1000,
            audio_bitrate_bps: audio_kbps * 1000,
        }
    }
}

/// What the plan is made from besides the source. `Default` is vidpipe's standard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanConfig {
    /// Largest first. Default 1080p/720p (web) and 480p/360p (phone).
    pub ladder: Vec<LadderRung>,
    /// Fade from/to black at each end, seconds. Default 3.
    pub fade_s: f64,
    pub gif_duration_s: f64,
    pub gif_max_width_px: u32,
    pub gif_fps: u32,
    /// Seconds between frame captures; `None` picks one from the clip length so that
    /// there are at most `max_frame_captures`, at least 1 s apart.
    pub frame_interval_s: Option<f64>,
    pub max_frame_captures: u32,
    pub mp3_bitrate_bps: u64,
    /// HLS target segment length, seconds (Apple recommends 6: HLS authoring spec).
    pub hls_segment_s: u32,
}

/// Fade from/to black at each end by default, seconds.
pub const DEFAULT_FADE_S: f64 = 3.0;
/// Frame rate assumed where the source has no video stream or its rate is unknown:
/// audio-only sources still need timecodes (MediaConvert's `InputClipping` takes
/// `HH:MM:SS:FF`), and 25 fps is the PAL/EBU rate.
pub const FALLBACK_FPS: f64 = 25.0;
/// GOP length, seconds: a 6 s HLS segment holds three whole GOPs (Apple's HLS
/// authoring spec asks for keyframes at segment starts).
pub const GOP_S: f64 = 2.0;
/// Fade at every join of the promo clip and at its ends, seconds.
pub const PROMO_FADE_S: f64 = 0.3;
/// Shortest promo segment cut from the source, seconds (one frame at 25 fps).
pub const MIN_PROMO_SEGMENT_S: f64 = 0.04;

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            ladder: vec![
                LadderRung::new(1080, 5000, 128),
                LadderRung::new(720, 3000, 128),
                LadderRung::new(480, 1200, 96),
                LadderRung::new(360, 700, 96),
            ],
            fade_s: DEFAULT_FADE_S,
            gif_duration_s: 5.0,
            gif_max_width_px: 480,
            gif_fps: 10,
            frame_interval_s: None,
            max_frame_captures: 30,
            mp3_bitrate_bps: 128_000,
            hls_segment_s: 6,
        }
    }
}

/// The part of the source that is published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipWindow {
    /// In point, seconds from the start of the source.
    pub start_s: f64,
    /// Out point, seconds from the start of the source.
    pub end_s: f64,
    /// When the requested out point was past the end of the source: what was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_end_s: Option<f64>,
}

impl ClipWindow {
    pub fn duration_s(&self) -> f64 {
        self.end_s - self.start_s
    }
}

/// Fade from black at the in point and to black at the out point, on video and audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fades {
    pub fade_in_s: f64,
    pub fade_out_s: f64,
    /// Seconds from the clip's start where the fade-out begins.
    pub fade_out_start_s: f64,
    /// True when the configured length was cut so both fades fit in the clip.
    pub shortened: bool,
}

/// One rung of the ladder (H.264): its picture is one HLS rendition; the top rung is
/// also the progressive MP4, with its sound ([`crate::layout`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenditionSpec {
    pub name: String,
    pub width_px: u32,
    pub height_px: u32,
    pub video_max_bitrate_bps: u64,
    /// AAC bitrate with this rung's picture; `None` when the source has no audio.
    /// The top rung's is the progressive MP4's and the HLS audio rendition's
    /// ([`Plan::audio_rendition_bps`]).
    pub audio_bitrate_bps: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GifSpec {
    /// Seconds from the clip's start.
    pub start_s: f64,
    pub duration_s: f64,
    pub width_px: u32,
    pub height_px: u32,
    pub fps: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameCaptureSpec {
    pub interval_s: f64,
    /// How many captures the clip yields: one at 0 s and one every `interval_s`.
    pub count: u32,
    pub width_px: u32,
    pub height_px: u32,
}

impl FrameCaptureSpec {
    /// Seconds from the clip's start of capture `index` (0-based).
    pub fn time_of_s(&self, index: u32) -> f64 {
        index as f64 * self.interval_s
    }

    /// Captures as every n-th decoded frame at `fps`, so that capture k is the frame at
    /// exactly k × `interval_s` (at least every frame).
    pub fn every_nth_frame(&self, fps: f64) -> u64 {
        (self.interval_s * fps).round().max(1.0) as u64
    }
}

/// A window of the source to cut, in seconds from the source's start, with a fade
/// of `fade_s` seconds at each end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceWindow {
    pub start_s: f64,
    pub end_s: f64,
    pub fade_s: f64,
}

impl SourceWindow {
    pub fn duration_s(&self) -> f64 {
        self.end_s - self.start_s
    }
}

/// Everything one transcode makes for one video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub clip: ClipWindow,
    pub fades: Fades,
    /// The ladder, largest first; empty for an audio-only source. Every rung is an
    /// HLS rendition; the first is also the progressive MP4 ([`Plan::progressive`]).
    pub renditions: Vec<RenditionSpec>,
    /// HLS target segment seconds; `None` when there are no renditions.
    pub hls_segment_s: Option<u32>,
    /// MP3 bitrate; `None` when the source has no audio.
    pub mp3_bitrate_bps: Option<u64>,
    pub gif: Option<GifSpec>,
    pub frames: Option<FrameCaptureSpec>,
    /// Source frame rate, for timecodes; 0 when there is no video.
    pub source_fps: f64,
    /// The source's frames as an input overlay covers them, width × height in
    /// pixels: the coded size, turned for a 90° or 270° rotation (the input is
    /// rotated before overlays are drawn). MediaConvert draws input overlays at the
    /// input's resolution, not an output's (MediaConvert User Guide, "Sizing your
    /// overlays for scaling"). `None` without video, and in plans recorded before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_frame_px: Option<(u32, u32)>,
    /// Things a person should know about how the plan departs from what was asked.
    pub notes: Vec<String>,
}

impl Plan {
    /// The frame rate of timecodes and GOPs: the source's, or [`FALLBACK_FPS`] where
    /// it has none (audio only) or the prober found none.
    pub fn timecode_fps(&self) -> f64 {
        if self.source_fps > 0.0 {
            self.source_fps
        } else {
            FALLBACK_FPS
        }
    }

    /// The rung made as a progressive MP4 too (picture and sound in one file): the
    /// top one. `None` without video.
    pub fn progressive(&self) -> Option<&RenditionSpec> {
        self.renditions.first()
    }

    /// The HLS audio rendition's AAC bitrate (the top rung's, so that HLS sounds as
    /// the progressive MP4 does); `None` without video or without sound.
    pub fn audio_rendition_bps(&self) -> Option<u64> {
        self.progressive()?.audio_bitrate_bps
    }

    /// GOP length in frames at [`Plan::timecode_fps`] ([`GOP_S`] seconds, at least 1).
    pub fn gop_frames(&self) -> u32 {
        (self.timecode_fps() * GOP_S).round().max(1.0) as u32
    }

    /// Seconds from the source's start of `clip_time_s` seconds into the clip.
    pub fn source_time_s(&self, clip_time_s: f64) -> f64 {
        self.clip.start_s + clip_time_s
    }

    /// The GIF preview's window in source seconds, ending inside the clip; `None`
    /// without a GIF (audio-only sources). The GIF itself is not faded.
    pub fn gif_source_window(&self) -> Option<SourceWindow> {
        let gif = self.gif.as_ref()?;
        let start_s = self.source_time_s(gif.start_s);
        Some(SourceWindow {
            start_s,
            end_s: (start_s + gif.duration_s).min(self.clip.end_s),
            fade_s: 0.0,
        })
    }

    /// The promo clip's `segments` (seconds from the clip's start) as windows of the
    /// source: each ends inside the clip, lasts at least [`MIN_PROMO_SEGMENT_S`], and
    /// fades over `fade_s` at both ends, shortened to half the window where it is
    /// shorter than two fades.
    pub fn promo_windows(&self, segments: &[PromoSegment], fade_s: f64) -> Vec<SourceWindow> {
        segments
            .iter()
            .map(|seg| {
                let start_s = self.source_time_s(seg.start_s);
                let end_s = self
                    .source_time_s(seg.end_s)
                    .min(self.clip.end_s)
                    .max(start_s + MIN_PROMO_SEGMENT_S);
                SourceWindow {
                    start_s,
                    end_s,
                    fade_s: fade_s.max(0.0).min((end_s - start_s) / 2.0),
                }
            })
            .collect()
    }
}

/// The in and out points asked for, by sidecar or command line (seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ClipRequest {
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
}

/// Computes the plan for a probed source.
///
/// Rules: renditions never upscale (a rung is made only if the source's short side
/// reaches it, allowing the one pixel an odd size loses to even rounding), keep the
/// displayed aspect ratio (sized by the short side, so portrait stays portrait) and
/// have even dimensions (H.264 4:2:0 needs both even). A source below the lowest rung
/// gets one rendition at its own even size. An out point past the end is clamped and
/// noted; the fades are shortened to half the clip each when the clip is shorter than
/// two fades.
///
/// # Errors
/// [`InputError::BadClip`] when start ≥ end, the start is at or past the end of the
/// source, or the source has no usable duration; [`InputError::Other`] when the
/// source has neither video nor audio.
pub fn make_plan(
    media: &MediaInfo,
    request: ClipRequest,
    config: &PlanConfig,
) -> Result<Plan, InputError> {
    if media.video.is_none() && media.audio.is_none() {
        return Err(InputError::Other(
            "the source has no video or audio stream".into(),
        ));
    }
    if !(media.duration_s.is_finite() && media.duration_s > 0.0) {
        return Err(InputError::BadClip(format!(
            "the source's duration is unknown or zero ({} s)",
            media.duration_s
        )));
    }
    let mut notes = Vec::new();
    let clip = clip_window(media.duration_s, request, &mut notes)?;
    let clip_s = clip.duration_s();

    let fade_each_s = config.fade_s.max(0.0).min(clip_s / 2.0);
    let shortened = fade_each_s < config.fade_s;
    if shortened {
        notes.push(format!(
            "fades shortened from {:.2} s to {:.2} s: the clip is {:.2} s long",
            config.fade_s, fade_each_s, clip_s
        ));
    }
    let fades = Fades {
        fade_in_s: fade_each_s,
        fade_out_s: fade_each_s,
        fade_out_start_s: clip_s - fade_each_s,
        shortened,
    };

    let audio_present = media.audio.is_some();
    let source_frame_px = media.video.as_ref().map(|v| {
        if v.rotation_deg.rem_euclid(180) == 90 {
            (v.height_px, v.width_px)
        } else {
            (v.width_px, v.height_px)
        }
    });
    let (renditions, gif, frames, source_fps) = match &media.video {
        None => (Vec::new(), None, None, 0.0),
        Some(video) => {
            let display = video.display_size_px();
            let renditions = ladder_for(display, config, audio_present);
            let top = renditions
                .first()
                .map(|r| (r.width_px, r.height_px))
                .unwrap_or(display);
            let gif = gif_for(display, &clip, &fades, config);
            let frames = frames_for(top, clip_s, config);
            (renditions, Some(gif), Some(frames), video.fps)
        }
    };

    Ok(Plan {
        clip,
        fades,
        hls_segment_s: (!renditions.is_empty()).then_some(config.hls_segment_s),
        renditions,
        mp3_bitrate_bps: audio_present.then_some(config.mp3_bitrate_bps),
        gif,
        frames,
        source_fps,
        source_frame_px,
        notes,
    })
}

fn clip_window(
    duration_s: f64,
    request: ClipRequest,
    notes: &mut Vec<String>,
) -> Result<ClipWindow, InputError> {
    let start_s = request.start_s.unwrap_or(0.0);
    let asked_end_s = request.end_s.unwrap_or(duration_s);
    if start_s >= asked_end_s {
        return Err(InputError::BadClip(format!(
            "start {start_s} s is not before end {asked_end_s} s"
        )));
    }
    if start_s >= duration_s {
        return Err(InputError::BadClip(format!(
            "start {start_s} s is at or past the end of the source ({duration_s:.3} s)"
        )));
    }
    let mut requested_end_s = None;
    let end_s = if asked_end_s > duration_s {
        notes.push(format!(
            "clip end {asked_end_s} s is past the end of the source; clamped to {duration_s:.3} s"
        ));
        requested_end_s = Some(asked_end_s);
        duration_s
    } else {
        asked_end_s
    };
    Ok(ClipWindow {
        start_s,
        end_s,
        requested_end_s,
    })
}

mod sizes;
use sizes::{frames_for, gif_for, ladder_for};

#[cfg(test)]
mod tests;
