//! Time-lapse from image sequences: which frames make the movie of a period. A science
//! team's frames are one image per time step, the time in the file name
//! (`pw_20240226_1900.jpg`, `DroughtRisk_Weekly_20240226.png`,
//! `linear_rgb_cyl_20240226_1900.png`, `…2024-02-26T19_00_00Z…`). Here: the times read
//! from the names (keeping the time of day), the period (ISO 8601 durations, calendar
//! months), the frames of the period in time order (not name order), duplicates, the
//! cadence and the missing steps, and what each step of the movie shows when a frame is
//! missing. All times are UTC.

use chrono::{Duration, Months, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A file name's time, as found by [`time_in_name`].
pub type FrameTime = NaiveDateTime;

#[derive(Debug, Clone, Error, PartialEq)]
pub enum TimelapseError {
    #[error("period {text:?}: {reason} (ISO 8601, as P1Y, P1M, P7D, PT6H; or 1Y, 1M, 1W, 1D)")]
    BadPeriod { text: String, reason: String },
    #[error("no frames in the period {start} to {end} ({found} frames found in all)")]
    NoFrames {
        start: FrameTime,
        end: FrameTime,
        found: usize,
    },
}

/// The time in a file name. With `pattern` (strftime, as `%Y%j_%H`), the first place
/// in the name where it parses whole; else the first of the common forms, most
/// precise first: `YYYY-MM-DDTHH_MM_SSZ` (or `:` for `_`), `YYYYMMDD_HHMM`,
/// `YYYYMMDDHHMM`, `YYYYMMDD`, with any prefix or suffix. A run of digits longer than
/// the form is not a time (`123456789012345` is no date).
pub fn time_in_name(name: &str, pattern: Option<&str>) -> Option<FrameTime> {
    let stem = name.rsplit('/').next().unwrap_or(name);
    if let Some(p) = pattern {
        return (0..stem.len())
            .filter(|&i| stem.is_char_boundary(i))
            .find_map(|i| parse_prefix(&stem[i..], p));
    }
    let bytes = stem.as_bytes();
    (0..bytes.len())
        .filter(|&i| i == 0 || !bytes[i - 1].is_ascii_digit())
        .find_map(|i| common_form(&bytes[i..]))
}

/// `text` parsed by `pattern` at its start, ignoring what follows. Fields the pattern
/// lacks are zero (a pattern with an hour and no minute keeps the hour).
fn parse_prefix(text: &str, pattern: &str) -> Option<FrameTime> {
    use chrono::format::{parse_and_remainder, Parsed, StrftimeItems};
    let mut parsed = Parsed::new();
    parse_and_remainder(&mut parsed, text, StrftimeItems::new(pattern)).ok()?;
    let date = parsed.to_naive_date().ok()?;
    let hour = match (parsed.hour_div_12(), parsed.hour_mod_12()) {
        (Some(half), Some(h)) => half * 12 + h,
        _ => 0,
    };
    date.and_hms_opt(
        hour,
        parsed.minute().unwrap_or(0),
        parsed.second().unwrap_or(0),
    )
}

/// One of the common forms at the start of `b`, not followed by another digit.
fn common_form(b: &[u8]) -> Option<FrameTime> {
    let digits = |from: usize, n: usize| -> Option<u32> {
        let part = b.get(from..from + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    let ends_at = |n: usize| b.get(n).is_none_or(|c| !c.is_ascii_digit());
    let is = |at: usize, set: &[u8]| b.get(at).is_some_and(|c| set.contains(c));
    let date = |y: u32, m: u32, d: u32| NaiveDate::from_ymd_opt(y as i32, m, d);
    // YYYY-MM-DDTHH_MM_SS
    if is(4, b"-") && is(7, b"-") && is(10, b"T") && is(13, b"_:") && is(16, b"_:") && ends_at(19) {
        let d = date(digits(0, 4)?, digits(5, 2)?, digits(8, 2)?)?;
        return d.and_hms_opt(digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    }
    let d = date(digits(0, 4)?, digits(4, 2)?, digits(6, 2)?)?;
    if is(8, b"_") && ends_at(13) {
        if let (Some(h), Some(m)) = (digits(9, 2), digits(11, 2)) {
            return d.and_hms_opt(h, m, 0);
        }
    }
    if ends_at(12) {
        if let (Some(h), Some(m)) = (digits(8, 2), digits(10, 2)) {
            return d.and_hms_opt(h, m, 0);
        }
    }
    ends_at(8).then(|| d.and_hms_opt(0, 0, 0)).flatten()
}

/// A period: calendar months (years are 12) plus an exact duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub months: u32,
    pub seconds: i64,
}

impl Period {
    /// ISO 8601 (`P1Y`, `P1M`, `P7D`, `P1W`, `PT6H`, `P1DT12H`, `PT30M`, `PT10S`) or the
    /// legacy short forms `1Y`, `1M`, `1W`, `1D`. `M` before `T` is months, after it
    /// minutes.
    ///
    /// # Errors
    /// [`TimelapseError::BadPeriod`] naming the text: no number, an unknown unit, a
    /// trailing part, or a period of zero.
    pub fn parse(text: &str) -> Result<Period, TimelapseError> {
        let bad = |reason: &str| TimelapseError::BadPeriod {
            text: text.to_string(),
            reason: reason.to_string(),
        };
        let t = text.trim().to_ascii_uppercase();
        let iso = match t.strip_prefix('P') {
            Some(rest) => rest.to_string(),
            None if t.ends_with(['Y', 'M', 'W', 'D']) => t.clone(),
            None => return Err(bad("not a duration")),
        };
        let (mut period, mut in_time, mut number) = (
            Period {
                months: 0,
                seconds: 0,
            },
            false,
            String::new(),
        );
        for c in iso.chars() {
            match c {
                '0'..='9' => number.push(c),
                'T' if !in_time && number.is_empty() => in_time = true,
                _ => {
                    let n: i64 = number.parse().map_err(|_| bad("a unit without a number"))?;
                    number.clear();
                    let month_count = |k: i64| u32::try_from(k).map_err(|_| bad("too long"));
                    match (c, in_time) {
                        ('Y', false) => period.months += month_count(n * 12)?,
                        ('M', false) => period.months += month_count(n)?,
                        ('W', false) => period.seconds += n * 7 * 86_400,
                        ('D', false) => period.seconds += n * 86_400,
                        ('H', true) => period.seconds += n * 3600,
                        ('M', true) => period.seconds += n * 60,
                        ('S', true) => period.seconds += n,
                        _ => return Err(bad(&format!("unknown unit '{c}'"))),
                    }
                }
            }
        }
        if !number.is_empty() {
            return Err(bad("a number without a unit"));
        }
        if period.months == 0 && period.seconds == 0 {
            return Err(bad("the period is empty"));
        }
        Ok(period)
    }

    /// The period's first instant when it ends at `end`: calendar months back (the
    /// 31st less a month is the month's last day), then the exact part.
    pub fn start(&self, end: FrameTime) -> FrameTime {
        let back = end
            .checked_sub_months(Months::new(self.months))
            .unwrap_or(NaiveDateTime::MIN);
        back.checked_sub_signed(Duration::seconds(self.seconds))
            .unwrap_or(NaiveDateTime::MIN)
    }
}

/// A frame file and its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    pub name: String,
    pub time: FrameTime,
}

/// The frames of a period, and what was found wrong with the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    pub start: FrameTime,
    pub end: FrameTime,
    /// In time order, one per time.
    pub frames: Vec<Frame>,
    /// Files with a time another file has too: (kept, dropped). The kept one is the
    /// first by name.
    pub duplicates: Vec<(String, String)>,
    /// Files whose name has no time.
    pub untimed: Vec<String>,
    /// The time between frames, seconds: the median step, or as given.
    pub cadence_s: Option<i64>,
    /// The times a frame was expected at and none is there.
    pub gaps: Vec<FrameTime>,
}

/// The frames of `names` inside the period that ends at `end` (else at the newest
/// frame), ordered by time, with duplicates, untimed names, the cadence (given, or the
/// median step) and the gaps (every missing step where two frames are more than 1.5
/// cadences apart).
///
/// # Errors
/// [`TimelapseError::NoFrames`] when none falls in the period.
pub fn select(
    names: &[String],
    pattern: Option<&str>,
    period: Period,
    end: Option<FrameTime>,
    cadence_s: Option<i64>,
) -> Result<Selection, TimelapseError> {
    let mut timed: Vec<Frame> = Vec::new();
    let mut untimed = Vec::new();
    for name in names {
        match time_in_name(name, pattern) {
            Some(time) => timed.push(Frame {
                name: name.clone(),
                time,
            }),
            None => untimed.push(name.clone()),
        }
    }
    timed.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.name.cmp(&b.name)));
    let end = end
        .or_else(|| timed.last().map(|f| f.time))
        .unwrap_or(NaiveDateTime::MIN);
    let start = period.start(end);
    let found = timed.len();
    let mut frames: Vec<Frame> = Vec::new();
    let mut duplicates = Vec::new();
    for f in timed
        .into_iter()
        .filter(|f| f.time >= start && f.time <= end)
    {
        match frames.last() {
            Some(last) if last.time == f.time => duplicates.push((last.name.clone(), f.name)),
            _ => frames.push(f),
        }
    }
    if frames.is_empty() {
        return Err(TimelapseError::NoFrames { start, end, found });
    }
    let cadence_s = cadence_s.or_else(|| median_step_s(&frames));
    let gaps = cadence_s.map_or(Vec::new(), |c| missing_steps(&frames, c));
    Ok(Selection {
        start,
        end,
        frames,
        duplicates,
        untimed,
        cadence_s,
        gaps,
    })
}

