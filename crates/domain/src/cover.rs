//! Choosing the cover (poster) from the frame captures.
//!
//! Each capture is measured on its luma (Rec. 601 Y, 0–255):
//! - **sharpness**: variance of the 3×3 Laplacian (Pech-Pacheco et al., "Diatom
//!   autofocusing in brightfield microscopy", ICPR 2000): blurred and flat frames score
//!   low;
//! - **exposure**: mean luma, best near mid-grey (118), worst at black or white;
//! - **contrast**: standard deviation of luma.
//!
//! Frames are rejected outright when near black (mean < 24: fade and title-card
//! frames), near uniform (standard deviation < 10), or captured inside a fade. The
//! score of the rest is `0.5·sharpness + 0.25·exposure + 0.25·contrast`, each term
//! scaled to 0–1 as documented on [`score_measures`]. The cloud stage adds face and
//! label terms from Rekognition on top of the same measures.

use serde::{Deserialize, Serialize};

/// Image measures of one frame. Units: luma levels (0–255).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameMeasures {
    pub mean_luma: f64,
    pub luma_stddev: f64,
    pub laplacian_variance: f64,
}

/// Measures an 8-bit luma plane of `width × height` pixels, row-major.
/// A plane smaller than 3×3, or whose length is not `width × height`, measures as
/// all-zero (and is then rejected as near black).
pub fn measure_luma(width: usize, height: usize, luma: &[u8]) -> FrameMeasures {
    let zero = FrameMeasures {
        mean_luma: 0.0,
        luma_stddev: 0.0,
        laplacian_variance: 0.0,
    };
    if width < 3 || height < 3 || luma.len() != width * height {
        return zero;
    }
    let n = luma.len() as f64;
    let (sum, sum_sq) = luma.iter().fold((0u64, 0u64), |(s, q), &v| {
        (s + v as u64, q + (v as u64) * (v as u64))
    });
    let mean = sum as f64 / n;
    let var = (sum_sq as f64 / n - mean * mean).max(0.0);

    let (mut lap_sum, mut lap_sq, mut count) = (0f64, 0f64, 0f64);
    for y in 1..height - 1 {
        let row = y * width;
        for x in 1..width - 1 {
            let i = row + x;
            let lap = luma[i - width] as i32
                + luma[i + width] as i32
                + luma[i - 1] as i32
                + luma[i + 1] as i32
                - 4 * luma[i] as i32;
            let lap = lap as f64;
            lap_sum += lap;
            lap_sq += lap * lap;
            count += 1.0;
        }
    }
    let lap_mean = lap_sum / count;
    FrameMeasures {
        mean_luma: mean,
        luma_stddev: var.sqrt(),
        laplacian_variance: (lap_sq / count - lap_mean * lap_mean).max(0.0),
    }
}

/// Below this mean luma a frame is "near black".
pub const NEAR_BLACK_MEAN_LUMA: f64 = 24.0;
/// Below this luma standard deviation a frame is "near uniform".
pub const NEAR_UNIFORM_STDDEV: f64 = 10.0;

/// Scores measures: `(score in 0–1, reason the frame is rejected if it is)`.
///
/// Terms: sharpness `ln(1+v)/ln(1+2000)` capped at 1 (v: Laplacian variance);
/// exposure `1 − |mean − 118| / 118` floored at 0; contrast `stddev / 64` capped at 1.
pub fn score_measures(m: &FrameMeasures) -> (f64, Option<String>) {
    let sharpness = ((1.0 + m.laplacian_variance).ln() / (2001f64).ln()).min(1.0);
    let exposure = (1.0 - (m.mean_luma - 118.0).abs() / 118.0).max(0.0);
    let contrast = (m.luma_stddev / 64.0).min(1.0);
    let score = 0.5 * sharpness + 0.25 * exposure + 0.25 * contrast;
    let rejected = if m.mean_luma < NEAR_BLACK_MEAN_LUMA {
        Some(format!("near black (mean luma {:.1})", m.mean_luma))
    } else if m.luma_stddev < NEAR_UNIFORM_STDDEV {
        Some(format!("near uniform (luma stddev {:.1})", m.luma_stddev))
    } else {
        None
    };
    (score, rejected)
}

/// One scored frame capture, as kept in the record and the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameScore {
    pub key: String,
    /// Seconds from the clip's start.
    pub time_s: f64,
    pub measures: FrameMeasures,
    /// Extra score from the cloud's face and label detection (0 locally).
    #[serde(default)]
    pub detection_bonus: f64,
    pub score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
    /// The faces found in the frame (cloud only), for the vertical cut.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faces: Vec<crate::destinations::vertical::FaceBox>,
}

