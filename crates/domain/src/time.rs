//! Clip times as users write them, and timecodes as encoders want them.

use crate::error::InputError;

/// Parses a clip time: seconds (`90`, `90.5`) or `HH:MM:SS(.mmm)` / `MM:SS(.mmm)`.
///
/// Returns seconds from the start of the source (`f64`, never negative).
///
/// # Errors
/// [`InputError::BadTime`] naming the text when it is empty, negative, not a number,
/// has more than three `:`-separated fields, or minutes/seconds of 60 or more.
pub fn parse_clip_time_s(text: &str) -> Result<f64, InputError> {
    let bad = |why: &str| InputError::BadTime {
        text: text.to_string(),
        reason: why.to_string(),
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad("empty"));
    }
    let fields: Vec<&str> = trimmed.split(':').collect();
    if fields.len() > 3 {
        return Err(bad("expected seconds or HH:MM:SS(.mmm)"));
    }
    let mut total_s = 0.0;
    for (i, field) in fields.iter().enumerate() {
        let last = i + 1 == fields.len();
        let value: f64 = if last {
            field.parse().map_err(|_| bad("not a number"))?
        } else {
            field
                .parse::<u32>()
                .map_err(|_| bad("hours and minutes must be whole numbers"))? as f64
        };
        if !value.is_finite() || value < 0.0 {
            return Err(bad("must be a finite number of seconds, not negative"));
        }
        if fields.len() > 1 && i > 0 && value >= 60.0 {
            return Err(bad("minutes and seconds must be below 60"));
        }
        total_s = total_s * 60.0 + value;
    }
    Ok(total_s)
}

/// The highest frame number a MediaConvert timecode may carry, plus one:
/// `InsertableImage.StartTime` takes `HH:MM:SS:FF` with `FF` from 00 to 59 (its
/// pattern `[:;][0-5]\d`, AWS Elemental MediaConvert API Reference).
pub const MAX_TIMECODE_FPS: f64 = 60.0;

/// The rate timecodes count frames at for a source of `fps`: `fps` itself up to
/// [`MAX_TIMECODE_FPS`], above it `fps / k` for the least whole `k` that brings it
/// there (120 → 60, 100 → 50, 240 → 60), as high-frame-rate timecode does (SMPTE
/// ST 12-3 counts groups of frames at a base rate).
pub fn timecode_rate(fps: f64) -> f64 {
    if fps <= MAX_TIMECODE_FPS + 0.5 {
        fps
    } else {
        fps / (fps / MAX_TIMECODE_FPS).ceil()
    }
}

/// Formats seconds as a SMPTE-style `HH:MM:SS:FF` timecode for a source of `fps`
/// frames per second, the form MediaConvert's `InputClipping.StartTimecode`/
/// `EndTimecode` and `InsertableImage.StartTime` take (AWS Elemental MediaConvert API
/// Reference). Frames count at [`timecode_rate`], so `FF` stays below 60 however fast
/// the source. Frames are counted with `floor`, so the timecode never lands after the
/// given instant. Non-drop-frame.
pub fn timecode_hhmmssff(seconds: f64, fps: f64) -> String {
    let fps = timecode_rate(fps);
    let fps_whole = fps.round().max(1.0) as u64;
    let total_frames = (seconds.max(0.0) * fps).floor() as u64;
    let frames = total_frames % fps_whole;
    let total_s = total_frames / fps_whole;
    format!(
        "{:02}:{:02}:{:02}:{:02}",
        total_s / 3600,
        (total_s / 60) % 60,
        total_s % 60,
        frames
    )
}

/// Formats seconds as `HH:MM:SS.mmm` for people (reports, logs).
pub fn hhmmss_mmm(seconds: f64) -> String {
    clock_with(seconds, '.')
}

/// `HH:MM:SS` and milliseconds after `separator` (`,` for SubRip, `.` for WebVTT).
pub fn clock_with(seconds: f64, separator: char) -> String {
    let total_ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}{separator}{:03}",
        total_ms / 3_600_000,
        (total_ms / 60_000) % 60,
        (total_ms / 1000) % 60,
        total_ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seconds_and_clock_forms() {
        assert_eq!(parse_clip_time_s("90").unwrap(), 90.0);
        assert_eq!(parse_clip_time_s("12.25").unwrap(), 12.25);
        assert_eq!(parse_clip_time_s("01:30").unwrap(), 90.0);
        assert_eq!(parse_clip_time_s("01:02:03.500").unwrap(), 3723.5);
        assert_eq!(parse_clip_time_s(" 00:00:05 ").unwrap(), 5.0);
    }

    #[test]
    fn rejects_malformed_times_naming_the_text() {
        for text in [
            "", "abc", "-3", "1:2:3:4", "00:61:00", "00:00:75", "1.5:00", "NaN", "inf",
        ] {
            let err = parse_clip_time_s(text).unwrap_err();
            assert!(err.to_string().contains(&format!("'{text}'")), "{err}");
        }
    }

    #[test]
    fn timecodes_floor_to_frames() {
        assert_eq!(timecode_hhmmssff(0.0, 25.0), "00:00:00:00");
        assert_eq!(timecode_hhmmssff(3723.5, 25.0), "01:02:03:12");
        assert_eq!(timecode_hhmmssff(1.999, 30.0), "00:00:01:29");
        assert_eq!(hhmmss_mmm(61.5), "00:01:01.500");
    }

    #[test]
    fn timecodes_of_fast_sources_count_frames_below_60() {
        assert_eq!(timecode_hhmmssff(1.999, 59.94), "00:00:01:59");
        assert_eq!(timecode_hhmmssff(1.5, 120.0), "00:00:01:30");
        assert_eq!(timecode_hhmmssff(1.99, 100.0), "00:00:01:49");
        assert_eq!(timecode_hhmmssff(10.999, 240.0), "00:00:10:59");
        for fps in [60.0, 90.0, 119.88, 120.0, 144.0, 180.0, 240.0, 300.0, 960.0] {
            let rate = timecode_rate(fps);
            assert!(
                (30.0..=MAX_TIMECODE_FPS + 0.5).contains(&rate),
                "{fps} → {rate}"
            );
            for i in 0..(3.0 * fps) as u32 {
                let tc = timecode_hhmmssff(i as f64 / fps, fps);
                let ff: u32 = tc[9..].parse().unwrap();
                assert!(tc.len() == 11 && ff < 60, "{fps} fps, frame {i}: {tc}");
            }
        }
    }
}
