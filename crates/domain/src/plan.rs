//! The plan: which outputs a video gets, at which sizes and bitrates, cut to which
//! window, with which fades. A pure function of the probe result, the sidecar and the
//! configuration; the local transcoder (one ffmpeg run) and the cloud one (one
//! MediaConvert job) both build from it.

use serde::{Deserialize, Serialize};

use crate::error::InputError;
use crate::media::MediaInfo;

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

impl Default for PlanConfig {
    fn default() -> Self {
        PlanConfig {
            ladder: vec![
                LadderRung::new(1080, 5000, 128),
                LadderRung::new(720, 3000, 128),
                LadderRung::new(480, 1200, 96),
                LadderRung::new(360, 700, 96),
            ],
            fade_s: 3.0,
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

/// One MP4 rendition (H.264 + AAC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenditionSpec {
    pub name: String,
    pub width_px: u32,
    pub height_px: u32,
    pub video_max_bitrate_bps: u64,
    /// `None` when the source has no audio.
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
}

/// Everything one transcode makes for one video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub clip: ClipWindow,
    pub fades: Fades,
    /// Largest first; empty for an audio-only source.
    pub renditions: Vec<RenditionSpec>,
    /// HLS target segment seconds; `None` when there are no renditions.
    pub hls_segment_s: Option<u32>,
    /// MP3 bitrate; `None` when the source has no audio.
    pub mp3_bitrate_bps: Option<u64>,
    pub gif: Option<GifSpec>,
    pub frames: Option<FrameCaptureSpec>,
    /// Source frame rate, for timecodes; 0 when there is no video.
    pub source_fps: f64,
    /// Things a person should know about how the plan departs from what was asked.
    pub notes: Vec<String>,
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

/// Rounds down to an even number, at least 2.
fn floor_even(px: u32) -> u32 {
    (px & !1).max(2)
}

/// Scales (width, height) so the short side becomes `short_px`, keeping the ratio;
/// the long side is rounded to the nearest even number.
fn scale_to_short_side((w, h): (u32, u32), short_px: u32) -> (u32, u32) {
    let (short, long) = if w <= h { (w, h) } else { (h, w) };
    let long_px = (long as f64 * short_px as f64 / short as f64 / 2.0).round() as u32 * 2;
    let long_px = long_px.max(2);
    if w <= h {
        (short_px, long_px)
    } else {
        (long_px, short_px)
    }
}

fn ladder_for(display: (u32, u32), config: &PlanConfig, audio: bool) -> Vec<RenditionSpec> {
    let source_short = display.0.min(display.1);
    let source_short_even = floor_even(source_short);
    let mut out: Vec<RenditionSpec> = Vec::new();
    for rung in &config.ladder {
        // An odd source (719 lines) still makes its rung (720p), at 718: never upscaled.
        if rung.short_side_px > source_short + (source_short & 1) {
            continue;
        }
        let short_px = rung.short_side_px.min(source_short_even);
        let (width_px, height_px) = scale_to_short_side(display, short_px);
        if out
            .iter()
            .any(|r| r.width_px == width_px && r.height_px == height_px)
        {
            continue;
        }
        out.push(RenditionSpec {
            name: rung.name.clone(),
            width_px,
            height_px,
            video_max_bitrate_bps: rung.video_max_bitrate_bps,
            audio_bitrate_bps: audio.then_some(rung.audio_bitrate_bps),
        });
    }
    if out.is_empty() {
        // Smaller than the lowest rung: one rendition at the source's own size.
        let lowest = config.ladder.last();
        let (width_px, height_px) = (floor_even(display.0), floor_even(display.1));
        out.push(RenditionSpec {
            name: format!("{}p", width_px.min(height_px)),
            width_px,
            height_px,
            video_max_bitrate_bps: lowest.map_or(500_000, |r| r.video_max_bitrate_bps),
            audio_bitrate_bps: audio.then(|| lowest.map_or(96_000, |r| r.audio_bitrate_bps)),
        });
    }
    out
}

fn gif_for(display: (u32, u32), clip: &ClipWindow, fades: &Fades, config: &PlanConfig) -> GifSpec {
    let clip_s = clip.duration_s();
    // As long as configured (or the whole clip), between the fades where it fits there,
    // else centred in the clip, overlapping the fades as little as it can.
    let duration_s = config.gif_duration_s.min(clip_s);
    let inner_s = fades.fade_out_start_s - fades.fade_in_s;
    let start_s = if inner_s >= duration_s {
        fades.fade_in_s + (inner_s - duration_s) / 2.0
    } else {
        (clip_s - duration_s) / 2.0
    };
    let width_px = floor_even(display.0.min(config.gif_max_width_px));
    let (w, h) = if width_px == display.0 {
        (floor_even(display.0), floor_even(display.1))
    } else {
        let h = (display.1 as f64 * width_px as f64 / display.0 as f64 / 2.0).round() as u32 * 2;
        (width_px, h.max(2))
    };
    GifSpec {
        start_s,
        duration_s,
        width_px: w,
        height_px: h,
        fps: config.gif_fps,
    }
}

fn frames_for(size: (u32, u32), clip_s: f64, config: &PlanConfig) -> FrameCaptureSpec {
    let max = config.max_frame_captures.max(1);
    let interval_s = config
        .frame_interval_s
        .unwrap_or_else(|| (clip_s / max as f64).ceil().max(1.0))
        .max(0.1);
    // One capture at 0 s and one every interval strictly inside the clip.
    let count = ((clip_s / interval_s).ceil() as u32).clamp(1, max);
    FrameCaptureSpec {
        interval_s,
        count,
        width_px: size.0,
        height_px: size.1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(w: u32, h: u32, duration_s: f64, audio: bool) -> MediaInfo {
        crate::fakes::media_info(Some((w, h)), 25.0, duration_s, audio)
    }

    fn sizes(plan: &Plan) -> Vec<(u32, u32)> {
        plan.renditions
            .iter()
            .map(|r| (r.width_px, r.height_px))
            .collect()
    }

    fn plan(m: &MediaInfo) -> Plan {
        make_plan(m, ClipRequest::default(), &PlanConfig::default()).unwrap()
    }

    #[test]
    fn full_hd_source_gets_the_whole_ladder() {
        let p = plan(&media(1920, 1080, 60.0, true));
        assert_eq!(
            sizes(&p),
            vec![(1920, 1080), (1280, 720), (854, 480), (640, 360)]
        );
        assert!(p.renditions.iter().all(|r| r.audio_bitrate_bps.is_some()));
        assert_eq!(p.hls_segment_s, Some(6));
        assert_eq!(p.mp3_bitrate_bps, Some(128_000));
    }

    #[test]
    fn never_upscales_a_720p_source() {
        let p = plan(&media(1280, 720, 60.0, true));
        assert_eq!(sizes(&p), vec![(1280, 720), (854, 480), (640, 360)]);
        assert_eq!(p.frames.as_ref().unwrap().width_px, 1280);
    }

    #[test]
    fn portrait_stays_portrait_sized_by_short_side() {
        let p = plan(&media(1080, 1920, 30.0, true));
        assert_eq!(
            sizes(&p),
            vec![(1080, 1920), (720, 1280), (480, 854), (360, 640)]
        );
        let gif = p.gif.unwrap();
        assert!(gif.height_px > gif.width_px && gif.width_px <= 480);
    }

    #[test]
    fn rotated_phone_video_is_planned_as_displayed() {
        let mut m = media(1920, 1080, 30.0, true);
        m.video.as_mut().unwrap().rotation_deg = 90;
        assert_eq!(sizes(&plan(&m))[0], (1080, 1920));
    }

    #[test]
    fn odd_source_dimensions_give_even_sizes_without_upscaling() {
        let p = plan(&media(1279, 719, 20.0, true));
        assert_eq!(sizes(&p), vec![(1278, 718), (854, 480), (640, 360)]);
        for r in &p.renditions {
            assert!(r.width_px.is_multiple_of(2) && r.height_px.is_multiple_of(2));
            assert!(r.width_px <= 1279 && r.height_px <= 719);
        }
        let g = p.gif.unwrap();
        assert!(g.width_px.is_multiple_of(2) && g.height_px.is_multiple_of(2));
    }

    #[test]
    fn tiny_source_gets_one_rendition_at_its_own_size() {
        let p = plan(&media(321, 241, 10.0, false));
        assert_eq!(sizes(&p), vec![(320, 240)]);
        assert_eq!(p.renditions[0].name, "240p");
        assert_eq!(p.renditions[0].audio_bitrate_bps, None);
    }

    #[test]
    fn clip_past_the_end_is_clamped_and_noted() {
        let m = media(1280, 720, 42.5, true);
        let p = make_plan(
            &m,
            ClipRequest {
                start_s: Some(10.0),
                end_s: Some(100.0),
            },
            &PlanConfig::default(),
        )
        .unwrap();
        assert_eq!((p.clip.start_s, p.clip.end_s), (10.0, 42.5));
        assert_eq!(p.clip.requested_end_s, Some(100.0));
        assert!(
            p.notes.iter().any(|n| n.contains("clamped")),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn start_not_before_end_or_past_the_source_is_rejected() {
        let m = media(1280, 720, 42.5, true);
        let cfg = PlanConfig::default();
        for (s, e) in [
            (Some(20.0), Some(20.0)),
            (Some(30.0), Some(10.0)),
            (Some(50.0), None),
        ] {
            let err = make_plan(
                &m,
                ClipRequest {
                    start_s: s,
                    end_s: e,
                },
                &cfg,
            )
            .unwrap_err();
            assert!(matches!(err, InputError::BadClip(_)), "{err}");
        }
    }

    #[test]
    fn fades_are_shortened_for_short_clips_only() {
        let m = media(1280, 720, 60.0, true);
        let cfg = PlanConfig::default();
        let long = make_plan(
            &m,
            ClipRequest {
                start_s: Some(0.0),
                end_s: Some(6.0),
            },
            &cfg,
        )
        .unwrap();
        assert_eq!((long.fades.fade_in_s, long.fades.shortened), (3.0, false));
        let short = make_plan(
            &m,
            ClipRequest {
                start_s: Some(1.0),
                end_s: Some(5.0),
            },
            &cfg,
        )
        .unwrap();
        assert_eq!(short.fades.fade_in_s, 2.0);
        assert_eq!(short.fades.fade_out_start_s, 2.0);
        assert!(short.fades.shortened && short.notes.iter().any(|n| n.contains("fades shortened")));
        let custom = PlanConfig {
            fade_s: 1.0,
            ..PlanConfig::default()
        };
        assert_eq!(
            make_plan(&m, ClipRequest::default(), &custom)
                .unwrap()
                .fades
                .fade_out_start_s,
            59.0
        );
    }

    #[test]
    fn no_audio_stream_means_no_mp3_and_silent_renditions() {
        let p = plan(&media(1920, 1080, 60.0, false));
        assert_eq!(p.mp3_bitrate_bps, None);
        assert!(p.renditions.iter().all(|r| r.audio_bitrate_bps.is_none()));
        assert!(p.gif.is_some() && p.frames.is_some());
    }

    #[test]
    fn audio_only_source_gets_only_audio_outputs() {
        let mut m = media(1, 1, 300.0, true);
        m.video = None;
        let p = plan(&m);
        assert!(p.renditions.is_empty() && p.gif.is_none() && p.frames.is_none());
        assert_eq!(p.hls_segment_s, None);
        assert_eq!(p.mp3_bitrate_bps, Some(128_000));
    }

    #[test]
    fn gif_keeps_its_length_in_a_clip_barely_longer_than_the_fades() {
        let m = media(1920, 1080, 60.0, true);
        let p = make_plan(
            &m,
            ClipRequest {
                start_s: Some(0.0),
                end_s: Some(10.0),
            },
            &PlanConfig::default(),
        )
        .unwrap();
        let g = p.gif.unwrap();
        assert_eq!((g.start_s, g.duration_s), (2.5, 5.0));
        let tiny = make_plan(
            &m,
            ClipRequest {
                start_s: Some(0.0),
                end_s: Some(2.0),
            },
            &PlanConfig::default(),
        )
        .unwrap();
        assert_eq!(
            (
                tiny.gif.as_ref().unwrap().start_s,
                tiny.gif.unwrap().duration_s
            ),
            (0.0, 2.0)
        );
    }

    #[test]
    fn gif_sits_between_the_fades() {
        let p = plan(&media(1920, 1080, 60.0, true));
        let g = p.gif.unwrap();
        assert_eq!((g.width_px, g.height_px, g.duration_s), (480, 270, 5.0));
        assert!(
            g.start_s >= p.fades.fade_in_s && g.start_s + g.duration_s <= p.fades.fade_out_start_s
        );
    }

    #[test]
    fn frame_captures_cover_the_clip_within_the_cap() {
        let p = plan(&media(1920, 1080, 3600.0, true));
        let f = p.frames.unwrap();
        assert_eq!((f.interval_s, f.count), (120.0, 30));
        let short = plan(&media(1920, 1080, 10.0, true)).frames.unwrap();
        assert_eq!((short.interval_s, short.count), (1.0, 10));
        assert!(short.time_of_s(short.count - 1) < 10.0);
    }

    #[test]
    fn no_streams_or_no_duration_is_an_error() {
        let mut m = media(1920, 1080, 60.0, true);
        m.duration_s = 0.0;
        assert!(make_plan(&m, ClipRequest::default(), &PlanConfig::default()).is_err());
        let mut m = media(1920, 1080, 60.0, true);
        m.video = None;
        m.audio = None;
        assert!(make_plan(&m, ClipRequest::default(), &PlanConfig::default()).is_err());
    }
}
