//! The local transcoder: one ffmpeg process per job. Its filter graph decodes the
//! source once, fades it, and splits the decoded stream into every output: each MP4
//! rendition (teed into its HLS variant, so each rendition is encoded once), the MP3,
//! the palette-optimised GIF and the frame captures.
//!
//! Outputs are written into a work folder inside the video's folder and moved into
//! place only when ffmpeg succeeds, so a failed redo loses nothing made before.

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tracing::{debug, info};
use vidpipe_domain::keys;
use vidpipe_domain::plan::Plan;
use vidpipe_domain::ports::{JobOutcome, PromoJob, Submission, TranscodeJob, Transcoder};
use vidpipe_domain::record::{OutputFile, OutputKind};
use vidpipe_domain::PortError;

use crate::probe::{ffprobe_json, file_arg, ratio, tool_message, FfprobeOutput};
use crate::store::{io_error, LocalStore};

/// x264 and audio settings for the local encode (MediaConvert has its own).
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSettings {
    /// x264 preset (`ultrafast` … `veryslow`). Default `veryfast`.
    pub preset: String,
    /// x264 constant rate factor, 0–51 (lower is better). Default 23. The plan's
    /// per-rendition max bitrate caps it (`-maxrate`, `-bufsize` = 2 × maxrate).
    pub crf: u8,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        EncoderSettings {
            preset: "veryfast".into(),
            crf: 23,
        }
    }
}

/// Where a transcode is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Seconds of the clip encoded so far.
    pub done_s: f64,
    /// The clip's length in seconds.
    pub total_s: f64,
    pub finished: bool,
}

pub type ProgressSink = Arc<dyn Fn(Progress) + Send + Sync>;

/// H.264 High profile, 4:2:0, constant quality capped at `maxrate_bps` (the
/// rendition's peak; VBV buffer twice that).
fn x264_args(settings: &EncoderSettings, maxrate_bps: u64) -> Vec<OsString> {
    [
        "-c:v",
        "libx264",
        "-preset",
        &settings.preset,
        "-crf",
        &settings.crf.to_string(),
        "-maxrate",
        &maxrate_bps.to_string(),
        "-bufsize",
        &(2 * maxrate_bps).to_string(),
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
    ]
    .map(s)
    .to_vec()
}

/// Relative paths inside a job's work folder, equal to the key below `media/<id>/`.
pub mod paths {
    pub fn rendition(name: &str) -> String {
        format!("video_{name}.mp4")
    }
    pub fn hls_variant(name: &str) -> String {
        format!("hls/video_{name}.m3u8")
    }
    pub fn hls_segments(name: &str) -> String {
        format!("hls/video_{name}_%05d.ts")
    }
    pub const HLS_MASTER: &str = "hls/video.m3u8";
    pub const MP3: &str = "audio.mp3";
    pub const GIF: &str = "preview.gif";
    pub const FRAMES: &str = "frames/frame.%07d.jpg";
}

fn s(text: impl Into<String>) -> OsString {
    OsString::from(text.into())
}

/// `fade` (picture) or `afade` (sound) in from the start over `in_s`, and out over
/// `out_s` from `out_start_s`: `fade=t=in:st=0:d=3.000,fade=t=out:st=57.000:d=3.000`.
fn fade_filters(kind: &str, in_s: f64, out_start_s: f64, out_s: f64) -> String {
    format!(
        "{kind}=t=in:st=0:d={},{kind}=t=out:st={}:d={}",
        secs(in_s),
        secs(out_start_s),
        secs(out_s)
    )
}

/// Seconds as ffmpeg options take them, to the millisecond.
fn secs(x: f64) -> String {
    format!("{:.3}", x.max(0.0))
}

/// What every ffmpeg run here starts with: quiet but for errors, progress on stdout.
fn base_args() -> Vec<OsString> {
    [
        "-hide_banner",
        "-nostdin",
        "-y",
        "-v",
        "error",
        "-progress",
        "pipe:1",
        "-nostats",
    ]
    .map(s)
    .to_vec()
}

