//! Where to cut long audio: energy-based voice activity detection. Whisper reads 30 s
//! at a time, and a cut through a word starts the repetition loops measured in
//! `../shared/asr.md`; so audio is cut at silences, into windows no longer than the
//! decoder's `max_window_s` (24 s by default, at most 30).
//!
//! Frames are 20 ms; a frame is speech when its RMS level is at or above a threshold:
//! [`SPEECH_ABOVE_FLOOR_DB`] above the noise floor (the 5th percentile of frame levels),
//! but no more than [`BELOW_LOUD_DB`] under the loud frames (the 95th percentile; this
//! matters when speech fills nearly all the audio), and never below
//! [`ABSOLUTE_FLOOR_DBFS`]. Speech regions closer than
//! [`MERGE_GAP_S`] are merged; regions shorter than [`MIN_SPEECH_S`] are dropped; each
//! region is widened by [`PAD_S`]. The regions then choose where the audio is cut
//! (see [`chunks`]).

pub const FRAME_S: f64 = 0.02;
pub const SPEECH_ABOVE_FLOOR_DB: f32 = 12.0;
pub const BELOW_LOUD_DB: f32 = 30.0;
pub const ABSOLUTE_FLOOR_DBFS: f32 = -55.0;
pub const MERGE_GAP_S: f64 = 0.5;
pub const MIN_SPEECH_S: f64 = 0.15;
pub const PAD_S: f64 = 0.2;

/// A span of samples, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

fn frame_levels_db(samples: &[f32], frame: usize) -> Vec<f32> {
    samples
        .chunks(frame)
        .map(|c| {
            let ms = c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32;
            10.0 * ms.max(1e-12).log10()
        })
        .collect()
}

/// Speech regions of `samples` (mono, `rate` Hz), in order, not overlapping.
pub fn speech_regions(samples: &[f32], rate: usize) -> Vec<Span> {
    let frame = ((rate as f64) * FRAME_S) as usize;
    if samples.is_empty() || frame == 0 {
        return Vec::new();
    }
    let levels = frame_levels_db(samples, frame);
    let mut sorted = levels.clone();
    sorted.sort_by(f32::total_cmp);
    let floor = sorted[sorted.len() / 20];
    let loud = sorted[sorted.len() * 19 / 20];
    let threshold = (floor + SPEECH_ABOVE_FLOOR_DB)
        .min(loud - BELOW_LOUD_DB)
        .max(ABSOLUTE_FLOOR_DBFS);
    let frames_of = |s: f64| (s / FRAME_S).round() as usize;

    let mut regions: Vec<(usize, usize)> = Vec::new();
    for (i, level) in levels.iter().enumerate() {
        if *level < threshold {
            continue;
        }
        match regions.last_mut() {
            Some(last) if i - last.1 <= frames_of(MERGE_GAP_S) => last.1 = i + 1,
            _ => regions.push((i, i + 1)),
        }
    }
    regions.retain(|(a, b)| b - a >= frames_of(MIN_SPEECH_S));
    let pad = frames_of(PAD_S);
    let mut spans: Vec<Span> = Vec::new();
    for (a, b) in regions {
        let start = a.saturating_sub(pad) * frame;
        let end = ((b + pad) * frame).min(samples.len());
        match spans.last_mut() {
            Some(last) if start <= last.end => last.end = end,
            _ => spans.push(Span { start, end }),
        }
    }
    spans
}

