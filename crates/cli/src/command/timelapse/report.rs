//! `vidpipe timelapse`'s run report: the JSON written beside the movie, and its one
//! line on the terminal.

use serde::Serialize;
use vidpipe_timelapse::ftp::SyncReport;

/// The run report: what was found, fetched, made, handed on and written.
#[derive(Debug, Default, Serialize)]
pub(super) struct RunReport {
    pub(super) input: String,
    pub(super) dry_run: bool,
    pub(super) period: Option<PeriodReport>,
    pub(super) frames: Option<FramesReport>,
    pub(super) sync: Option<SyncReport>,
    pub(super) movie: Option<MovieReport>,
    pub(super) pipeline: Option<PipelineReport>,
    pub(super) catalog: Option<CatalogReport>,
    /// Why the run failed; `None` when it did not.
    pub(super) error: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct PeriodReport {
    pub(super) start: String,
    pub(super) end: String,
    pub(super) first_frame: String,
    pub(super) last_frame: String,
}

#[derive(Debug, Serialize)]
pub(super) struct FramesReport {
    /// Frame files in the folder.
    pub(super) found: usize,
    /// The period's frames, one per time.
    pub(super) used: usize,
    pub(super) duplicates: Vec<Duplicate>,
    /// Frame files whose name has no time: left out.
    pub(super) untimed: Vec<String>,
    pub(super) cadence_s: Option<i64>,
    /// The times a frame was expected at and none is there.
    pub(super) gaps: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct Duplicate {
    pub(super) kept: String,
    pub(super) dropped: String,
}

#[derive(Debug, Serialize)]
pub(super) struct MovieReport {
    pub(super) path: String,
    /// Whether the movie was made (it is in place); false in a dry run or a failure.
    pub(super) made: bool,
    pub(super) width: u32,
    pub(super) height: u32,
    pub(super) fps: u32,
    /// Frames in the movie: the period's frames, and the gaps filled.
    pub(super) steps: usize,
    pub(super) duration_s: f64,
    pub(super) fill: String,
    pub(super) label: bool,
    pub(super) basemap: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct PipelineReport {
    pub(super) video_id: String,
    pub(super) status: String,
    pub(super) links: Vec<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct CatalogReport {
    pub(super) catalog: String,
    pub(super) dataset_id: String,
    pub(super) start: String,
    pub(super) end: String,
    pub(super) link: Option<String>,
    pub(super) result: String,
}

/// The run in one line for the terminal.
pub(super) fn one_line(r: &RunReport) -> String {
    let mut parts = vec![format!("timelapse {}", r.input)];
    if let Some(f) = &r.frames {
        parts.push(format!(
            "{} frames found, {} used, {} duplicate(s), {} gap(s), {} untimed",
            f.found,
            f.used,
            f.duplicates.len(),
            f.gaps.len(),
            f.untimed.len()
        ));
    }
    if let Some(s) = &r.sync {
        let verb = if r.dry_run {
            "to download"
        } else {
            "downloaded"
        };
        parts.push(format!(
            "{} {verb}, {} up to date",
            s.downloaded.len(),
            s.up_to_date
        ));
    }
    if let Some(p) = &r.period {
        parts.push(format!("{} to {}", p.first_frame, p.last_frame));
    }
    if let Some(m) = &r.movie {
        let verb = match (r.dry_run, m.made) {
            (true, _) => "would make",
            (false, true) => "made",
            (false, false) => "did not make",
        };
        parts.push(format!(
            "{verb} {} ({} frames, {:.2} s)",
            m.path, m.steps, m.duration_s
        ));
    }
    if let Some(p) = &r.pipeline {
        parts.push(format!("video {} {}", p.video_id, p.status));
    }
    if let Some(c) = &r.catalog {
        parts.push(format!("catalog {}", c.result));
    }
    if r.error.is_some() {
        parts.push("FAILED".into());
    }
    parts.join("; ")
}