/// Scores a capture at `time_s` seconds into a clip whose fades end at
/// `fade_in_end_s` and begin at `fade_out_start_s`.
pub fn score_frame(
    key: &str,
    time_s: f64,
    measures: FrameMeasures,
    detection_bonus: f64,
    fade_in_end_s: f64,
    fade_out_start_s: f64,
) -> FrameScore {
    let (base, mut rejected) = score_measures(&measures);
    if rejected.is_none() && (time_s < fade_in_end_s || time_s > fade_out_start_s) {
        rejected = Some(format!("inside a fade ({time_s:.2} s)"));
    }
    FrameScore {
        key: key.to_string(),
        time_s,
        measures,
        detection_bonus,
        score: base + detection_bonus,
        rejected,
        faces: Vec::new(),
    }
}

/// The index of the cover among `frames`: the best-scoring frame that is not rejected,
/// or, when every frame is rejected, the best-scoring one of all (a cover is always
/// chosen when there is a frame). `None` only for no frames. Ties go to the earlier.
pub fn choose_cover(frames: &[FrameScore]) -> Option<usize> {
    let best = |accept: &dyn Fn(&FrameScore) -> bool| {
        frames
            .iter()
            .enumerate()
            .filter(|(_, f)| accept(f))
            .fold(None::<(usize, f64)>, |acc, (i, f)| match acc {
                Some((_, s)) if s >= f.score => acc,
                _ => Some((i, f.score)),
            })
            .map(|(i, _)| i)
    };
    best(&|f| f.rejected.is_none()).or_else(|| best(&|_| true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(w: usize, h: usize, f: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| f(x, y))
            .collect()
    }

    #[test]
    fn black_and_flat_frames_are_rejected() {
        let black = measure_luma(64, 48, &plane(64, 48, |_, _| 2));
        assert!(score_measures(&black).1.unwrap().contains("near black"));
        let grey = measure_luma(64, 48, &plane(64, 48, |_, _| 128));
        assert!(score_measures(&grey).1.unwrap().contains("near uniform"));
    }

    #[test]
    fn sharp_detail_scores_above_a_smooth_gradient() {
        let checker = measure_luma(
            64,
            48,
            &plane(
                64,
                48,
                |x, y| if (x / 2 + y / 2) % 2 == 0 { 40 } else { 200 },
            ),
        );
        let gradient = measure_luma(64, 48, &plane(64, 48, |x, _| (40 + x * 2) as u8));
        assert!(checker.laplacian_variance > 1000.0 && gradient.laplacian_variance < 1.0);
        assert!(score_measures(&checker).0 > score_measures(&gradient).0);
        assert!((gradient.mean_luma - 103.0).abs() < 0.01);
    }

    #[test]
    fn fade_time_rejects_an_otherwise_good_frame() {
        let m = FrameMeasures {
            mean_luma: 110.0,
            luma_stddev: 50.0,
            laplacian_variance: 500.0,
        };
        assert!(score_frame("k", 1.0, m, 0.0, 3.0, 57.0)
            .rejected
            .unwrap()
            .contains("fade"));
        assert!(score_frame("k", 58.0, m, 0.0, 3.0, 57.0).rejected.is_some());
        assert!(score_frame("k", 30.0, m, 0.0, 3.0, 57.0).rejected.is_none());
    }

    #[test]
    fn cover_is_the_best_accepted_frame_else_the_best_of_all() {
        let m = FrameMeasures {
            mean_luma: 110.0,
            luma_stddev: 50.0,
            laplacian_variance: 500.0,
        };
        let sharp = FrameMeasures {
            laplacian_variance: 1900.0,
            ..m
        };
        let frames = vec![
            score_frame("a", 0.0, sharp, 0.0, 3.0, 57.0), // best score but in the fade
            score_frame("b", 10.0, m, 0.0, 3.0, 57.0),
            score_frame("c", 20.0, m, 0.0, 3.0, 57.0),
        ];
        assert_eq!(choose_cover(&frames), Some(1));
        let all_rejected: Vec<_> = frames
            .iter()
            .map(|f| FrameScore {
                rejected: Some("x".into()),
                ..f.clone()
            })
            .collect();
        assert_eq!(choose_cover(&all_rejected), Some(0));
        assert_eq!(choose_cover(&[]), None);
    }
}
