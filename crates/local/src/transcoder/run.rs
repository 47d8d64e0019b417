//! Running ffmpeg with progress: its own `-progress` lines where it prints them, else
//! an estimate from the files it has written.

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{ChildStdout, Command};
use tracing::debug;
use vidpipe_domain::layout;
use vidpipe_domain::plan::Plan;
use vidpipe_domain::PortError;

use super::{Progress, ProgressSink};
use crate::probe::tool_message;

/// Seconds of the clip already encoded, judged by what ffmpeg has written: frame
/// captures (one per interval) and MP3 bytes (constant bitrate). ffmpeg's own
/// `-progress` says nothing until every output has written its header, and the GIF's
/// header waits for its palette, made at the end of the GIF's window; this fills the gap.
pub(super) fn progress_from_outputs_s(plan: &Plan, work: &Path) -> f64 {
    let from_frames = plan.frames.as_ref().map_or(0.0, |f| {
        let written = fs::read_dir(work.join(layout::FRAMES_DIR)).map_or(0, |d| d.count());
        written.saturating_sub(1) as f64 * f.interval_s
    });
    let from_mp3 = plan.mp3_bitrate_bps.map_or(0.0, |bps| {
        fs::metadata(work.join(layout::mp3())).map_or(0.0, |m| m.len() as f64 * 8.0 / bps as f64)
    });
    from_frames.max(from_mp3).min(plan.clip.duration_s())
}

/// One ffmpeg run: where it works, what it reads, and who hears its progress.
pub(super) struct FfmpegRun<'a> {
    pub work: &'a Path,
    pub input: &'a Path,
    /// Seconds of output the run makes, for progress.
    pub total_s: f64,
    /// While ffmpeg's own progress is silent, judge it from the files this plan's
    /// outputs write.
    pub estimate: Option<&'a Plan>,
    pub progress: Option<&'a ProgressSink>,
}

impl FfmpegRun<'_> {
    fn report(&self, done_s: f64, finished: bool) {
        if let Some(sink) = self.progress {
            sink(Progress {
                done_s: done_s.clamp(0.0, self.total_s),
                total_s: self.total_s,
                finished,
            });
        }
    }

    /// Runs ffmpeg with `args` in the work folder. `Ok(Err(message))` when ffmpeg
    /// fails, with its message (the input's path left out).
    ///
    /// # Errors
    /// [`PortError::Failed`] when ffmpeg cannot be started.
    pub async fn run(&self, args: &[OsString]) -> Result<Result<(), String>, PortError> {
        debug!(?args, "ffmpeg");
        let mut child = Command::new("ffmpeg")
            .args(args)
            .current_dir(self.work)
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
        if let Some(stdout) = child.stdout.take() {
            self.follow(stdout).await;
        }
        let status = child
            .wait()
            .await
            .map_err(|e| PortError::Failed(format!("ffmpeg: {e}")))?;
        let stderr = stderr_task.await.unwrap_or_default();
        if status.success() {
            return Ok(Ok(()));
        }
        Ok(Err(format!(
            "ffmpeg exited with {status}: {}",
            tool_message(&stderr, self.input, "no message")
        )))
    }

    /// Reads ffmpeg's `-progress` lines until it closes them, reporting progress.
    async fn follow(&self, stdout: ChildStdout) {
        let mut lines = BufReader::new(stdout).lines();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut ffmpeg_reports = false;
        loop {
            tokio::select! {
                line = lines.next_line() => {
                    let Ok(Some(line)) = line else { break };
                    if let Some(us) = line.strip_prefix("out_time_us=").and_then(|v| v.trim().parse::<f64>().ok()) {
                        ffmpeg_reports = true;
                        self.report(us / 1e6, false);
                    } else if line.trim() == "progress=end" {
                        self.report(self.total_s, true);
                    }
                }
                _ = tick.tick(), if !ffmpeg_reports && self.progress.is_some() => {
                    if let Some(plan) = self.estimate {
                        self.report(progress_from_outputs_s(plan, self.work), false);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use vidpipe_domain::layout;

    use super::*;
    use crate::transcoder::test_plan as plan;

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
        fs::write(work.path().join(layout::mp3()), vec![0u8; 16_000 * 10]).unwrap();
        assert_eq!(progress_from_outputs_s(&p, work.path()), 10.0);
        fs::write(work.path().join(layout::mp3()), vec![0u8; 16_000 * 100]).unwrap();
        assert_eq!(
            progress_from_outputs_s(&p, work.path()),
            40.0,
            "never past the clip"
        );
    }
}
