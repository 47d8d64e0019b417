//! `vidpipe timelapse`'s command line: its options and how each value is read.

use std::path::PathBuf;

use chrono::NaiveDateTime;
use serde::Serialize;
use vidpipe_domain::catalog::iso8601_utc;
use vidpipe_domain::timelapse::{FrameTime, Period};
use vidpipe_local::EncoderSettings;
use vidpipe_timelapse::compose;

/// Movie sizes and rates that players expect.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Science On a Sphere: 4096×2048 equirectangular, 30 fps, H.264 yuv420p.
    Sos,
    /// The web: 1920×1080, 30 fps.
    Web,
}

impl Preset {
    pub(super) fn size(self) -> (u32, u32) {
        match self {
            Preset::Sos => (4096, 2048),
            Preset::Web => (1920, 1080),
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FillArg {
    None,
    Hold,
    Blank,
    Basemap,
}

#[derive(clap::Args)]
pub struct TimelapseArgs {
    /// The frames: a folder, or ftp://[user[:password]@]host[:port]/dir (ftps:// to
    /// insist on TLS). One PNG or JPEG per time step, the time in the name.
    #[arg(long)]
    pub(super) input: String,
    /// The movie's period, ending at --end: ISO 8601 (P1Y, P1M, P7D, PT6H) or 1Y, 1M,
    /// 1W, 1D. Months are calendar months.
    #[arg(long, value_parser = period)]
    pub(super) period: Period,
    /// The period's end, UTC (2024-02-26T19:00:00Z, or a date). Default: the newest
    /// frame.
    #[arg(long, value_parser = utc)]
    pub(super) end: Option<FrameTime>,
    /// Where frames from FTP are kept between runs. Default: OUT/frames/HOST/DIR.
    #[arg(long)]
    pub(super) frames: Option<PathBuf>,
    /// How times are written in the names (strftime, as %Y%j_%H). Default: the common
    /// forms (YYYYMMDD, YYYYMMDD_HHMM, YYYYMMDDHHMM, YYYY-MM-DDTHH_MM_SSZ).
    #[arg(long)]
    pub(super) pattern: Option<String>,
    /// The time between frames (ISO 8601, as PT6H or P7D). Default: the median step.
    #[arg(long, value_parser = cadence)]
    pub(super) cadence: Option<i64>,
    /// An image drawn below every frame (scaled to the movie's size); it shows where
    /// the frames are transparent.
    #[arg(long)]
    pub(super) basemap: Option<PathBuf>,
    /// Frames a second [default: 30].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=120))]
    pub(super) fps: Option<u32>,
    /// The movie's size, WxH: each frame scaled to fit and padded. Default: the
    /// frames' own size (then they must all have it).
    #[arg(long, value_parser = size)]
    pub(super) size: Option<(u32, u32)>,
    /// A player's size and rate (--size and --fps override it).
    #[arg(long, value_enum)]
    pub(super) preset: Option<Preset>,
    /// Draw each frame's date and time on it.
    #[arg(long)]
    pub(super) label: bool,
    /// What shows for a missing frame: nothing (the movie skips it), the frame before
    /// held, a black frame, or the basemap alone.
    #[arg(long, value_enum, default_value = "none")]
    pub(super) fill: FillArg,
    /// The movie's file name, without .mp4. Default: the input folder's name.
    #[arg(long)]
    pub(super) name: Option<String>,
    /// x264 constant rate factor (0–51, lower is better quality).
    #[arg(long, default_value_t = EncoderSettings::DEFAULT_CRF, value_parser = clap::value_parser!(u8).range(0..=51))]
    pub(super) crf: u8,
    /// x264 preset.
    #[arg(long, default_value = "medium")]
    pub(super) x264_preset: String,
    /// Make the movie only: no renditions, HLS, GIF or cover, no publishing.
    #[arg(long)]
    pub(super) movie_only: bool,
    /// The dataset catalog to update (a JSON file, or s3://bucket/key): the dataset's
    /// startTime and endTime become the first and last frames' times, its dataLink the
    /// published link.
    #[arg(long, requires = "dataset_id")]
    pub(super) catalog: Option<String>,
    /// The dataset's id in the catalog.
    #[arg(long, requires = "catalog")]
    pub(super) dataset_id: Option<String>,
    /// Where the run report (JSON) goes. Default: beside the movie, NAME.report.json.
    #[arg(long)]
    pub(super) report: Option<PathBuf>,
    /// A PEM file of CA certificates for an FTPS server's certificate (instead of the
    /// Mozilla roots).
    #[arg(long, env = "VIDPIPE_FTP_CA")]
    pub(super) ftp_ca: Option<PathBuf>,
    /// Print what would happen and touch nothing: the server is listed, nothing is
    /// downloaded, removed, encoded or written.
    #[arg(long)]
    pub(super) dry_run: bool,
}

fn period(text: &str) -> Result<Period, String> {
    Period::parse(text).map_err(|e| e.to_string())
}

fn cadence(text: &str) -> Result<i64, String> {
    match Period::parse(text).map_err(|e| e.to_string())? {
        Period { months: 0, seconds } => Ok(seconds),
        _ => Err(format!(
            "{text:?}: a cadence in months or years has no fixed length; give days (P30D)"
        )),
    }
}

fn utc(text: &str) -> Result<FrameTime, String> {
    let iso = iso8601_utc(text)?;
    NaiveDateTime::parse_from_str(&iso, "%Y-%m-%dT%H:%M:%SZ").map_err(|e| e.to_string())
}

fn size(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{text:?}: a size is WIDTHxHEIGHT, as 1920x1080");
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (
        w.trim().parse().map_err(|_| bad())?,
        h.trim().parse().map_err(|_| bad())?,
    );
    if w == 0 || h == 0 || w > compose::MAX_SIDE || h > compose::MAX_SIDE {
        return Err(format!(
            "{text:?}: each side must be 1 to {} pixels",
            compose::MAX_SIDE
        ));
    }
    Ok((w, h))
}