/// The source's frame rate, or 25 where the prober found none.
fn frame_rate(plan: &Plan) -> f64 {
    if plan.source_fps > 0.0 {
        plan.source_fps
    } else {
        25.0
    }
}

/// The filter graph and output options for one job; outputs are relative to the work
/// folder ffmpeg runs in (so no output path needs escaping inside the tee muxer).
pub fn ffmpeg_args(plan: &Plan, input: &Path, settings: &EncoderSettings) -> Vec<OsString> {
    let clip_s = plan.clip.duration_s();
    let mut args = base_args();
    if plan.clip.start_s > 0.0 {
        args.extend([s("-ss"), s(secs(plan.clip.start_s))]);
    }
    args.extend([s("-t"), s(secs(clip_s)), s("-i"), file_arg(input)]);

    let mut graph: Vec<String> = Vec::new();
    let audio = plan.mp3_bitrate_bps.is_some();
    let f = &plan.fades;
    let video_branches =
        plan.renditions.len() + plan.gif.is_some() as usize + plan.frames.is_some() as usize;
    if video_branches > 0 {
        let mut chain = String::from("[0:v:0]");
        if f.fade_in_s > 0.0 {
            chain += &fade_filters("fade", f.fade_in_s, f.fade_out_start_s, f.fade_out_s);
            chain.push(',');
        }
        chain += &format!("format=yuv420p,split={video_branches}");
        for i in 0..video_branches {
            chain += &format!("[v{i}]");
        }
        graph.push(chain);
    }
    let audio_branches = if audio { plan.renditions.len() + 1 } else { 0 };
    if audio {
        let mut chain = String::from("[0:a:0]aformat=channel_layouts=stereo|mono");
        if f.fade_in_s > 0.0 {
            chain.push(',');
            chain += &fade_filters("afade", f.fade_in_s, f.fade_out_start_s, f.fade_out_s);
        }
        chain += &format!(",asplit={audio_branches}");
        for i in 0..audio_branches {
            chain += &format!("[a{i}]");
        }
        graph.push(chain);
    }
    let mut branch = 0;
    for (i, r) in plan.renditions.iter().enumerate() {
        graph.push(format!(
            "[v{branch}]scale={}:{}:flags=bicubic,setsar=1[r{i}]",
            r.width_px, r.height_px
        ));
        branch += 1;
    }
    if let Some(g) = &plan.gif {
        graph.push(format!(
            "[v{branch}]trim=start={}:duration={},setpts=PTS-STARTPTS,fps={},scale={}:{}:flags=lanczos,split[g0][g1];\
             [g0]palettegen=stats_mode=diff[gp];[g1][gp]paletteuse=dither=bayer:bayer_scale=5:diff_mode=rectangle[gif]",
            secs(g.start_s), secs(g.duration_s), g.fps, g.width_px, g.height_px
        ));
        branch += 1;
    }
    let fps = frame_rate(plan);
    if let Some(fr) = &plan.frames {
        // Every K-th decoded frame, so capture k is the frame at exactly k × interval
        // (the fps filter would pick one from around the middle of each interval).
        let every = (fr.interval_s * fps).round().max(1.0) as u64;
        graph.push(format!(
            "[v{branch}]select='not(mod(n\\,{every}))',scale={}:{}:flags=bicubic[frames]",
            fr.width_px, fr.height_px
        ));
    }
    args.extend([s("-filter_complex"), s(graph.join(";"))]);

    let gop = (fps * 2.0).round().max(1.0) as u32;
    for (i, r) in plan.renditions.iter().enumerate() {
        let maxrate = r.video_max_bitrate_bps;
        args.extend([s("-map"), s(format!("[r{i}]"))]);
        if audio {
            args.extend([s("-map"), s(format!("[a{i}]"))]);
        }
        args.extend(x264_args(settings, maxrate));
        args.extend(
            [
                "-g",
                &gop.to_string(),
                "-keyint_min",
                &gop.to_string(),
                "-sc_threshold",
                "0",
            ]
            .map(s),
        );
        if let Some(abr) = r.audio_bitrate_bps {
            args.extend(["-c:a", "aac", "-b:a", &abr.to_string()].map(s));
        }
        let hls_s = plan.hls_segment_s.unwrap_or(6);
        args.extend([
            s("-flags"),
            s("+global_header"),
            s("-f"),
            s("tee"),
            s(format!(
                "[f=mp4:movflags=+faststart]{}|[f=hls:hls_time={hls_s}:hls_playlist_type=vod:hls_segment_filename={}]{}",
                paths::rendition(&r.name),
                paths::hls_segments(&r.name),
                paths::hls_variant(&r.name)
            )),
        ]);
    }
    if let Some(bps) = plan.mp3_bitrate_bps {
        let last = audio_branches - 1;
        args.extend([s("-map"), s(format!("[a{last}]"))]);
        args.extend(
            [
                "-c:a",
                "libmp3lame",
                "-b:a",
                &bps.to_string(),
                "-ar",
                "44100",
                paths::MP3,
            ]
            .map(s),
        );
    }
    if plan.gif.is_some() {
        args.extend(["-map", "[gif]", "-f", "gif", "-loop", "0", paths::GIF].map(s));
    }
    if let Some(fr) = &plan.frames {
        args.extend(
            [
                "-map",
                "[frames]",
                "-fps_mode",
                "passthrough",
                "-frames:v",
                &fr.count.to_string(),
                "-q:v",
                "2",
                "-start_number",
                "0",
                paths::FRAMES,
            ]
            .map(s),
        );
    }
    args
}