/// Windows of at most `max_len` samples that tile the audio from its start: each cut
/// falls in the last third of a window, in the middle of the longest pause there (the
/// quietest 20 ms frame if there is no pause). Windows holding no speech region are
/// left out (nothing to transcribe), so silence costs nothing. Whisper sees the pauses
/// around speech, as it did in training, rather than speech cut tight.
pub fn chunks(samples: &[f32], regions: &[Span], rate: usize, max_len: usize) -> Vec<Span> {
    let frame = ((rate as f64) * FRAME_S).max(1.0) as usize;
    let total = samples.len();
    // Pauses: the gaps between speech regions, and before the first and after the last.
    let mut pauses: Vec<Span> = Vec::new();
    let mut at = 0;
    for r in regions {
        if r.start > at {
            pauses.push(Span {
                start: at,
                end: r.start,
            });
        }
        at = at.max(r.end);
    }
    if total > at {
        pauses.push(Span {
            start: at,
            end: total,
        });
    }
    let mut windows = Vec::new();
    let mut start = 0;
    while start < total {
        let mut end = (start + max_len).min(total);
        if end < total {
            let (lo, hi) = (start + max_len * 2 / 3, end);
            let longest = pauses
                .iter()
                .map(|p| Span {
                    start: p.start.max(lo),
                    end: p.end.min(hi),
                })
                .filter(|p| !p.is_empty())
                .max_by_key(|p| p.len());
            end = match longest {
                Some(p) => (p.start + p.end) / 2,
                None => (lo..hi.saturating_sub(frame))
                    .step_by(frame)
                    .min_by(|&a, &b| {
                        let energy = |i: usize| {
                            samples[i..(i + frame).min(total)]
                                .iter()
                                .map(|s| s * s)
                                .sum::<f32>()
                        };
                        energy(a).total_cmp(&energy(b))
                    })
                    .map_or(hi, |q| q + frame / 2),
            }
            .clamp(start + 1, hi);
        }
        let window = Span { start, end };
        if regions
            .iter()
            .any(|r| r.start < window.end && r.end > window.start)
        {
            windows.push(window);
        }
        start = end;
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: usize = 16000;

    /// Tone bursts ("speech") at the given (start, end) seconds in `total_s` of quiet noise.
    fn bursts(total_s: f64, at: &[(f64, f64)]) -> Vec<f32> {
        let mut seed = 1u32;
        (0..(total_s * RATE as f64) as usize)
            .map(|i| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = ((seed >> 9) as f32 / (1 << 23) as f32 - 0.5) * 0.002;
                let t = i as f64 / RATE as f64;
                let on = at.iter().any(|(a, b)| t >= *a && t < *b);
                noise
                    + if on {
                        0.3 * (t * 2.0 * std::f64::consts::PI * 220.0).sin() as f32
                    } else {
                        0.0
                    }
            })
            .collect()
    }

    #[test]
    fn finds_speech_between_silences() {
        let audio = bursts(10.0, &[(1.0, 3.0), (3.2, 4.0), (6.0, 8.0)]);
        let regions = speech_regions(&audio, RATE);
        assert_eq!(regions.len(), 2, "{regions:?}"); // the 0.2 s gap merges
        let secs = |s: usize| s as f64 / RATE as f64;
        assert!(
            (secs(regions[0].start) - 0.8).abs() < 0.05
                && (secs(regions[0].end) - 4.2).abs() < 0.05,
            "{regions:?}"
        );
        assert!((secs(regions[1].start) - 5.8).abs() < 0.05, "{regions:?}");
    }

    #[test]
    fn silence_has_no_speech() {
        assert!(speech_regions(&vec![0.0; RATE * 5], RATE).is_empty());
        assert!(speech_regions(&bursts(5.0, &[]), RATE).is_empty());
        assert!(speech_regions(&[], RATE).is_empty());
    }

    #[test]
    fn windows_tile_the_audio_cut_in_pauses_and_skip_silence() {
        // 70 s of speech with short dips at 25 s and 50 s, then 40 s of silence, then speech.
        let audio = bursts(
            125.0,
            &[(1.0, 24.9), (25.1, 49.9), (50.1, 71.0), (112.0, 118.0)],
        );
        let regions = speech_regions(&audio, RATE);
        let max = 30 * RATE;
        let windows = chunks(&audio, &regions, RATE, max);
        assert!(
            windows.iter().all(|c| c.len() <= max && !c.is_empty()),
            "{windows:?}"
        );
        assert_eq!(
            windows[0].start, 0,
            "from the start, leading pause included"
        );
        for w in windows.windows(2) {
            assert!(w[0].end <= w[1].start);
        }
        // The first cut lands in the dip at 25 s, not at 30 s.
        let cut_s = windows[0].end as f64 / RATE as f64;
        assert!((cut_s - 25.0).abs() < 0.3, "cut at {cut_s}");
        // No window lies wholly in the 40 s of silence; the last speech is covered.
        let secs = |i: usize| i as f64 / RATE as f64;
        assert!(
            !windows
                .iter()
                .any(|w| secs(w.start) > 72.0 && secs(w.end) < 111.0),
            "{windows:?}"
        );
        assert!(
            windows
                .iter()
                .any(|w| secs(w.start) <= 112.0 && secs(w.end) >= 118.0),
            "{windows:?}"
        );
        // Short audio is one window.
        let short = bursts(20.0, &[(1.0, 3.0), (8.0, 9.0), (15.0, 16.0)]);
        assert_eq!(
            chunks(&short, &speech_regions(&short, RATE), RATE, max),
            vec![Span {
                start: 0,
                end: 20 * RATE
            }]
        );
        assert!(chunks(&short, &[], RATE, max).is_empty());
    }
}
