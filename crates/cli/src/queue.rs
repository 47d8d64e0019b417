//! One queue of videos to process, for `vidpipe process` with several inputs, `vidpipe
//! watch` and `vidpipe serve`: files and links, each a job, a bounded number at a time
//! (the transcode takes every core it is given: by default one job per two cores).
//!
//! A job is a file or a link; a link is downloaded first (yt-dlp), its page's title
//! kept as the video's title and its English subtitles beside the transcript. Then the
//! job is `vidpipe process` on the file, in a worker thread with a runtime of its own.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use anyhow::Result;
use serde::Serialize;
use sha2::{Digest, Sha256};
use vidpipe_domain::keys::{UploadIdentity, VideoId};
use vidpipe_domain::record::VideoStatus;
use vidpipe_local::download::{download, is_link};

use crate::command::process::{process, ProcessArgs};

/// What a job processes.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    File(PathBuf),
    Link(String),
}

impl Input {
    /// A link when `text` is `http://` or `https://`, else a file's path.
    pub fn parse(text: &str) -> Input {
        if is_link(text) {
            Input::Link(text.to_string())
        } else {
            Input::File(PathBuf::from(text))
        }
    }

    fn label(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Link(url) => url.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Downloading,
    Processing,
    Published,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Downloading => "downloading",
            JobState::Processing => "processing",
            JobState::Published => "published",
            JobState::Failed => "failed",
        }
    }

    pub fn is_settled(self) -> bool {
        matches!(self, JobState::Published | JobState::Failed)
    }
}

/// A job as the queue's users see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobView {
    pub job: u64,
    /// The file's path or the link.
    pub input: String,
    pub state: JobState,
    /// Known once the file is read (a link's, once it is downloaded).
    pub video_id: Option<String>,
    /// The failure's reason, or the report's path once published.
    pub detail: Option<String>,
    /// Of a download: the fraction done (0–1), when its size is known.
    pub progress: Option<f64>,
}

/// What one job has of its own, beside the queue's options.
#[derive(Debug, Clone, Default)]
pub struct JobOptions {
    /// A talk sheet for this job alone (a watched folder's), instead of `--sheet`.
    pub sheet: Option<String>,
    /// The file's SHA-256 (hex), when it is known already (a web upload hashes as it
    /// is received): not read again, and the video id is known from the start.
    pub content_sha256: Option<String>,
}

struct Job {
    view: JobView,
    input: Input,
    options: JobOptions,
}

struct Shared {
    out: PathBuf,
    args: ProcessArgs,
    max_download_bytes: u64,
    jobs: Mutex<Vec<Job>>,
    pending: Mutex<(VecDeque<u64>, bool)>,
    ready: Condvar,
}

pub struct Queue {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The options of the queue's workers that `watch` and `serve` share.
#[derive(clap::Args, Clone, Debug)]
pub struct WorkerArgs {
    /// How many videos are processed at a time. Default: one per two cores.
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Whisper model folder (see `vidpipe process --help`).
    #[arg(long, env = "VIDPIPE_WHISPER_MODEL")]
    pub model_dir: Option<PathBuf>,
    /// Skip speech: no transcript, captions, speech tags or promo plan.
    #[arg(long)]
    pub no_transcribe: bool,
}

impl WorkerArgs {
    /// `process`' defaults with these options.
    pub fn process_args(&self) -> ProcessArgs {
        ProcessArgs {
            model_dir: self.model_dir.clone(),
            no_transcribe: self.no_transcribe,
            ..ProcessArgs::defaults()
        }
    }