/// The promo clip's file in its work folder.
pub const PROMO_FILE: &str = "promo.mp4";

/// One ffmpeg run for the promo clip: one input per segment (each seeks to its in
/// point, so only the segments are decoded), each faded in and out over
/// `job.fade_s` (at most half the segment), scaled to the largest rendition, then
/// concatenated; H.264 + AAC, `+faststart`.
pub fn promo_args(job: &PromoJob, input: &Path, settings: &EncoderSettings) -> Vec<OsString> {
    let plan = &job.plan;
    let audio = plan.mp3_bitrate_bps.is_some();
    let fps = frame_rate(plan);
    let top = plan.renditions.first();
    let (w, h) = top.map_or((640, 360), |r| (r.width_px, r.height_px));
    let maxrate = top.map_or(2_000_000, |r| r.video_max_bitrate_bps);
    let mut args = base_args();
    let mut graph = Vec::new();
    let mut joins = String::new();
    for (i, seg) in job.segments.iter().enumerate() {
        let dur = (seg.end_s - seg.start_s).max(0.04);
        let fade = job.fade_s.min(dur / 2.0);
        args.extend([
            s("-ss"),
            s(secs(plan.clip.start_s + seg.start_s)),
            s("-t"),
            s(secs(dur)),
            s("-i"),
            file_arg(input),
        ]);
        graph.push(format!(
            "[{i}:v:0]scale={w}:{h}:flags=bicubic,setsar=1,fps={fps},format=yuv420p,{}[v{i}]",
            fade_filters("fade", fade, dur - fade, fade)
        ));
        joins += &format!("[v{i}]");
        if audio {
            graph.push(format!(
                "[{i}:a:0]aformat=sample_rates=48000:channel_layouts=stereo,{}[a{i}]",
                fade_filters("afade", fade, dur - fade, fade)
            ));
            joins += &format!("[a{i}]");
        }
    }
    graph.push(format!(
        "{joins}concat=n={}:v=1:a={}[v]{}",
        job.segments.len(),
        u8::from(audio),
        if audio { "[a]" } else { "" }
    ));
    args.extend([
        s("-filter_complex"),
        s(graph.join(";")),
        s("-map"),
        s("[v]"),
    ]);
    if audio {
        args.extend(["-map", "[a]", "-c:a", "aac", "-b:a", "128000"].map(s));
    }
    args.extend(x264_args(settings, maxrate));
    args.extend(["-movflags", "+faststart", PROMO_FILE].map(s));
    args
}

