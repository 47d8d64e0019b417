//! The cloud prober on Matroska, WebM and AVI uploads in moto's S3, made by ffmpeg
//! and checked against ffprobe: size, frame rate, duration and audio read from the
//! headers (a transport stream's first and last megabyte) with a few ranged GETs,
//! never the whole file; a WebM without a duration and a transport stream of a video
//! codec whose size vidpipe does not read are refused with their reasons.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::Value;
use vidpipe_aws::probe::S3Prober;
use vidpipe_domain::ports::{MediaProber, ObjectReader};
use vidpipe_domain::PortError;

/// 20 s of a 640×360 test pattern at 29.97 fps and a 48 kHz tone, encoded by ffmpeg
/// with `codecs`: the file's bytes.
fn make(dir: &Path, name: &str, codecs: &[&str]) -> Vec<u8> {
    let path = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=640x360:rate=30000/1001")
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "20",
        ])
        .args(codecs)
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success(), "ffmpeg made {name}");
    std::fs::read(path).unwrap()
}

fn ffprobe(bytes: &[u8], dir: &Path) -> Value {
    let path = dir.join("probe.bin");
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(&path)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rate(text: &str) -> f64 {
    let (n, d) = text.split_once('/').unwrap();
    n.parse::<f64>().unwrap() / d.parse::<f64>().unwrap()
}

/// The ranged GETs moto served since the recording was last emptied: (count, bytes).
fn gets(w: &World) -> (usize, u64) {
    let text = std::fs::read_to_string(&w.moto.recording).unwrap();
    let mut bytes = 0;
    let mut count = 0;
    for line in text.lines() {
        let call: Value = serde_json::from_str(line).unwrap();
        if call["method"] != "GET" {
            continue;
        }
        let range = call["headers"]["Range"]
            .as_str()
            .or(call["headers"]["range"].as_str());
        let (a, b) = range
            .unwrap()
            .trim_start_matches("bytes=")
            .split_once('-')
            .unwrap();
        bytes += b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1;
        count += 1;
    }
    (count, bytes)
}

async fn probe(
    w: &World,
    key: &str,
    bytes: Vec<u8>,
) -> Result<vidpipe_domain::media::MediaInfo, PortError> {
    w.put(key, bytes).await;
    let head = w.function.store.head(key).await.unwrap().unwrap();
    std::fs::write(&w.moto.recording, "").unwrap();
    S3Prober {
        store: &w.function.store,
    }
    .probe(&head)
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matroska_webm_avi_and_transport_streams_are_read_with_a_few_ranged_gets() {
    let w = World::new(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let x264 = "-c:v libx264 -preset ultrafast -b:v 4M";
    let files = [
        ("talk.mkv", format!("{x264} -c:a aac")),
        (
            "talk.webm",
            "-c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 2M -c:a libopus".into(),
        ),
        ("talk.avi", "-c:v mpeg4 -b:v 4M -c:a libmp3lame".into()),
        ("talk.ts", format!("{x264} -c:a aac")),
        (
            "talk.m2ts",
            format!("{x264} -c:a ac3 -f mpegts -mpegts_m2ts_mode 1"),
        ),
    ];
    for (name, codecs) in files {
        let codecs: Vec<&str> = codecs.split_whitespace().collect();
        let bytes = make(dir.path(), name, &codecs);
        let expected = ffprobe(&bytes, dir.path());
        let size = bytes.len() as u64;
        let info = probe(&w, &format!("uploads/{name}"), bytes)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let streams = expected["streams"].as_array().unwrap();
        let v = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
        let a = streams.iter().find(|s| s["codec_type"] == "audio").unwrap();
        let video = info.video.as_ref().unwrap();
        assert_eq!((video.width_px, video.height_px), (640, 360), "{name}");
        let fps = rate(v["r_frame_rate"].as_str().unwrap());
        assert!(
            (video.fps - fps).abs() < 0.01,
            "{name}: {} against {fps}",
            video.fps
        );
        let duration: f64 = expected["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (info.duration_s - duration).abs() < 0.1,
            "{name}: {} against {duration}",
            info.duration_s
        );
        let audio = info.audio.as_ref().unwrap();
        assert_eq!(
            audio.channels.to_string(),
            a["channels"].to_string(),
            "{name}"
        );
        assert_eq!(
            audio.sample_rate_hz.to_string(),
            a["sample_rate"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(video.codec, v["codec_name"].as_str().unwrap(), "{name}");
        let (count, read) = gets(&w);
        println!("{name}: {size} bytes; {count} ranged GETs read {read} bytes");
        assert!(count <= 4, "{name}: {count} GETs");
        assert!(read * 4 < size, "{name}: read {read} of {size} bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webm_without_duration_and_an_unreadable_stream_are_refused_with_the_reason() {
    let w = World::new(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let live = make(
        dir.path(),
        "live.webm",
        &[
            "-t",
            "3",
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-c:a",
            "libopus",
            "-live",
            "1",
            "-f",
            "webm",
        ],
    );
    let err = probe(&w, "uploads/recorded.webm", live).await.unwrap_err();
    assert!(
        matches!(&err, PortError::Invalid(why) if why.contains("no duration")),
        "{err}"
    );
    // MPEG-4 Part 2 video in a transport stream: no parameter sets vidpipe reads.
    let ts = make(
        dir.path(),
        "t.ts",
        &["-t", "2", "-c:v", "mpeg4", "-f", "mpegts"],
    );
    let err = probe(&w, "uploads/capture.ts", ts).await.unwrap_err();
    assert!(
        matches!(&err, PortError::Invalid(why) if why.contains("gives no frame size")),
        "{err}"
    );
    let mut cut = make(
        dir.path(),
        "cut.mkv",
        &["-t", "2", "-c:v", "libx264", "-preset", "ultrafast"],
    );
    cut.truncate(200);
    let err = probe(&w, "uploads/cut.mkv", cut).await.unwrap_err();
    assert!(
        matches!(&err, PortError::Invalid(why) if why.starts_with("Matroska/WebM: ")),
        "{err}"
    );
}