fn median_step_s(frames: &[Frame]) -> Option<i64> {
    let mut steps: Vec<i64> = frames
        .windows(2)
        .map(|w| (w[1].time - w[0].time).num_seconds())
        .collect();
    steps.sort_unstable();
    steps.get(steps.len() / 2).copied()
}

/// The expected times with no frame: where two frames are more than 1.5 cadences
/// apart, each whole cadence after the first that comes before the second.
fn missing_steps(frames: &[Frame], cadence_s: i64) -> Vec<FrameTime> {
    let mut gaps = Vec::new();
    if cadence_s <= 0 {
        return gaps;
    }
    for w in frames.windows(2) {
        let span = (w[1].time - w[0].time).num_seconds();
        if span * 2 > cadence_s * 3 {
            let mut t = w[0].time + Duration::seconds(cadence_s);
            while (w[1].time - t).num_seconds() * 2 > cadence_s {
                gaps.push(t);
                t += Duration::seconds(cadence_s);
            }
        }
    }
    gaps
}

/// What fills a missing step (`--fill`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fill {
    /// Nothing: the movie skips the step.
    None,
    /// The frame before, shown again.
    Hold,
    /// A black frame.
    Blank,
    /// The basemap alone.
    Basemap,
}

/// One step of the movie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Frame `n` of [`Selection::frames`].
    Frame(usize),
    /// A missing step held with frame `n` (`--fill hold`).
    Held(usize),
    /// A missing step (its expected time) shown as a black frame (`--fill blank`).
    Blank(FrameTime),
    /// A missing step (its expected time) shown as the basemap alone (`--fill basemap`).
    Basemap(FrameTime),
}

