//! A time-lapse movie's encode on this machine: a Y4M stream piped into ffmpeg's
//! libx264 (yuv420p, `+faststart` so players start before the whole file is read),
//! written to a hidden temporary name and moved into place only when ffmpeg exits
//! with success: a failed encode never replaces last week's movie.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use thiserror::Error;

use crate::EncoderSettings;

#[derive(Debug, Error)]
pub enum MovieEncodeError {
    #[error("cannot run ffmpeg: {0} (install it: apt-get install ffmpeg)")]
    NoFfmpeg(std::io::Error),
    #[error("{0}")]
    Frames(String),
    #[error("ffmpeg failed ({status}): {stderr}")]
    Ffmpeg { status: String, stderr: String },
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
}

/// The hidden name `out` is encoded to before it is moved into place.
pub fn temporary_name(out: &Path) -> PathBuf {
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    out.with_file_name(format!(".{name}.part"))
}

/// Encodes into `out` (MP4, H.264) the Y4M stream that `frames` writes to ffmpeg's
/// standard input; returns what `frames` returned (the frame count).
///
/// # Errors
/// ffmpeg missing or failing (its last lines of output), `frames` failing (its error,
/// as text), or `out` not writable. `out` is then as it was before.
pub fn encode_movie<E: std::fmt::Display>(
    out: &Path,
    settings: &EncoderSettings,
    frames: impl FnOnce(&mut dyn Write) -> Result<u64, E>,
) -> Result<u64, MovieEncodeError> {
    let tmp = temporary_name(out);
    let io = |path: &Path, e: std::io::Error| MovieEncodeError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    }
    let crf = settings.crf.to_string();
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "yuv4mpegpipe", "-i", "pipe:0"])
        .args(["-c:v", "libx264", "-preset", &settings.preset, "-crf", &crf])
        .args([
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
        ])
        .arg(&tmp)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(MovieEncodeError::NoFfmpeg)?;
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let written = {
        let pipe = child.stdin.take().expect("piped");
        widen(&pipe);
        let mut stdin = std::io::BufWriter::with_capacity(1 << 20, pipe);
        let written = frames(&mut stdin);
        let _ = stdin.flush();
        written
    };
    let status = child.wait().map_err(MovieEncodeError::NoFfmpeg)?;
    let stderr = errors.join().unwrap_or_default();
    let fail = |e: MovieEncodeError| {
        let _ = std::fs::remove_file(&tmp);
        Err(e)
    };
    let count = match written {
        Ok(n) => n,
        Err(e) => return fail(MovieEncodeError::Frames(e.to_string())),
    };
    if !status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        let stderr = tail.into_iter().rev().collect::<Vec<_>>().join(" | ");
        return fail(MovieEncodeError::Ffmpeg {
            status: status.to_string(),
            stderr,
        });
    }
    std::fs::rename(&tmp, out).map_err(|e| io(out, e))?;
    Ok(count)
}

/// Raw frames are megabytes each: a 1 MiB pipe (Linux's default `pipe-max-size`;
/// fcntl(2) `F_SETPIPE_SZ`) instead of 64 KiB moves them in a sixteenth of the
/// system calls. Where that is refused, the pipe stays as it was.
#[cfg(target_os = "linux")]
fn widen(pipe: &std::process::ChildStdin) {
    if let Err(e) = rustix::pipe::fcntl_setpipe_size(pipe, 1 << 20) {
        tracing::debug!(error = %e, "the pipe to ffmpeg keeps its size");
    }
}

#[cfg(not(target_os = "linux"))]
fn widen(_: &std::process::ChildStdin) {}
