//! `vidpipe timelapse --input DIR|ftp://… --period P1Y …`: frames (synced from FTP, or
//! in a folder) made into the movie of a period over a basemap, handed to the pipeline
//! as any upload, and the dataset's catalog entry updated. Every run writes a JSON run
//! report beside the movie and prints one line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use vidpipe_domain::catalog::CatalogTarget;
use vidpipe_domain::outbox::{DeliveryKind, DeliveryState};
use vidpipe_domain::record::VideoStatus;
use vidpipe_domain::sidecar::Sidecar;
use vidpipe_domain::timelapse::{self, Fill, FrameTime, Selection};
use vidpipe_local::{encode_movie, EncoderSettings};
use vidpipe_sheets::catalog::{self, CatalogLocation, CatalogOutcome};
use vidpipe_timelapse::compose::{self, Composer};
use vidpipe_timelapse::ftp::{self, FolderStore, FtpSource, Want};

mod args;
mod report;
pub use args::TimelapseArgs;
use args::{FillArg, Preset};
use report::{
    one_line, CatalogReport, Duplicate, FramesReport, MovieReport, PeriodReport, PipelineReport,
    RunReport,
};

fn stamp(t: FrameTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Runs the job; the report is written (or, in a dry run, printed) whatever happens.
pub async fn run(out: &Path, args: &TimelapseArgs, interactive: bool) -> Result<ExitCode> {
    let mut report = RunReport {
        input: ftp::redact(&args.input),
        dry_run: args.dry_run,
        ..RunReport::default()
    };
    let mut movie_path = None;
    let result = job(out, args, interactive, &mut report, &mut movie_path).await;
    if let Err(e) = &result {
        report.error = Some(format!("{e:#}"));
    }
    let json = serde_json::to_string_pretty(&report)?;
    if args.dry_run {
        println!("{json}");
    } else {
        let path = args.report.clone().or_else(|| {
            movie_path
                .as_ref()
                .map(|m: &PathBuf| m.with_extension("report.json"))
        });
        if let Some(path) = path {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, json + "\n")
                .with_context(|| format!("cannot write the run report {}", path.display()))?;
        }
    }
    println!("{}", one_line(&report));
    result.map(|()| ExitCode::SUCCESS)
}

