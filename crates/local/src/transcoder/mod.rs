//! The local transcoder: one ffmpeg process per job. Its filter graph decodes the
//! source once, fades it, and splits the decoded stream into every output: each MP4
//! rendition (teed into its HLS variant, so each rendition is encoded once), the MP3,
//! the palette-optimised GIF and the frame captures.
//!
//! By concern: [`args`] builds the command lines (pure functions of the plan),
//! `run.rs` runs ffmpeg with progress, `outputs.rs` reads the outputs back. Outputs are
//! written into a work folder inside the video's folder and moved into place only
//! when ffmpeg succeeds, so a failed redo loses nothing made before.

pub mod args;
mod outputs;
mod run;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tracing::info;
use vidpipe_domain::events::JobOutcome;
use vidpipe_domain::keys::{PlanKeys, VideoId};
use vidpipe_domain::layout;
use vidpipe_domain::ports::{PromoJob, Submission, TranscodeJob, Transcoder};
use vidpipe_domain::record::{OutputFile, OutputKind};
use vidpipe_domain::PortError;

pub use args::{ffmpeg_args, promo_args, ArgsExt};
use outputs::{describe_outputs, output_from, size_of};
use run::FfmpegRun;

use crate::probe::ffprobe_json;
use crate::store::{io_error, LocalStore};

/// x264 and audio settings for the local encode (MediaConvert has its own).
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSettings {
    /// x264 preset (`ultrafast` … `veryslow`). Default [`EncoderSettings::DEFAULT_PRESET`].
    pub preset: String,
    /// x264 constant rate factor, 0–51 (lower is better). Default
    /// [`EncoderSettings::DEFAULT_CRF`]. The plan's per-rendition max bitrate caps it
    /// (`-maxrate`, `-bufsize` = 2 × maxrate).
    pub crf: u8,
}

impl EncoderSettings {
    /// x264's `veryfast`: close to MediaConvert's speed per core at a modest size cost.
    pub const DEFAULT_PRESET: &'static str = "veryfast";
    /// x264's own default CRF.
    pub const DEFAULT_CRF: u8 = 23;
}

impl Default for EncoderSettings {
    fn default() -> Self {
        EncoderSettings {
            preset: Self::DEFAULT_PRESET.into(),
            crf: Self::DEFAULT_CRF,
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

/// ffmpeg on the local store.
pub struct FfmpegTranscoder<'a> {
    pub store: &'a LocalStore,
    pub settings: EncoderSettings,
    pub progress: Option<ProgressSink>,
}

/// A job's id and its work folder inside the video's folder: `local[-promo]-<id>-<ns>`
/// and `.work[-promo]-<ns>`.
fn job_and_work_dir(video_dir: &Path, id: &VideoId, kind: &str) -> (String, PathBuf) {
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    (
        format!("local{kind}-{id}-{stamp}"),
        video_dir.join(format!(".work{kind}-{stamp}")),
    )
}

impl FfmpegTranscoder<'_> {
    /// Runs `make` in a fresh work folder (with `subdirs` made) and removes the folder
    /// afterwards, whatever happened: the job as finished.
    async fn in_work_dir<F, Fut>(
        &self,
        at: &PlanKeys,
        kind: &str,
        subdirs: &[&str],
        make: F,
    ) -> Result<Submission, PortError>
    where
        F: FnOnce(PathBuf, PathBuf) -> Fut,
        Fut: std::future::Future<Output = Result<JobOutcome, PortError>>,
    {
        let video_dir = self.store.path_of(&at.media_dir())?;
        let (job_id, work) = job_and_work_dir(&video_dir, &at.id, kind);
        fs::create_dir_all(&work).map_err(|e| io_error(&work, e))?;
        for sub in subdirs {
            fs::create_dir_all(work.join(sub)).map_err(|e| io_error(&work, e))?;
        }
        let finished = make(work.clone(), video_dir).await;
        let _ = fs::remove_dir_all(&work);
        Ok(Submission::Finished {
            job_id,
            outcome: finished?,
        })
    }

    fn ffmpeg<'r>(&'r self, work: &'r Path, input: &'r Path, total_s: f64) -> FfmpegRun<'r> {
        FfmpegRun {
            work,
            input,
            total_s,
            estimate: None,
            progress: self.progress.as_ref(),
        }
    }
}

