//! `vidpipe`: the pipeline on one machine. ffmpeg stands in for MediaConvert, image
//! measures for Rekognition, a folder for the S3 bucket and SQLite for DynamoDB; the
//! stages and their routing are the cloud's own (`vidpipe-domain`). This file only
//! parses the command line and dispatches to `command/<command>.rs`.

mod command;
mod delivery;
mod progress;
mod publishing;
mod queue;
mod serve;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// report.html for each video (or audio file, or link).
    Process(Box<command::process::ProcessArgs>),
    /// Process each video dropped in a folder, once it has finished being written.
    Watch(Box<command::watch::WatchArgs>),
    /// The web app: library, upload, links, live progress, search, the JSON API.
    Serve(Box<command::serve::ServeArgs>),
    /// Find the videos where words were said (or are in a title, description or tags).
    Search {
        /// The words; every one must match (word forms count: "measure" finds "measured").
        words: String,
        /// At most this many hits.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print the hits as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Publish a video to YouTube, Vimeo or a Facebook Page (`publish ID --to …`), or
    /// whatever is due (`--due`): destinations whose wait is over, speaker emails and
    /// organiser notices a mail server could not take, links a locked sheet deferred.
    Publish(Box<command::publish::PublishArgs>),
    /// Make the movie of a period from image frames (a folder, or synced from FTP) over
    /// a basemap, run it through the pipeline and update the dataset's catalog entry.
    Timelapse(Box<command::timelapse::TimelapseArgs>),
    /// Get and keep a platform's credentials for publishing (YouTube, Vimeo, Facebook).
    Auth(command::auth::AuthArgs),
    /// Edit a dataset catalog (a JSON file, or s3://bucket/key).
    #[command(subcommand)]
    Catalog(command::catalog::CatalogCommand),
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

fn main() -> ExitCode {
    // Before any thread starts: the environment is the whole process's.
    vidpipe_whisper::set_ctranslate2_defaults();
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
            Command::Process(args) => command::process::run(&cli.out, args, interactive).await,
            Command::Publish(args) => command::publish::run(&cli.out, args).await,
            Command::Catalog(c) => command::catalog::run(c).await,
            Command::Auth(args) => command::auth::run(args).await,
            Command::Timelapse(args) => command::timelapse::run(&cli.out, args, interactive).await,
            Command::Watch(args) => command::watch::run(&cli.out, args),
            Command::Serve(args) => command::serve::run(&cli.out, args).await,
            Command::Search { words, limit, json } => {
                command::search::run(&cli.out, words, *limit, *json)
            }
            Command::List { json } => command::list::run(&cli.out, *json),
            Command::Show { id, json } => command::show::run(&cli.out, id, *json),
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