impl Selection {
    /// Adds what a server's listing (`listing`, selected as this was) reported that the
    /// frames fetched from it cannot: its duplicates and untimed names, each once.
    pub fn add_unfetched(&mut self, listing: Selection) {
        for d in listing.duplicates {
            if !self.duplicates.contains(&d) {
                self.duplicates.push(d);
            }
        }
        for u in listing.untimed {
            if !self.untimed.contains(&u) {
                self.untimed.push(u);
            }
        }
    }

    /// The movie's steps in order: every frame, and each gap filled as `fill` says.
    pub fn steps(&self, fill: Fill) -> Vec<Step> {
        let mut steps = Vec::with_capacity(self.frames.len() + self.gaps.len());
        let mut gaps = self.gaps.iter().peekable();
        for (i, f) in self.frames.iter().enumerate() {
            while let Some(&g) = gaps.next_if(|g| **g < f.time) {
                match fill {
                    Fill::None => {}
                    Fill::Hold => steps.push(Step::Held(i.saturating_sub(1))),
                    Fill::Blank => steps.push(Step::Blank(g)),
                    Fill::Basemap => steps.push(Step::Basemap(g)),
                }
            }
            steps.push(Step::Frame(i));
        }
        steps
    }
}

#[cfg(test)]
mod tests;
