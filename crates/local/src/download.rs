//! Links: a page yt-dlp can read (YouTube and the many sites its extractors know, a
//! plain video file, an HLS playlist, a web page with a `<video>` element) downloaded
//! into a folder, with the page's English subtitles when it has some.
//!
//! yt-dlp is run as a program, as ffmpeg is (`pip install yt-dlp`, done by `make
//! setup`). Its options used here are documented in its README ("Usage and Options"):
//! `--print after_move:…` prints the final file's path once it is written,
//! `--max-filesize` skips a larger file (telling so only without `--quiet`, which
//! `--print` implies: hence `--no-quiet`), `--progress-template` gives machine-readable
//! progress lines.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

/// What a link gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Downloaded {
    /// The video (or audio) file.
    pub video: PathBuf,
    /// The page's title, when it has one.
    pub title: Option<String>,
    /// English subtitles (WebVTT) the page offered, if any.
    pub subtitles: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("yt-dlp is not installed: run `make setup` (or `pip install yt-dlp`)")]
    MissingTool,
    #[error("{url}: no video found at this link ({reason})")]
    NoVideo { url: String, reason: String },
    #[error("{url}: the video is larger than the limit of {limit_bytes} bytes")]
    TooLarge { url: String, limit_bytes: u64 },
    #[error("{url}: the download failed: {reason}")]
    Failed { url: String, reason: String },
}

/// Bytes done and, when known, in all.
pub type DownloadProgress<'a> = &'a (dyn Fn(u64, Option<u64>) + Sync);

/// The JSON `--print` writes after the move.
#[derive(Deserialize)]
struct Printed {
    filepath: String,
    title: Option<String>,
}

/// Downloads `url` into `dir` (created), at most `max_bytes`, reporting progress.
///
/// # Errors
/// [`DownloadError::MissingTool`] without yt-dlp; [`DownloadError::NoVideo`] for a page
/// with no video (yt-dlp's "Unsupported URL", "No video formats found");
/// [`DownloadError::TooLarge`] above `max_bytes` (nothing is kept);
/// [`DownloadError::Failed`] for anything else (the server's answer, the network).
pub fn download(
    url: &str,
    dir: &Path,
    max_bytes: u64,
    progress: DownloadProgress<'_>,
) -> Result<Downloaded, DownloadError> {
    let failed = |reason: String| DownloadError::Failed {
        url: url.to_string(),
        reason,
    };
    std::fs::create_dir_all(dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
    let mut child = Command::new("yt-dlp")
        .args(["--ignore-config", "--no-playlist", "--newline", "--progress", "--no-quiet"])
        .args(["--no-colors", "--no-mtime", "--restrict-filenames"])
        .args(["--max-filesize", &max_bytes.to_string()])
        .args(["--write-subs", "--sub-langs", "en.*,en", "--sub-format", "vtt"])
        .arg("-P")
        .arg(dir)
        .args(["-o", "%(id).60B.%(ext)s"])
        .args(["--print", "after_move:%(.{filepath,title})j"])
        .args(["--progress-template", "download:vidpipe-progress %(progress.downloaded_bytes)s %(progress.total_bytes)s %(progress.total_bytes_estimate)s"])
        .arg("--")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DownloadError::MissingTool,
            _ => failed(format!("cannot run yt-dlp: {e}")),
        })?;
    let stderr = child.stderr.take();
    let errors = std::thread::spawn(move || {
        let mut lines = Vec::new();
        if let Some(s) = stderr {
            lines.extend(BufReader::new(s).lines().map_while(Result::ok));
        }
        lines
    });
    let mut printed = None;
    let mut skipped_large = false;
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("vidpipe-progress ") {
                let mut n = rest.split(' ').map(|v| v.parse::<f64>().ok());
                let done = n.next().flatten();
                let total = n.next().flatten().or(n.next().flatten());
                if let Some(done) = done {
                    progress(done as u64, total.map(|t| t as u64));
                }
            } else if line.contains("larger than max-filesize") {
                skipped_large = true;
            } else if let Ok(p) = serde_json::from_str::<Printed>(&line) {
                printed = Some(p);
            }
        }
    }
    let status = child.wait().map_err(|e| failed(e.to_string()))?;
    let errors = errors.join().unwrap_or_default();
    let error = errors
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("ERROR: "))
        .map(str::to_string);
    skipped_large |= errors
        .iter()
        .any(|l| l.contains("larger than max-filesize"));
    if let Some(reason) = error {
        let no_video = [
            "Unsupported URL",
            "No video formats",
            "no video",
            "No media",
        ]
        .iter()
        .any(|m| reason.contains(m));
        return Err(if no_video {
            DownloadError::NoVideo {
                url: url.into(),
                reason,
            }
        } else {
            failed(reason)
        });
    }
    let too_large = || DownloadError::TooLarge {
        url: url.into(),
        limit_bytes: max_bytes,
    };
    let printed = match (printed, status.success()) {
        (Some(p), true) => p,
        _ if skipped_large => return Err(too_large()),
        (_, ok) => {
            return Err(failed(format!(
                "yt-dlp {} without a file",
                if ok { "ended" } else { "failed" }
            )))
        }
    };
    let video = PathBuf::from(&printed.filepath);
    let size = std::fs::metadata(&video)
        .map_err(|e| failed(format!("{}: {e}", video.display())))?
        .len();
    // Streams (HLS) have no size until they are whole: the limit is checked again.
    if size > max_bytes {
        let _ = std::fs::remove_file(&video);
        return Err(too_large());
    }
    Ok(Downloaded {
        subtitles: english_subtitles(dir, &video),
        video,
        title: printed.title.filter(|t| !t.trim().is_empty()),
    })
}

/// `<stem>.en*.vtt` beside the video, as `--write-subs` names it.
fn english_subtitles(dir: &Path, video: &Path) -> Option<PathBuf> {
    let stem = video.file_stem()?.to_str()?;
    let prefix = format!("{stem}.en");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with(&prefix) && name.ends_with(".vtt")
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Whether `text` is a link to download rather than a file's path: `http://` or
/// `https://`.
pub fn is_link(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_http_and_https_only() {
        assert!(is_link("https://www.youtube.com/watch?v=x"));
        assert!(is_link("HTTP://example.org/a.mp4"));
        assert!(!is_link("talks/a.mp4"));
        assert!(!is_link("file:///etc/passwd"));
        assert!(!is_link("ftp://host/a.mp4"));
    }

    #[test]
    fn subtitles_are_found_by_the_videos_stem() {
        let dir = tempfile::tempdir().unwrap();
        let video = dir.path().join("page.mp4");
        for name in ["page.mp4", "page.en.vtt", "other.en.vtt", "page.de.vtt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        assert_eq!(
            english_subtitles(dir.path(), &video),
            Some(dir.path().join("page.en.vtt"))
        );
        std::fs::remove_file(dir.path().join("page.en.vtt")).unwrap();
        assert_eq!(english_subtitles(dir.path(), &video), None);
    }
}