async fn job(
    out: &Path,
    args: &TimelapseArgs,
    interactive: bool,
    report: &mut RunReport,
    movie_path: &mut Option<PathBuf>,
) -> Result<()> {
    if let Some(basemap) = &args.basemap {
        compose::basemap_size(basemap)?;
    }
    let fps = args.fps.unwrap_or(30);
    let wanted_size = args.size.or(args.preset.map(Preset::size));
    let want = Want {
        pattern: args.pattern.as_deref(),
        period: args.period,
        end: args.end,
    };
    let source = if args.input.starts_with("ftp://") || args.input.starts_with("ftps://") {
        Some(FtpSource::parse(&args.input)?.with_ca_file(args.ftp_ca.clone()))
    } else {
        None
    };
    let name = args.name.clone().unwrap_or_else(|| match &source {
        Some(s) => folder_name(&s.dir, &s.host),
        None => folder_name(&args.input, "timelapse"),
    });
    let movie = out.join("movies").join(format!("{name}.mp4"));
    if !args.dry_run {
        *movie_path = Some(movie.clone());
    }
    let dir = match &source {
        Some(s) => args.frames.clone().unwrap_or_else(|| frames_dir(out, s)),
        None => PathBuf::from(&args.input),
    };
    let mut on_server = None;
    if let Some(source) = &source {
        let mut store = FolderStore {
            dir: dir.clone(),
            read_only: args.dry_run,
        };
        let (sync, remote) = ftp::sync(source, &mut store, &want, args.dry_run)?;
        let (failure, listed) = (sync.failure(), sync.listed);
        report.sync = Some(sync);
        if let Some(failure) = failure {
            bail!("{failure}");
        }
        if args.dry_run {
            // Nothing was downloaded: the movie is planned from the server's listing.
            plan(args, report, remote, wanted_size, fps, &movie, &dir, listed);
            return Ok(());
        }
        on_server = Some(remote);
    }
    let names = vidpipe_timelapse::local_frames(&dir)
        .with_context(|| format!("{}: cannot read the frames folder", dir.display()))?;
    if names.is_empty() {
        bail!(
            "{}: no frames (no .{} file)",
            dir.display(),
            vidpipe_timelapse::FRAME_EXTENSIONS.join(", .")
        );
    }
    if names
        .iter()
        .all(|n| timelapse::time_in_name(n, want.pattern).is_none())
    {
        let some: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
        bail!(
            "{}: no file name has a time in it ({}{}); name the form with --pattern",
            dir.display(),
            some.join(", "),
            if names.len() > 3 { ", …" } else { "" }
        );
    }
    let mut selection =
        timelapse::select(&names, want.pattern, want.period, want.end, args.cadence)
            .with_context(|| format!("{}", dir.display()))?;
    if let Some(listing) = on_server {
        selection.add_unfetched(listing);
    }
    plan(
        args,
        report,
        selection.clone(),
        wanted_size,
        fps,
        &movie,
        &dir,
        names.len(),
    );
    if args.dry_run {
        return Ok(());
    }
    let size = match wanted_size {
        Some(s) => s,
        None => compose::common_size(&vidpipe_timelapse::frame_paths(&dir, &selection))?,
    };
    let composer = Composer::new(size, args.basemap.as_deref(), args.label)?;
    let steps = selection.steps(fill(args.fill));
    let settings = EncoderSettings {
        preset: args.x264_preset.clone(),
        crf: args.crf,
    };
    let written = encode_movie(&movie, &settings, |stdin| {
        let load = vidpipe_timelapse::folder_loader(&dir);
        vidpipe_timelapse::write_movie(&composer, &load, &selection, &steps, fps, stdin)
    })?;
    tracing::info!(movie = %movie.display(), frames = written, "movie made");
    if let Some(m) = report.movie.as_mut() {
        (m.width, m.height) = composer.size();
        m.made = true;
    }
    let (first, last) = (
        stamp(selection.frames.first().expect("one frame at least").time),
        stamp(selection.frames.last().expect("one frame at least").time),
    );
    let target = args
        .catalog
        .as_ref()
        .zip(args.dataset_id.as_ref())
        .map(|(catalog, id)| CatalogTarget {
            catalog: catalog.clone(),
            dataset_id: id.clone(),
            start: first.clone(),
            end: last.clone(),
        });
    if args.movie_only {
        if let Some(target) = &target {
            update_catalog(target, report).await?;
        }
        return Ok(());
    }
    // The movie's sidecar: its title and description, and the catalog entry the
    // notify stage writes once it is published (with the link, when there is one).
    let sidecar = Sidecar {
        title: Some(format!("{name}, {first} to {last}")),
        description: Some(format!(
            "A time-lapse of {} frames from {first} to {last} (UTC).",
            selection.frames.len()
        )),
        tags: vec!["timelapse".into()],
        catalog: target.clone(),
        ..Sidecar::default()
    };
    let sidecar_path = movie.with_extension("json");
    std::fs::write(&sidecar_path, serde_json::to_vec_pretty(&sidecar)?)
        .with_context(|| format!("cannot write {}", sidecar_path.display()))?;
    let process =
        super::process::ProcessArgs::for_movie(movie.clone(), &args.x264_preset, args.crf);
    let (_, record) = super::process::process(out, &process, interactive).await?;
    report.pipeline = Some(PipelineReport {
        video_id: record.id.to_string(),
        status: format!("{:?}", record.status).to_lowercase(),
        links: record.links.clone(),
    });
    if record.status != VideoStatus::Published {
        let reason = record.failure.map_or("not finished".to_string(), |f| {
            format!("{} failed: {}", f.stage.as_str(), f.reason)
        });
        bail!("the movie {}: {reason}", movie.display());
    }
    if let Some(target) = &target {
        let delivery = record
            .outbox
            .iter()
            .find(|d| matches!(d.kind, DeliveryKind::CatalogEntry { .. }));
        let (link, result) = match delivery {
            Some(d) => {
                let link = match &d.kind {
                    DeliveryKind::CatalogEntry { link, .. } => link.clone(),
                    _ => None,
                };
                let result = match d.state {
                    DeliveryState::Sent => "updated".to_string(),
                    DeliveryState::Failed => "failed".to_string(),
                    _ => "pending".to_string(),
                };
                (link, (result, d.detail.clone()))
            }
            None => (None, ("not recorded".to_string(), None)),
        };
        report.catalog = Some(CatalogReport {
            catalog: target.catalog.clone(),
            dataset_id: target.dataset_id.clone(),
            start: target.start.clone(),
            end: target.end.clone(),
            link,
            result: result.0.clone(),
        });
        if result.0 != "updated" {
            bail!(
                "{}: dataset {} not updated: {}",
                target.catalog,
                target.dataset_id,
                result.1.unwrap_or(result.0)
            );
        }
    }
    Ok(())
}