    pub fn workers(&self) -> usize {
        self.jobs.map_or_else(default_workers, usize::from)
    }
}

/// One job per two cores, at least one.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

impl Queue {
    /// Starts `workers` workers that process jobs into `out` with `args`' options (its
    /// inputs are ignored).
    pub fn start(out: &Path, args: &ProcessArgs, workers: usize) -> Queue {
        let mut args = args.clone();
        args.no_summary = true;
        let shared = Arc::new(Shared {
            out: out.to_path_buf(),
            max_download_bytes: args.max_download_mib.saturating_mul(1 << 20),
            args,
            jobs: Mutex::new(Vec::new()),
            pending: Mutex::new((VecDeque::new(), false)),
            ready: Condvar::new(),
        });
        let workers = (0..workers.max(1))
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || work(&shared))
            })
            .collect();
        Queue { shared, workers }
    }

    /// Queues `input`; returns its job number.
    pub fn submit(&self, input: Input) -> u64 {
        self.submit_with(input, JobOptions::default())
    }

    /// Queues `input` with options of its own.
    pub fn submit_with(&self, input: Input, options: JobOptions) -> u64 {
        let video_id = options
            .content_sha256
            .as_deref()
            .map(|sha| VideoId::derive(&UploadIdentity::Content { sha256_hex: sha }).to_string());
        let mut jobs = lock(&self.shared.jobs);
        let job = jobs.len() as u64 + 1;
        jobs.push(Job {
            view: JobView {
                job,
                input: input.label(),
                state: JobState::Queued,
                video_id,
                detail: None,
                progress: None,
            },
            input,
            options,
        });
        drop(jobs);
        lock(&self.shared.pending).0.push_back(job);
        self.shared.ready.notify_one();
        job
    }

    /// Every job, in the order they were queued.
    pub fn jobs(&self) -> Vec<JobView> {
        lock(&self.shared.jobs)
            .iter()
            .map(|j| j.view.clone())
            .collect()
    }

    /// Lets the workers finish what is queued, waits for them, and returns every job.
    pub fn finish(self) -> Vec<JobView> {
        lock(&self.shared.pending).1 = true;
        self.shared.ready.notify_all();
        for w in self.workers {
            let _ = w.join();
        }
        lock(&self.shared.jobs)
            .iter()
            .map(|j| j.view.clone())
            .collect()
    }
}

fn update(shared: &Shared, job: u64, f: impl FnOnce(&mut JobView)) {
    if let Some(j) = lock(&shared.jobs).iter_mut().find(|j| j.view.job == job) {
        f(&mut j.view);
    }
}

/// The next job, or `None` once the queue is closed and empty.
fn next(shared: &Shared) -> Option<u64> {
    let mut pending = lock(&shared.pending);
    loop {
        if let Some(job) = pending.0.pop_front() {
            return Some(job);
        }
        if pending.1 {
            return None;
        }
        pending = shared
            .ready
            .wait(pending)
            .unwrap_or_else(|e| e.into_inner());
    }
}

fn work(shared: &Shared) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("a queue worker cannot start its runtime: {e}");
            return;
        }
    };
    while let Some(job) = next(shared) {
        let input = lock(&shared.jobs)
            .iter()
            .find(|j| j.view.job == job)
            .map(|j| (j.input.clone(), j.options.clone()));
        if let Some((input, options)) = input {
            // A panic fails its job, not the worker (a server runs for days).
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_job(shared, &runtime, job, &input, options)
            }));
            let (state, video_id, detail) = match ran {
                Ok(Ok(done)) => done,
                Ok(Err(e)) => (JobState::Failed, None, Some(format!("{e:#}"))),
                Err(_) => (
                    JobState::Failed,
                    None,
                    Some("vidpipe stopped on an internal error (a panic; see the log)".into()),
                ),
            };
            update(shared, job, |v| {
                v.state = state;
                v.video_id = video_id.or(v.video_id.take());
                v.detail = detail;
            });
        }
    }
}

type Outcome = (JobState, Option<String>, Option<String>);

