//! Helpers for the end-to-end tests: make media with ffmpeg's test sources, run the
//! `vidpipe` binary, and measure what it wrote with ffprobe and ffmpeg.
#![allow(dead_code)]

pub mod platforms;
pub mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// What test media to make.
pub struct Media<'a> {
    pub seconds: f64,
    pub size: Option<&'a str>,
    pub audio: bool,
    pub container: &'a str,
}

impl Default for Media<'_> {
    fn default() -> Self {
        Media {
            seconds: 12.0,
            size: Some("1280x720"),
            audio: true,
            container: "mp4",
        }
    }
}

/// Makes `dir/name.<container>` from testsrc2 (video) and a 440 Hz sine (audio).
pub fn make_media(dir: &Path, name: &str, m: Media<'_>) -> PathBuf {
    let path = dir.join(format!("{name}.{}", m.container));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-y"]);
    if let Some(size) = m.size {
        cmd.args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size={size}:rate=25"),
        ]);
    }
    if m.audio {
        cmd.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
    }
    cmd.args(["-t", &m.seconds.to_string()]);
    if m.size.is_some() {
        cmd.args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ]);
    }
    if m.audio && m.container != "wav" {
        cmd.args(["-c:a", "aac"]);
    }
    cmd.arg(&path);
    let status = cmd.status().expect("ffmpeg runs");
    assert!(status.success(), "making {name}");
    path
}

pub fn vidpipe(out: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vidpipe"))
        .arg("--out")
        .arg(out)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("vidpipe runs")
}

pub fn process(out: &Path, video: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["process", video.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    vidpipe(out, &args)
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every record, as `vidpipe list --json` prints them.
pub fn records(out: &Path) -> Vec<Value> {
    let o = vidpipe(out, &["list", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("list --json is JSON")
}

pub fn record_of(out: &Path, source_name: &str) -> Value {
    records(out)
        .into_iter()
        .find(|r| {
            r["source"]
                .as_str()
                .is_some_and(|s| s.ends_with(source_name))
        })
        .unwrap_or_else(|| panic!("no record for {source_name}"))
}

pub fn ffprobe(path: &Path) -> Value {
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            "-count_frames",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        o.status.success(),
        "ffprobe {}: {}",
        path.display(),
        text(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("ffprobe JSON")
}

pub fn duration_s(probe: &Value) -> f64 {
    probe["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("duration")
}

pub fn video_stream(probe: &Value) -> Option<&Value> {
    probe["streams"]
        .as_array()?
        .iter()
        .find(|s| s["codec_type"] == "video")
}

pub fn has_audio(probe: &Value) -> bool {
    probe["streams"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s["codec_type"] == "audio"))
}

/// Mean luma (0–255) of the frame at `at_s` seconds.
pub fn mean_luma_at(path: &Path, at_s: f64) -> f64 {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error"]);
    if at_s > 0.0 {
        cmd.args(["-ss", &at_s.to_string()]);
    }
    let o = cmd
        .arg("-i")
        .arg(path)
        .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        !o.stdout.is_empty(),
        "no frame at {at_s} s in {}",
        path.display()
    );
    o.stdout.iter().map(|&b| b as f64).sum::<f64>() / o.stdout.len() as f64
}

/// RMS of the audio (mono, 16-bit scale) from `start_s` for `length_s`.
pub fn audio_rms(path: &Path, start_s: f64, length_s: f64) -> f64 {
    let o = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-ss",
            &start_s.to_string(),
            "-t",
            &length_s.to_string(),
            "-i",
        ])
        .arg(path)
        .args(["-vn", "-ac", "1", "-ar", "48000", "-f", "s16le", "-"])
        .output()
        .expect("ffmpeg runs");
    let samples: Vec<f64> = o
        .stdout
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]) as f64)
        .collect();
    assert!(
        !samples.is_empty(),
        "no audio at {start_s} s in {}",
        path.display()
    );
    (samples.iter().map(|s| s * s).sum::<f64>() / samples.len() as f64).sqrt()
}

/// The lines of stderr that start with `error:`.
pub fn error_lines(o: &Output) -> Vec<String> {
    text(&o.stderr)
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(str::to_string)
        .collect()
}

/// A free TCP port on the loopback interface (nothing listens on it once returned).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A real SMTP server (aiosmtpd, `tests/smtp_sink.py`) for one test: each message it
/// accepts is a file in `dir`; it refuses recipients at `refused.example`. Killed on
/// drop.
pub struct SmtpSink {
    child: std::process::Child,
    pub port: u16,
    pub dir: PathBuf,
}

impl SmtpSink {
    pub fn start(dir: &Path, port: u16) -> SmtpSink {
        use std::io::BufRead;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir)
            .arg(port.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs (make python-packages installs aiosmtpd)");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the sink starts");
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP sink did not start (is aiosmtpd installed?)"
        );
        SmtpSink {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The recipients of the messages received so far, one per message, in order.
    pub fn recipients(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .filter_map(|n| {
                n.strip_suffix(".eml")?
                    .split_once('-')
                    .map(|(_, to)| to.to_string())
            })
            .collect()
    }

    /// The message received for `to` (the first, if several).
    pub fn message_to(&self, to: &str) -> String {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .expect("sink folder")
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.to_string_lossy().ends_with(&format!("-{to}.eml")))
            .collect();
        names.sort();
        std::fs::read_to_string(names.first().expect("a message")).expect("message text")
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