/// ffmpeg on the local store.
pub struct FfmpegTranscoder<'a> {
    pub store: &'a LocalStore,
    pub settings: EncoderSettings,
    pub progress: Option<ProgressSink>,
}

/// Seconds of the clip already encoded, judged by what ffmpeg has written: frame
/// captures (one per interval) and MP3 bytes (constant bitrate). ffmpeg's own
/// `-progress` says nothing until every output has written its header, and the GIF's
/// header waits for its palette, made at the end of the GIF's window; this fills the gap.
fn progress_from_outputs_s(plan: &Plan, work: &Path) -> f64 {
    let from_frames = plan.frames.as_ref().map_or(0.0, |f| {
        let written = fs::read_dir(work.join("frames")).map_or(0, |d| d.count());
        written.saturating_sub(1) as f64 * f.interval_s
    });
    let from_mp3 = plan.mp3_bitrate_bps.map_or(0.0, |bps| {
        fs::metadata(work.join(paths::MP3)).map_or(0.0, |m| m.len() as f64 * 8.0 / bps as f64)
    });
    from_frames.max(from_mp3).min(plan.clip.duration_s())
}

impl FfmpegTranscoder<'_> {
    /// Runs ffmpeg with `args` in `work`, reporting progress over `total_s` seconds;
    /// while ffmpeg's own progress is silent, `estimate` (if any) judges it from the
    /// files written. `Ok(Err(message))` when ffmpeg fails.
    async fn run_ffmpeg(
        &self,
        args: &[OsString],
        work: &Path,
        input: &Path,
        total_s: f64,
        estimate: Option<&Plan>,
    ) -> Result<Result<(), String>, PortError> {
        debug!(?args, "ffmpeg");
        let mut child = Command::new("ffmpeg")
            .args(args)
            .current_dir(work)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| PortError::Failed(format!("cannot run ffmpeg (install ffmpeg): {e}")))?;
        let mut stderr = child.stderr.take();
        let stderr_task = tokio::spawn(async move {
            let mut buf = Vec::new();
            if let Some(err) = stderr.as_mut() {
                let _ = err.read_to_end(&mut buf).await;
            }
            buf
        });
        let report = |done_s: f64, finished: bool| {
            if let Some(sink) = &self.progress {
                sink(Progress {
                    done_s: done_s.clamp(0.0, total_s),
                    total_s,
                    finished,
                });
            }
        };
        if let Some(stdout) = child.stdout.take() {
            let mut lines = BufReader::new(stdout).lines();
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
            let mut ffmpeg_reports = false;
            loop {
                tokio::select! {
                    line = lines.next_line() => {
                        let Ok(Some(line)) = line else { break };
                        if let Some(us) = line.strip_prefix("out_time_us=").and_then(|v| v.trim().parse::<f64>().ok()) {
                            ffmpeg_reports = true;
                            report(us / 1e6, false);
                        } else if line.trim() == "progress=end" {
                            report(total_s, true);
                        }
                    }
                    _ = tick.tick(), if !ffmpeg_reports && self.progress.is_some() => {
                        if let Some(plan) = estimate {
                            report(progress_from_outputs_s(plan, work), false);
                        }
                    }
                }
            }
        }
        let status = child
            .wait()
            .await
            .map_err(|e| PortError::Failed(format!("ffmpeg: {e}")))?;
        let stderr = stderr_task.await.unwrap_or_default();
        if status.success() {
            Ok(Ok(()))
        } else {
            Ok(Err(format!(
                "ffmpeg exited with {status}: {}",
                tool_message(&stderr, input, "no message")
            )))
        }
    }
}