fn run_job(
    shared: &Shared,
    runtime: &tokio::runtime::Runtime,
    job: u64,
    input: &Input,
    options: JobOptions,
) -> Result<Outcome> {
    let mut args = shared.args.clone();
    if options.sheet.is_some() {
        args.sheet = options.sheet;
    }
    args.content_sha256 = options.content_sha256;
    match input {
        Input::File(path) => args.inputs = vec![path.display().to_string()],
        Input::Link(url) => {
            update(shared, job, |v| v.state = JobState::Downloading);
            let dir = shared.out.join("downloads").join(link_folder(url));
            let decile = std::sync::atomic::AtomicU64::new(0);
            let progress = |done: u64, total: Option<u64>| {
                let fraction = total
                    .filter(|t| *t > 0)
                    .map(|t| (done as f64 / t as f64).min(1.0));
                update(shared, job, |v| v.progress = fraction);
                let tenth = fraction.map_or(0, |f| (f * 10.0) as u64);
                if tenth > decile.fetch_max(tenth, std::sync::atomic::Ordering::Relaxed) {
                    tracing::info!("downloading {url}: {}% ({done} bytes)", tenth * 10);
                }
            };
            let got = download(url, &dir, shared.max_download_bytes, &progress)?;
            if let Some(title) = &got.title {
                let sidecar = got.video.with_extension("json");
                if !sidecar.exists() {
                    std::fs::write(
                        &sidecar,
                        serde_json::to_vec(&serde_json::json!({ "title": title }))?,
                    )?;
                }
            }
            args.inputs = vec![got.video.display().to_string()];
            args.subtitles = got.subtitles;
        }
    }
    update(shared, job, |v| {
        v.state = JobState::Processing;
        v.progress = None;
    });
    let (_, record) = runtime.block_on(process(&shared.out, &args, false))?;
    let id = Some(record.id.to_string());
    Ok(match (&record.status, &record.failure) {
        (VideoStatus::Published, _) => (JobState::Published, id, record.links.first().cloned()),
        (_, Some(f)) => (
            JobState::Failed,
            id,
            Some(format!("{} failed: {}", f.stage, f.reason)),
        ),
        (_, None) => (JobState::Failed, id, Some("not finished".into())),
    })
}

/// A link's download folder: the first 16 hex digits of its SHA-256.
fn link_folder(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `vidpipe process` with several inputs (or a link): every input through the queue,
/// then a table of what became of each. Exit status 0 when every one was published.
pub fn process_all(out: &Path, args: &ProcessArgs) -> Result<ExitCode> {
    let workers = args.jobs.map_or_else(default_workers, usize::from);
    let queue = Queue::start(out, args, workers);
    for input in &args.inputs {
        queue.submit(Input::parse(input));
    }
    let jobs = queue.finish();
    print!("{}", summary_table(&jobs));
    let all_published = jobs.iter().all(|j| j.state == JobState::Published);
    Ok(if all_published {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One line per job: input, video id, state, and the report or the failure's reason.
pub fn summary_table(jobs: &[JobView]) -> String {
    let width = jobs
        .iter()
        .map(|j| j.input.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 60);
    let mut out = format!(
        "{:<width$}  {:<16}  {:<9}  {}\n",
        "input", "video", "status", "detail"
    );
    for j in jobs {
        out.push_str(&format!(
            "{:<width$}  {:<16}  {:<9}  {}\n",
            j.input,
            j.video_id.as_deref().unwrap_or("-"),
            j.state.as_str(),
            j.detail.as_deref().unwrap_or("")
        ));
    }
    let published = jobs
        .iter()
        .filter(|j| j.state == JobState::Published)
        .count();
    out.push_str(&format!("{published} of {} published\n", jobs.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_links_or_files_and_the_table_names_each_outcome() {
        assert_eq!(
            Input::parse("https://x.org/v"),
            Input::Link("https://x.org/v".into())
        );
        assert_eq!(Input::parse("a.mp4"), Input::File("a.mp4".into()));
        let view = |job, input: &str, state, detail: Option<&str>| JobView {
            job,
            input: input.into(),
            state,
            video_id: None,
            detail: detail.map(str::to_string),
            progress: None,
        };
        let table = summary_table(&[
            view(1, "a.mp4", JobState::Published, Some("/out/x/report.html")),
            view(
                2,
                "empty.mp4",
                JobState::Failed,
                Some("ingest failed: empty (0 bytes)"),
            ),
        ]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[1].starts_with("a.mp4") && lines[1].contains("published"),
            "{table}"
        );
        assert!(
            lines[2].contains("failed") && lines[2].ends_with("ingest failed: empty (0 bytes)")
        );
        assert_eq!(lines[3], "1 of 2 published");
        assert_ne!(link_folder("https://a"), link_folder("https://b"));
        assert_eq!(link_folder("https://a").len(), 16);
    }
}
