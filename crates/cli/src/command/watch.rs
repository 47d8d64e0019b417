//! `vidpipe watch DIR`: a drop folder, as the bucket's `uploads/` is in the cloud. A
//! video or audio file that appears there is processed once it has finished being
//! written (its size and modification time unchanged for `--settle-s`); a sidecar
//! (`<name>.json`) dropped beside it is used, as `vidpipe process` uses it, and so is a
//! talk sheet dropped in the folder (one `.xlsx`, `.ods` or `.csv` file), or the one
//! `--sheet` names: its row fills what the sidecar leaves out.
//!
//! The folder is looked at every second (a poll, which works on every file system,
//! network shares included). A file is queued once per content: a restarted watch
//! queues it again, and `process` finds it already done.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use vidpipe_domain::events::{AUDIO_EXTENSIONS, VIDEO_EXTENSIONS};

use super::process::ProcessArgs;
use crate::delivery::DeliveryArgs;
use crate::queue::{summary_table, Input, JobOptions, JobState, Queue, WorkerArgs};

#[derive(clap::Args, Clone)]
pub struct WatchArgs {
    /// The folder to watch.
    pub dir: PathBuf,
    /// How long, in seconds, a file must stay unchanged before it is taken.
    #[arg(long, default_value_t = 2.0)]
    pub settle_s: f64,
    /// Take what is in the folder now, process it, print the table and stop.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// The talk sheet (see `vidpipe process --help`).
    #[arg(long)]
    pub sheet: Option<String>,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

/// What was last seen of a file: size, modification time, and since when.
struct Seen {
    size: u64,
    modified: SystemTime,
    since: Instant,
}

/// Video and audio files in `dir` (not hidden, not partial downloads).
fn candidates(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let media =
            VIDEO_EXTENSIONS.contains(&ext.as_str()) || AUDIO_EXTENSIONS.contains(&ext.as_str());
        if media && !name.starts_with('.') && path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// The talk sheet in `dir`: its one `.xlsx`, `.ods` or `.csv` file (none, or several:
/// none is used).
fn sheet_in(dir: &Path) -> Option<String> {
    let sheets: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let ext = p
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            matches!(ext.as_str(), "xlsx" | "ods" | "csv") && p.is_file()
        })
        .collect();
    match sheets.as_slice() {
        [one] => Some(one.display().to_string()),
        _ => None,
    }
}

/// The files that have settled since the last look, each once.
fn settled(
    dir: &Path,
    seen: &mut HashMap<PathBuf, Seen>,
    taken: &mut HashSet<(PathBuf, u64, SystemTime)>,
    settle: Duration,
) -> Result<Vec<PathBuf>> {
    let mut ready = Vec::new();
    for path in candidates(dir)? {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let (size, modified) = (
            meta.len(),
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        );
        let entry = seen.entry(path.clone()).or_insert(Seen {
            size,
            modified,
            since: Instant::now(),
        });
        if entry.size != size || entry.modified != modified {
            *entry = Seen {
                size,
                modified,
                since: Instant::now(),
            };
            continue;
        }
        if entry.since.elapsed() >= settle && taken.insert((path.clone(), size, modified)) {
            ready.push(path);
        }
    }
    Ok(ready)
}

/// Watches `args.dir` until interrupted (or, with `--once`, until what was there is
/// processed: exit status 0 when every one was published).
pub fn run(out: &Path, args: &WatchArgs) -> Result<ExitCode> {
    anyhow::ensure!(args.dir.is_dir(), "{}: not a folder", args.dir.display());
    anyhow::ensure!(
        args.settle_s.is_finite() && args.settle_s >= 0.0,
        "--settle-s must be seconds, not negative"
    );
    let process = ProcessArgs {
        sheet: args.sheet.clone(),
        delivery: args.delivery.clone(),
        ..args.workers.process_args()
    };
    process.delivery.open()?;
    let queue = Queue::start(out, &process, args.workers.workers());
    let settle = Duration::from_secs_f64(args.settle_s);
    let (mut seen, mut taken) = (HashMap::new(), HashSet::new());
    let mut reported = HashSet::new();
    eprintln!("watching {} (Ctrl-C to stop)", args.dir.display());
    loop {
        for path in settled(&args.dir, &mut seen, &mut taken, settle)? {
            let sheet = args.sheet.clone().or_else(|| sheet_in(&args.dir));
            tracing::info!(file = %path.display(), sheet = ?sheet, "queued");
            let options = JobOptions {
                sheet,
                ..JobOptions::default()
            };
            queue.submit_with(Input::File(path), options);
        }
        for job in queue.jobs() {
            if job.state.is_settled() && reported.insert(job.job) {
                let detail = job.detail.as_deref().unwrap_or("");
                println!(
                    "{}  {}  {}  {detail}",
                    job.input,
                    job.video_id.as_deref().unwrap_or("-"),
                    job.state.as_str()
                );
            }
        }
        let waiting = seen.keys().any(|p| !taken.iter().any(|(t, ..)| t == p));
        if args.once && !waiting {
            let jobs = queue.finish();
            print!("{}", summary_table(&jobs));
            let ok = jobs.iter().all(|j| j.state == JobState::Published);
            return Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        std::thread::sleep(Duration::from_millis(if args.once { 200 } else { 1000 }));
    }
}
