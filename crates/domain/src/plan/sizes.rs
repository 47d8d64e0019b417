//! The sizes a plan gives its outputs: the ladder's rungs (never upscaled, even,
//! the short side set), the GIF's and the frame captures'.

use super::{ClipWindow, Fades, FrameCaptureSpec, GifSpec, PlanConfig, RenditionSpec};

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

pub(super) fn ladder_for(
    display: (u32, u32),
    config: &PlanConfig,
    audio: bool,
) -> Vec<RenditionSpec> {
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

pub(super) fn gif_for(
    display: (u32, u32),
    clip: &ClipWindow,
    fades: &Fades,
    config: &PlanConfig,
) -> GifSpec {
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

pub(super) fn frames_for(size: (u32, u32), clip_s: f64, config: &PlanConfig) -> FrameCaptureSpec {
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