/// Records the period, the frames and the movie to be made in `report`.
#[allow(clippy::too_many_arguments)]
fn plan(
    args: &TimelapseArgs,
    report: &mut RunReport,
    selection: Selection,
    size: Option<(u32, u32)>,
    fps: u32,
    movie: &Path,
    dir: &Path,
    found: usize,
) {
    let steps = selection.steps(fill(args.fill));
    let (first, last) = (
        selection.frames.first().expect("select keeps one at least"),
        selection.frames.last().expect("select keeps one at least"),
    );
    report.period = Some(PeriodReport {
        start: stamp(selection.start),
        end: stamp(selection.end),
        first_frame: stamp(first.time),
        last_frame: stamp(last.time),
    });
    if !selection.untimed.is_empty() {
        tracing::warn!(folder = %dir.display(), files = ?selection.untimed, "frames without a time in their name are left out");
    }
    let (width, height) = size.map(compose::even).unwrap_or((0, 0));
    report.movie = Some(MovieReport {
        path: movie.display().to_string(),
        made: false,
        width,
        height,
        fps,
        steps: steps.len(),
        duration_s: steps.len() as f64 / f64::from(fps),
        fill: format!("{:?}", args.fill).to_lowercase(),
        label: args.label,
        basemap: args.basemap.as_ref().map(|b| b.display().to_string()),
    });
    report.frames = Some(FramesReport {
        found,
        used: selection.frames.len(),
        duplicates: selection
            .duplicates
            .into_iter()
            .map(|(kept, dropped)| Duplicate { kept, dropped })
            .collect(),
        untimed: selection.untimed,
        cadence_s: selection.cadence_s,
        gaps: selection.gaps.into_iter().map(stamp).collect(),
    });
}

/// Writes the period into the catalog now (`--movie-only`: nothing is published, so
/// no link).
async fn update_catalog(target: &CatalogTarget, report: &mut RunReport) -> Result<()> {
    let mut entry = CatalogReport {
        catalog: target.catalog.clone(),
        dataset_id: target.dataset_id.clone(),
        start: target.start.clone(),
        end: target.end.clone(),
        link: None,
        result: "failed".into(),
    };
    let outcome = match CatalogLocation::parse(&target.catalog) {
        Ok(location) => catalog::set(&location, &target.dataset_id, &target.update(None))
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(anyhow::Error::from(e)),
    };
    entry.result = match &outcome {
        Ok(CatalogOutcome::Written) => "updated".into(),
        Ok(CatalogOutcome::Unchanged) => "unchanged".into(),
        Err(_) => "failed".into(),
    };
    report.catalog = Some(entry);
    outcome.map(|_| ())
}

fn fill(arg: FillArg) -> Fill {
    match arg {
        FillArg::None => Fill::None,
        FillArg::Hold => Fill::Hold,
        FillArg::Blank => Fill::Blank,
        FillArg::Basemap => Fill::Basemap,
    }
}

/// Where an FTP folder's frames are kept: OUT/frames/HOST/DIR.
fn frames_dir(out: &Path, source: &FtpSource) -> PathBuf {
    let mut dir = out.join("frames").join(safe(&source.host));
    for part in source
        .dir
        .split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
    {
        dir.push(safe(part));
    }
    dir
}

/// The last part of a folder path, made safe as a file name; `fallback` when none.
fn folder_name(path: &str, fallback: &str) -> String {
    let last = path
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .find(|p| !p.is_empty() && *p != "." && *p != "..")
        .unwrap_or(fallback);
    safe(last)
}

fn safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}