impl Transcoder for FfmpegTranscoder<'_> {
    async fn submit(&self, job: &TranscodeJob) -> Result<Submission, PortError> {
        let input = self.store.path_of(&job.source_key)?;
        let plan = &job.plan;
        let mut subdirs = Vec::new();
        if !plan.renditions.is_empty() {
            subdirs.push(layout::HLS_DIR);
        }
        if plan.frames.is_some() {
            subdirs.push(layout::FRAMES_DIR);
        }
        let started = Instant::now();
        // This plan's job replaces every earlier plan's (see `remove_superseded`).
        self.store.remove_superseded(&job.keys())?;
        self.in_work_dir(&job.keys(), "", &subdirs, |work, video_dir| async move {
            let args = ffmpeg_args(plan, &input, &self.settings);
            let run = FfmpegRun {
                estimate: Some(plan),
                ..self.ffmpeg(&work, &input, plan.clip.duration_s())
            };
            if let Err(message) = run.run(&args).await? {
                return Ok(JobOutcome::Error { code: None, message });
            }
            info!(video_id = %job.video_id, seconds = started.elapsed().as_secs_f64(), "ffmpeg finished");
            let outputs = describe_outputs(job, &work).await?;
            self.move_and_announce(&work, &video_dir, &outputs)?;
            Ok(JobOutcome::Complete { outputs })
        })
        .await
    }

    async fn submit_promo(&self, job: &PromoJob) -> Result<Submission, PortError> {
        let input = self.store.path_of(&job.source_key)?;
        let total_s: f64 = job.segments.iter().map(|seg| seg.end_s - seg.start_s).sum();
        self.in_work_dir(&job.keys(), "-promo", &[], |work, video_dir| async move {
            if job.segments.is_empty() {
                let message = "no promo segments".to_string();
                return Ok(JobOutcome::Error {
                    code: None,
                    message,
                });
            }
            let args = promo_args(job, &input, &self.settings);
            if let Err(message) = self.ffmpeg(&work, &input, total_s).run(&args).await? {
                return Ok(JobOutcome::Error {
                    code: None,
                    message,
                });
            }
            let mut made = vec![(layout::promo(), job.keys().promo(), None)];
            if job.vertical.is_some() {
                let vertical = Some("vertical".to_string());
                made.push((
                    layout::promo_vertical(),
                    job.keys().promo_vertical(),
                    vertical,
                ));
            }
            let mut outputs = Vec::new();
            for (file, key, name) in made {
                let path = work.join(file);
                let probe = ffprobe_json(&path, &[]).await?;
                outputs.push(output_from(
                    key,
                    OutputKind::Promo,
                    name,
                    &probe,
                    size_of(&path)?,
                ));
            }
            self.move_and_announce(&work, &video_dir, &outputs)?;
            Ok(JobOutcome::Complete { outputs })
        })
        .await
    }
}

impl FfmpegTranscoder<'_> {
    /// Moves the outputs into place and announces each (but the HLS variants, whose
    /// playlists no stage reads) as S3 would.
    fn move_and_announce(
        &self,
        work: &Path,
        video_dir: &Path,
        outputs: &[OutputFile],
    ) -> Result<(), PortError> {
        move_into_place(work, video_dir)?;
        for o in outputs.iter().filter(|o| o.kind != OutputKind::HlsVariant) {
            self.store.announce(&o.key, o.bytes);
        }
        Ok(())
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

/// A 1280×720 source of 60 s at 30 fps, clipped from `start_s` (or 0) to 40 s.
#[cfg(test)]
fn test_plan(audio: bool, start_s: Option<f64>) -> vidpipe_domain::plan::Plan {
    use vidpipe_domain::plan::{make_plan, ClipRequest, PlanConfig};
    let media = vidpipe_domain::fakes::media_info(Some((1280, 720)), 30.0, 60.0, audio);
    let clip = ClipRequest {
        start_s,
        end_s: Some(40.0),
    };
    make_plan(&media, clip, &PlanConfig::default()).unwrap()
}