impl Transcoder for FfmpegTranscoder<'_> {
    async fn submit(&self, job: &TranscodeJob) -> Result<Submission, PortError> {
        let input = self.store.path_of(&job.source_key)?;
        let video_dir = self.store.video_dir(&job.video_id);
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let job_id = format!("local-{}-{stamp}", job.video_id);
        let work = video_dir.join(format!(".work-{stamp}"));
        fs::create_dir_all(&work).map_err(|e| io_error(&work, e))?;
        for (sub, wanted) in [
            ("hls", !job.plan.renditions.is_empty()),
            ("frames", job.plan.frames.is_some()),
        ] {
            if wanted {
                fs::create_dir_all(work.join(sub)).map_err(|e| io_error(&work, e))?;
            }
        }
        let started = Instant::now();
        let finished = async {
            let args = ffmpeg_args(&job.plan, &input, &self.settings);
            match self.run_ffmpeg(&args, &work, &input, job.plan.clip.duration_s(), Some(&job.plan)).await? {
                Ok(()) => {
                    info!(video_id = %job.video_id, seconds = started.elapsed().as_secs_f64(), "ffmpeg finished");
                    let outputs = describe_outputs(job, &work).await?;
                    move_into_place(&work, &video_dir)?;
                    for o in outputs.iter().filter(|o| o.kind != OutputKind::HlsVariant) {
                        self.store.announce(&o.key, o.bytes);
                    }
                    Ok(JobOutcome::Complete { outputs })
                }
                Err(message) => Ok(JobOutcome::Error { code: None, message }),
            }
        }
        .await;
        let _ = fs::remove_dir_all(&work);
        Ok(Submission::Finished {
            job_id,
            outcome: finished?,
        })
    }

    async fn submit_promo(&self, job: &PromoJob) -> Result<Submission, PortError> {
        let input = self.store.path_of(&job.source_key)?;
        let video_dir = self.store.video_dir(&job.video_id);
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let job_id = format!("local-promo-{}-{stamp}", job.video_id);
        let work = video_dir.join(format!(".work-promo-{stamp}"));
        fs::create_dir_all(&work).map_err(|e| io_error(&work, e))?;
        let total_s: f64 = job.segments.iter().map(|seg| seg.end_s - seg.start_s).sum();
        let finished = async {
            if job.segments.is_empty() {
                return Ok(JobOutcome::Error {
                    code: None,
                    message: "no promo segments".into(),
                });
            }
            let args = promo_args(job, &input, &self.settings);
            match self.run_ffmpeg(&args, &work, &input, total_s, None).await? {
                Ok(()) => {
                    let path = work.join(PROMO_FILE);
                    let probe = ffprobe_json(&path, &[]).await?;
                    let file = output_from(
                        keys::promo(&job.video_id),
                        OutputKind::Promo,
                        None,
                        &probe,
                        size_of(&path)?,
                    );
                    move_into_place(&work, &video_dir)?;
                    self.store.announce(&file.key, file.bytes);
                    Ok(JobOutcome::Complete {
                        outputs: vec![file],
                    })
                }
                Err(message) => Ok(JobOutcome::Error {
                    code: None,
                    message,
                }),
            }
        }
        .await;
        let _ = fs::remove_dir_all(&work);
        Ok(Submission::Finished {
            job_id,
            outcome: finished?,
        })
    }
}

/// Moves every output from the work folder over the video's folder; `hls/` and
/// `frames/` are replaced whole, so no stale segment or capture survives a redo.
fn move_into_place(work: &Path, video_dir: &Path) -> Result<(), PortError> {
    for entry in fs::read_dir(work).map_err(|e| io_error(work, e))? {
        let entry = entry.map_err(|e| io_error(work, e))?;
        let dest = video_dir.join(entry.file_name());
        if entry.path().is_dir() && dest.exists() {
            fs::remove_dir_all(&dest).map_err(|e| io_error(&dest, e))?;
        }
        fs::rename(entry.path(), &dest).map_err(|e| io_error(&dest, e))?;
    }
    Ok(())
}

/// `avc1.PPCCLL` from ffprobe's profile name and level (RFC 6381 §3.3).
fn avc1_codec(profile: Option<&str>, level: Option<i64>) -> String {
    let (idc, constraints) = match profile.unwrap_or("High") {
        "Baseline" => (0x42, 0x00),
        "Constrained Baseline" => (0x42, 0xE0),
        "Main" => (0x4D, 0x40),
        _ => (0x64, 0x00),
    };
    format!(
        "avc1.{idc:02X}{constraints:02X}{:02X}",
        level.unwrap_or(40).clamp(0, 255)
    )
}

/// The HLS master playlist (RFC 8216 §4.3.4.2): one variant per rendition, BANDWIDTH
/// the peak (the rendition's maxrate plus its audio), AVERAGE-BANDWIDTH as measured.
fn master_playlist(
    plan: &Plan,
    renditions: &[(&OutputFile, &FfprobeOutput)],
) -> Result<Vec<u8>, PortError> {
    let mut variants = Vec::new();
    for (spec, (file, probe)) in plan.renditions.iter().zip(renditions) {
        let video = probe
            .streams
            .iter()
            .find(|s| s.codec_type.as_deref() == Some("video"));
        let mut codecs = avc1_codec(
            video.and_then(|v| v.profile.as_deref()),
            video.and_then(|v| v.level),
        );
        if spec.audio_bitrate_bps.is_some() {
            codecs += ",mp4a.40.2";
        }
        variants.push(m3u8_rs::VariantStream {
            uri: paths::hls_variant(&spec.name)
                .trim_start_matches("hls/")
                .to_string(),
            bandwidth: spec.video_max_bitrate_bps + spec.audio_bitrate_bps.unwrap_or(0),
            average_bandwidth: file.bitrate_bps,
            codecs: Some(codecs),
            resolution: Some(m3u8_rs::Resolution {
                width: spec.width_px as u64,
                height: spec.height_px as u64,
            }),
            frame_rate: video
                .map(|v| ratio(v.avg_frame_rate.as_deref()))
                .filter(|f| *f > 0.0),
            ..Default::default()
        });
    }
    let master = m3u8_rs::MasterPlaylist {
        version: Some(3),
        variants,
        independent_segments: true,
        ..Default::default()
    };
    let mut text = Vec::new();
    master
        .write_to(&mut text)
        .map_err(|e| PortError::Failed(format!("master playlist: {e}")))?;
    Ok(text)
}

fn output_from(
    key: String,
    kind: OutputKind,
    name: Option<String>,
    probe: &FfprobeOutput,
    bytes: u64,
) -> OutputFile {
    let codec = probe
        .streams
        .iter()
        .map(|s| s.codec_name.as_str())
        .collect::<Vec<_>>()
        .join("+");
    let video = probe
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video"));
    let format = probe.format.as_ref();
    OutputFile {
        key,
        kind,
        name,
        codec,
        width_px: video.and_then(|v| v.width),
        height_px: video.and_then(|v| v.height),
        bitrate_bps: format.and_then(|f| f.bit_rate.as_deref()?.parse().ok()),
        duration_s: format.and_then(|f| f.duration.as_deref()?.parse().ok()),
        bytes,
    }
}

fn size_of(path: &Path) -> Result<u64, PortError> {
    fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| io_error(path, e))
}

/// Measures every output in the work folder (one ffprobe each), writes the HLS master
/// playlist from the same measures, and lists the outputs in a fixed order:
/// renditions, HLS, MP3, GIF, frame captures. Keys are the final ones.
async fn describe_outputs(job: &TranscodeJob, work: &Path) -> Result<Vec<OutputFile>, PortError> {
    let id = &job.video_id;
    let plan = &job.plan;
    let probed = |relative: String, key: String, kind: OutputKind, name: Option<String>| async move {
        let path = work.join(&relative);
        let probe = ffprobe_json(&path, &[])
            .await
            .map_err(|e| PortError::Failed(format!("{key}: {e}")))?;
        let file = output_from(key, kind, name, &probe, size_of(&path)?);
        Ok::<_, PortError>((file, probe))
    };
    let mut renditions = Vec::new();
    for r in &plan.renditions {
        renditions.push(
            probed(
                paths::rendition(&r.name),
                keys::rendition(id, &r.name),
                OutputKind::Rendition,
                Some(r.name.clone()),
            )
            .await?,
        );
    }
    let mut out: Vec<OutputFile> = renditions.iter().map(|(f, _)| f.clone()).collect();
    if !plan.renditions.is_empty() {
        let pairs: Vec<_> = renditions.iter().map(|(f, p)| (f, p)).collect();
        let text = master_playlist(plan, &pairs)?;
        let master_path = work.join(paths::HLS_MASTER);
        fs::write(&master_path, &text).map_err(|e| io_error(&master_path, e))?;
        out.push(OutputFile {
            key: keys::hls_master(id),
            kind: OutputKind::HlsMaster,
            name: None,
            codec: "hls".into(),
            width_px: None,
            height_px: None,
            bitrate_bps: None,
            duration_s: Some(plan.clip.duration_s()),
            bytes: text.len() as u64,
        });
        for r in &plan.renditions {
            let playlist = work.join(paths::hls_variant(&r.name));
            let listing = fs::read_to_string(&playlist).map_err(|e| io_error(&playlist, e))?;
            let mut bytes = listing.len() as u64;
            for segment in listing
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            {
                bytes += size_of(&playlist.with_file_name(segment.trim()))?;
            }
            out.push(OutputFile {
                key: keys::hls_variant(id, &r.name),
                kind: OutputKind::HlsVariant,
                name: Some(r.name.clone()),
                codec: "h264+aac/ts".into(),
                width_px: Some(r.width_px),
                height_px: Some(r.height_px),
                bitrate_bps: None,
                duration_s: Some(plan.clip.duration_s()),
                bytes,
            });
        }
    }
    if plan.mp3_bitrate_bps.is_some() {
        out.push(
            probed(
                paths::MP3.into(),
                keys::audio_mp3(id),
                OutputKind::Mp3,
                None,
            )
            .await?
            .0,
        );
    }
    if plan.gif.is_some() {
        out.push(
            probed(
                paths::GIF.into(),
                keys::preview_gif(id),
                OutputKind::Gif,
                None,
            )
            .await?
            .0,
        );
    }
    if let Some(fr) = &plan.frames {
        for i in 0..fr.count {
            let key = keys::frame_capture(id, i);
            let relative = key.trim_start_matches(&keys::media_dir(id)).to_string();
            let Ok(bytes) = size_of(&work.join(relative)) else {
                break;
            };
            out.push(OutputFile {
                key,
                kind: OutputKind::FrameCapture,
                name: None,
                codec: "mjpeg".into(),
                width_px: Some(fr.width_px),
                height_px: Some(fr.height_px),
                bitrate_bps: None,
                duration_s: None,
                bytes,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vidpipe_domain::plan::{make_plan, ClipRequest, PlanConfig};

    fn plan(audio: bool, start_s: Option<f64>) -> Plan {
        let media = vidpipe_domain::fakes::media_info(Some((1280, 720)), 30.0, 60.0, audio);
        make_plan(
            &media,
            ClipRequest {
                start_s,
                end_s: Some(40.0),
            },
            &PlanConfig::default(),
        )
        .unwrap()
    }

    fn joined(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn one_graph_splits_the_decoded_stream_into_every_output() {
        let args = joined(&ffmpeg_args(
            &plan(true, Some(10.0)),
            Path::new("/in/a b.mp4"),
            &EncoderSettings::default(),
        ));
        assert!(
            args.contains("-ss 10.000 -t 30.000 -i file:/in/a b.mp4"),
            "{args}"
        );
        // 3 renditions + GIF + frames from one video split; 3 renditions + MP3 from one audio split.
        assert!(args.contains("split=5[v0][v1][v2][v3][v4]"), "{args}");
        assert!(args.contains("asplit=4[a0][a1][a2][a3]"), "{args}");
        assert!(
            args.contains("fade=t=in:st=0:d=3.000,fade=t=out:st=27.000:d=3.000"),
            "{args}"
        );
        assert!(
            args.contains("afade=t=in:st=0:d=3.000,afade=t=out:st=27.000:d=3.000"),
            "{args}"
        );
        assert!(args.contains("scale=854:480"), "{args}");
        assert!(
            args.contains("[f=mp4:movflags=+faststart]video_720p.mp4|[f=hls:hls_time=6"),
            "{args}"
        );
        assert!(args.contains("-g 60 -keyint_min 60"), "{args}");
        assert!(args.contains("-map [a3] -c:a libmp3lame"), "{args}");
        assert!(args.contains("trim=start="), "{args}");
        assert!(args.contains("select='not(mod(n\\,30))'"), "{args}");
        assert!(
            args.contains("-fps_mode passthrough -frames:v 30"),
            "{args}"
        );
        assert_eq!(args.matches("-i ").count(), 1, "one input, one decode");
    }

    #[test]
    fn the_promo_decodes_only_its_segments_and_fades_every_join() {
        use vidpipe_domain::understanding::PromoSegment;
        let p = plan(true, Some(10.0)); // clip from 10 s, top rendition 1280x720
        let job = PromoJob {
            video_id: vidpipe_domain::VideoId::parse("0123456789abcdef").unwrap(),
            source_key: "uploads/a.mp4".into(),
            plan: p,
            segments: vec![
                PromoSegment {
                    start_s: 4.0,
                    end_s: 9.5,
                    text: "a".into(),
                },
                PromoSegment {
                    start_s: 20.0,
                    end_s: 20.4,
                    text: "b".into(),
                },
            ],
            fade_s: 0.3,
        };
        let args = joined(&promo_args(
            &job,
            Path::new("/in/a.mp4"),
            &EncoderSettings::default(),
        ));
        assert!(
            args.contains("-ss 14.000 -t 5.500 -i file:/in/a.mp4"),
            "{args}"
        );
        assert!(
            args.contains("-ss 30.000 -t 0.400 -i file:/in/a.mp4"),
            "{args}"
        );
        assert!(
            args.contains("fade=t=in:st=0:d=0.300,fade=t=out:st=5.200:d=0.300"),
            "{args}"
        );
        assert!(
            args.contains("fade=t=in:st=0:d=0.200,fade=t=out:st=0.200:d=0.200"),
            "a short segment's fades are halved: {args}"
        );
        assert!(
            args.contains("[v0][a0][v1][a1]concat=n=2:v=1:a=1[v][a]"),
            "{args}"
        );
        assert!(
            args.contains("scale=1280:720") && args.ends_with("-movflags +faststart promo.mp4"),
            "{args}"
        );
    }

    #[test]
    fn no_audio_means_no_audio_graph_and_no_mp3() {
        let args = joined(&ffmpeg_args(
            &plan(false, None),
            Path::new("/in/x.mp4"),
            &EncoderSettings::default(),
        ));
        assert!(
            !args.contains("asplit") && !args.contains("libmp3lame") && !args.contains("-c:a"),
            "{args}"
        );
        assert!(!args.contains("-ss "), "{args}");
    }

    #[test]
    fn progress_is_estimated_from_captures_and_mp3_bytes_written() {
        let p = plan(true, None); // 40 s clip: captures every 2 s, MP3 at 128 kb/s
        let work = tempfile::tempdir().unwrap();
        assert_eq!(progress_from_outputs_s(&p, work.path()), 0.0);
        fs::create_dir_all(work.path().join("frames")).unwrap();
        for i in 0..4 {
            fs::write(work.path().join(format!("frames/frame.{i:07}.jpg")), b"j").unwrap();
        }
        assert_eq!(progress_from_outputs_s(&p, work.path()), 6.0);
        fs::write(work.path().join(paths::MP3), vec![0u8; 16_000 * 10]).unwrap();
        assert_eq!(progress_from_outputs_s(&p, work.path()), 10.0);
        fs::write(work.path().join(paths::MP3), vec![0u8; 16_000 * 100]).unwrap();
        assert_eq!(
            progress_from_outputs_s(&p, work.path()),
            40.0,
            "never past the clip"
        );
    }

    #[test]
    fn avc1_codec_strings_follow_rfc_6381() {
        assert_eq!(avc1_codec(Some("High"), Some(40)), "avc1.640028");
        assert_eq!(avc1_codec(Some("Main"), Some(31)), "avc1.4D401F");
        assert_eq!(
            avc1_codec(Some("Constrained Baseline"), Some(30)),
            "avc1.42E01E"
        );
    }
}
