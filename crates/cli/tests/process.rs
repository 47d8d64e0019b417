//! `vidpipe process` on real media, checked with ffprobe and ffmpeg.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use serde_json::Value;

const FPS: f64 = 25.0;

fn folder(out: &Path, record: &Value) -> std::path::PathBuf {
    out.join(record["id"].as_str().expect("id"))
}

#[test]
fn a_talk_is_cut_faded_and_published_with_every_output() {
    let tmp = tempfile::tempdir().unwrap();
    let video = make_media(tmp.path(), "talk", Media::default());
    fs::write(tmp.path().join("talk.json"), r#"{"title":"Metrics: what to expect?","speakers":[{"name":"Ada","email":"ada@example.org"}],"start":"00:00:01","end":11}"#).unwrap();
    let out = tmp.path().join("out");

    let first = process(&out, &video, &[]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let record = record_of(&out, "talk.mp4");
    assert_eq!(record["status"], "published");
    let dir = folder(&out, &record);
    let clip_s = 10.0;

    // The ladder: a 720p source gives 720p and below, never 1080p; each rung is one
    // single-file fMP4 of its picture under hls/, the sound one more; the
    // progressive MP4 is the top rung's only.
    assert!(!dir.join("video_1080p.mp4").exists());
    assert!(!dir.join("video_480p.mp4").exists() && !dir.join("video_360p.mp4").exists());
    for (name, w, h) in [("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360)] {
        let path = dir.join(format!("hls/video_{name}.mp4"));
        let probe = ffprobe(&path);
        let v = video_stream(&probe).expect("video stream");
        assert_eq!(
            (v["width"].as_u64(), v["height"].as_u64()),
            (Some(w), Some(h)),
            "{name}"
        );
        assert_eq!(v["codec_name"], "h264");
        assert!(!has_audio(&probe), "{name} is picture only");
        let d = duration_s(&probe);
        assert!(
            (d - clip_s).abs() <= 2.0 / FPS,
            "{name} lasts {d} s, clip is {clip_s} s"
        );
        assert_byte_ranges_cover(&dir.join(format!("hls/video_{name}.m3u8")), &path);
    }
    let sound = ffprobe(&dir.join("hls/video_audio.mp4"));
    assert!(has_audio(&sound) && video_stream(&sound).is_none());
    assert!((duration_s(&sound) - clip_s).abs() < 0.1);
    assert_byte_ranges_cover(
        &dir.join("hls/video_audio.m3u8"),
        &dir.join("hls/video_audio.mp4"),
    );
    let r720 = dir.join("video_720p.mp4");
    let probe = ffprobe(&r720);
    assert!(has_audio(&probe), "the progressive MP4 has the sound");
    assert!((duration_s(&probe) - clip_s).abs() <= 2.0 / FPS);
    // faststart: the index (moov) comes before the media data (mdat).
    let bytes = fs::read(&r720).unwrap();
    let find = |tag: &[u8]| bytes.windows(4).position(|w| w == tag).unwrap();
    assert!(find(b"moov") < find(b"mdat"), "the MP4 is not faststart");
    assert!(mean_luma_at(&r720, 0.0) < 5.0, "first frame is black");
    assert!(mean_luma_at(&r720, 4.0) > 40.0, "frame at 4 s is not black");
    assert!(
        mean_luma_at(&r720, clip_s - 0.04) < 8.0,
        "last frame has faded to black"
    );
    let full = audio_rms(&r720, 5.0, 0.5);
    assert!(full > 1000.0, "audio plays in the middle ({full})");
    assert!(
        audio_rms(&r720, 0.0, 0.1) < full * 0.05,
        "first 100 ms are near silent"
    );

    let mp3 = ffprobe(&dir.join("audio.mp3"));
    assert!(
        (duration_s(&mp3) - clip_s).abs() < 0.1,
        "mp3 lasts {}",
        duration_s(&mp3)
    );
    let gif = ffprobe(&dir.join("preview.gif"));
    let g = video_stream(&gif).unwrap();
    assert_eq!(g["width"].as_u64(), Some(480));
    assert_eq!(g["nb_read_frames"].as_str(), Some("50"), "5 s at 10 fps");
    assert!(fs::metadata(dir.join("preview.gif")).unwrap().len() < 5 << 20);

    let master = fs::read_to_string(dir.join("hls/video.m3u8")).unwrap();
    assert_eq!(master.matches("#EXT-X-STREAM-INF").count(), 3, "{master}");
    assert_eq!(master.matches("AUDIO=\"aac\"").count(), 3, "{master}");
    assert!(
        master.contains("#EXT-X-MEDIA:TYPE=AUDIO,URI=\"video_audio.m3u8\",GROUP-ID=\"aac\""),
        "{master}"
    );
    assert!(
        master.contains("CODECS=\"avc1.") && master.contains(",mp4a.40.2\""),
        "{master}"
    );
    assert!(!dir
        .join("hls")
        .read_dir()
        .unwrap()
        .any(|e| { e.unwrap().file_name().to_string_lossy().ends_with(".ts") }));

    // The cover is a capture from outside the fades, and it is not dark.
    let manifest: Value =
        serde_json::from_slice(&fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let frames = manifest["frames"].as_array().unwrap();
    assert_eq!(frames.len(), 10);
    let cover_bytes = fs::read(dir.join("cover.jpg")).unwrap();
    let source = frames
        .iter()
        .find(|f| fs::read(dir.join(f["path"].as_str().unwrap())).unwrap() == cover_bytes)
        .expect("cover is a frame capture");
    let t = source["time_s"].as_f64().unwrap();
    assert!(
        (3.0..=7.0).contains(&t),
        "cover frame at {t} s is inside a fade"
    );
    assert!(mean_luma_at(&dir.join("cover.jpg"), 0.0) > 40.0);
    assert!(frames[0]["rejected"]
        .as_str()
        .unwrap()
        .contains("near black"));
    assert!(frames
        .iter()
        .all(|f| f["score"].is_number() && f["measures"]["laplacian_variance"].is_number()));

    // The manifest lists every output with its measures, and the plan.
    let outputs = manifest["outputs"].as_array().unwrap();
    for o in outputs.iter().filter(|o| o["kind"] == "rendition") {
        for field in [
            "path",
            "codec",
            "width_px",
            "height_px",
            "bitrate_bps",
            "duration_s",
            "bytes",
        ] {
            assert!(!o[field].is_null(), "rendition without {field}: {o}");
        }
        assert!(dir.join(o["path"].as_str().unwrap()).exists());
    }
    assert_eq!(manifest["plan"]["clip"]["start_s"].as_f64(), Some(1.0));
    assert_eq!(manifest["status"], "published");
    let report = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        report.contains("video_720p.mp4")
            && report.contains("preview.gif")
            && report.contains("cover.jpg")
    );
    assert!(report.contains("Metrics: what to expect?"));

    // The same file again: the same id and row, no transcode.
    let before = fs::metadata(&r720).unwrap().modified().unwrap();
    let second = process(&out, &video, &[]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        text(&second.stdout).contains("already processed"),
        "{}",
        text(&second.stdout)
    );
    assert_eq!(fs::metadata(&r720).unwrap().modified().unwrap(), before);
    let again = records(&out);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["id"], record["id"]);
    assert_eq!(again[0]["version"], record["version"]);

    // --force redoes it, as the plan's next generation: its files in `g1/`, and the
    // first plan's removed (locally nothing reads them once the new job starts).
    let forced = process(&out, &video, &["--force"]);
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    let redone = records(&out);
    assert_eq!(redone[0]["generation"], 1);
    let r720_again = dir.join("g1").join("video_720p.mp4");
    assert!(mean_luma_at(&r720_again, 4.0) > 40.0);
    assert!(!r720.exists(), "the first plan's rendition is removed");
    assert!(!dir.join("cover.jpg").exists() && dir.join("g1/cover.jpg").exists());
    let report = redone[0]["links"][0].as_str().unwrap();
    assert!(report.ends_with("g1/report.html"), "{report}");
}

#[test]
fn each_bad_input_gets_one_error_line_and_a_failed_row_and_others_are_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let good = make_media(
        tmp.path(),
        "good",
        Media {
            seconds: 4.0,
            size: Some("320x240"),
            ..Media::default()
        },
    );
    assert!(process(&out, &good, &[]).status.success());
    let good_record = record_of(&out, "good.mp4");
    let good_files: Vec<_> = fs::read_dir(folder(&out, &good_record))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();

    let not_media = tmp.path().join("notes.mp4");
    fs::write(&not_media, "this is a text file, not a video\n").unwrap();
    let empty = tmp.path().join("empty.mp4");
    fs::write(&empty, b"").unwrap();
    // A truncated upload whose index is at the end: no index at all.
    let whole = fs::read(make_media(
        tmp.path(),
        "whole",
        Media {
            seconds: 6.0,
            size: Some("320x240"),
            ..Media::default()
        },
    ))
    .unwrap();
    let truncated = tmp.path().join("truncated.mp4");
    fs::write(&truncated, &whole[..whole.len() / 2]).unwrap();
    // A truncated upload made with faststart: the index survives, the data does not.
    let fast = tmp.path().join("fast.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(tmp.path().join("whole.mp4"))
        .args(["-c", "copy", "-movflags", "+faststart"])
        .arg(&fast)
        .status()
        .unwrap();
    assert!(status.success());
    let fast_bytes = fs::read(&fast).unwrap();
    let truncated_fast = tmp.path().join("truncated_fast.mp4");
    fs::write(&truncated_fast, &fast_bytes[..fast_bytes.len() / 2]).unwrap();
    let bad_sidecar_video = make_media(
        tmp.path(),
        "badside",
        Media {
            seconds: 3.0,
            size: Some("320x240"),
            ..Media::default()
        },
    );
    fs::write(
        tmp.path().join("badside.json"),
        "{\"title\": \"unterminated",
    )
    .unwrap();
    let window = make_media(
        tmp.path(),
        "window",
        Media {
            seconds: 3.0,
            size: Some("160x120"),
            ..Media::default()
        },
    );

    let cases: Vec<(&Path, Vec<&str>, &str, &str)> = vec![
        (
            Path::new("/nonexistent/missing.mp4"),
            vec![],
            "missing.mp4",
            "no such object",
        ),
        (&not_media, vec![], "notes.mp4", "not a readable media file"),
        (&empty, vec![], "empty.mp4", "empty (0 bytes)"),
        (&truncated, vec![], "truncated.mp4", "moov atom not found"),
        (&truncated_fast, vec![], "truncated_fast.mp4", "truncated"),
        (&bad_sidecar_video, vec![], "badside", "invalid JSON"),
        (
            &window,
            vec!["--start", "2", "--end", "2"],
            "window.mp4",
            "is not before end",
        ),
    ];
    for (path, extra, name, reason) in cases {
        let o = process(&out, path, &extra);
        assert!(!o.status.success(), "{name} succeeded");
        let lines = error_lines(&o);
        assert_eq!(lines.len(), 1, "{name}: {lines:?}\n{}", text(&o.stderr));
        assert!(
            lines[0].contains(name) && lines[0].contains(reason),
            "{name}: {}",
            lines[0]
        );
        let file_name = path.file_name().unwrap().to_str().unwrap();
        let row = record_of(&out, file_name);
        assert_eq!(row["status"], "failed", "{name}");
        assert_eq!(row["failure"]["stage"], "ingest", "{name}");
        assert!(
            row["failure"]["reason"].as_str().unwrap().contains(reason),
            "{name}: {row}"
        );
    }

    // start ≥ end given as a bad --start value is a usage error, not a crash.
    let usage = process(&out, &window, &["--start", "ten"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(text(&usage.stderr).contains("bad time 'ten'"));

    // The good video is as it was.
    let now = record_of(&out, "good.mp4");
    assert_eq!(now["status"], "published");
    assert_eq!(now["version"], good_record["version"]);
    assert!(good_files.iter().all(|p| p.exists()));
}

#[test]
fn a_video_without_audio_and_an_audio_file_get_what_they_can() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let silent = make_media(
        tmp.path(),
        "silent",
        Media {
            seconds: 5.0,
            size: Some("640x360"),
            audio: false,
            ..Media::default()
        },
    );
    let o = process(&out, &silent, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let rec = record_of(&out, "silent.mp4");
    let dir = folder(&out, &rec);
    let probe = ffprobe(&dir.join("video_360p.mp4"));
    assert!(video_stream(&probe).is_some() && !has_audio(&probe));
    assert!(!dir.join("audio.mp3").exists());
    assert!(dir.join("preview.gif").exists() && dir.join("cover.jpg").exists());
    assert_eq!(rec["stages"]["transcribe-start"]["status"], "skipped");

    let podcast = make_media(
        tmp.path(),
        "podcast",
        Media {
            seconds: 5.0,
            size: None,
            audio: true,
            container: "wav",
        },
    );
    let o = process(&out, &podcast, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let rec = record_of(&out, "podcast.wav");
    let dir = folder(&out, &rec);
    let mp3 = ffprobe(&dir.join("audio.mp3"));
    assert!(has_audio(&mp3) && video_stream(&mp3).is_none());
    assert!((duration_s(&mp3) - 5.0).abs() < 0.1);
    assert!(
        !dir.join("preview.gif").exists()
            && !dir.join("cover.jpg").exists()
            && !dir.join("hls").exists()
    );
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".mp4")), "{names:?}");
    assert_eq!(rec["stages"]["cover"]["status"], "skipped");
    assert_eq!(rec["status"], "published");
}

#[test]
fn portrait_stays_portrait_and_a_window_past_the_end_is_clamped() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let portrait = make_media(
        tmp.path(),
        "phone",
        Media {
            seconds: 5.0,
            size: Some("360x640"),
            ..Media::default()
        },
    );
    let o = process(&out, &portrait, &["--start", "1", "--end", "60"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains("clamped"), "{stdout}");
    assert!(stdout.contains("fades shortened"), "{stdout}");
    let dir = folder(&out, &record_of(&out, "phone.mp4"));
    let probe = ffprobe(&dir.join("video_360p.mp4"));
    let v = video_stream(&probe).unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(360), Some(640))
    );
    assert!((duration_s(&probe) - 4.0).abs() <= 2.0 / FPS);
    let gif = ffprobe(&dir.join("preview.gif"));
    let g = video_stream(&gif).unwrap();
    assert!(g["height"].as_u64() > g["width"].as_u64());
}

/// A run killed during the transcode (`kill -9`: no chance to give its claim back)
/// leaves the stage running under its lease; the next `vidpipe process` sees that
/// the process holding it has ended and fails the video with that reason, and the
/// file processed again without `--force` finishes.
#[test]
fn a_run_killed_during_the_transcode_is_finished_by_the_next_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let video = make_media(
        dir.path(),
        "killed",
        Media {
            seconds: 40.0,
            ..Media::default()
        },
    );
    // The database made first, as by any earlier command, so that the run and the
    // polling below do not both create it.
    assert!(vidpipe(&out, &["list"]).status.success());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vidpipe"))
        .arg("--out")
        .arg(&out)
        .args(["process", video.to_str().unwrap(), "--no-transcribe"])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("killed.log")).unwrap())
        .spawn()
        .expect("vidpipe starts");
    let transcode = |out: &Path| -> Option<(String, Value)> {
        let list = vidpipe(out, &["list", "--json"]);
        let records: Vec<Value> = serde_json::from_slice(&list.stdout).ok()?;
        let stage = records.first()?["stages"]["transcode"].clone();
        Some((stage["status"].as_str()?.to_string(), stage))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let running = loop {
        match transcode(&out) {
            Some((status, stage)) if status == "running" => break stage,
            _ if std::time::Instant::now() > deadline => panic!(
                "the transcode never ran: {}",
                fs::read_to_string(dir.path().join("killed.log")).unwrap_or_default()
            ),
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    };
    let holder = format!("pid {} on ", child.id());
    assert!(
        running["lease"]["holder"]
            .as_str()
            .is_some_and(|h| h.starts_with(&holder)),
        "{running}"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(
        transcode(&out).unwrap().0,
        "running",
        "the claim outlives its run"
    );

    // Any command that processes finds it first: the killed run's video is failed
    // with the reason (the library shows it), and another file is processed as usual.
    let small = Media {
        seconds: 2.0,
        size: Some("320x240"),
        ..Media::default()
    };
    let other = make_media(dir.path(), "other", small);
    let done = process(&out, &other, &["--no-transcribe"]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let record = record_of(&out, "killed.mp4");
    assert_eq!(record["status"], "failed");
    let reason = record["failure"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&holder) && reason.contains("ended"),
        "{reason}"
    );

    let again = process(&out, &video, &["--no-transcribe"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    let record = record_of(&out, "killed.mp4");
    assert_eq!(record["status"], "published");
    assert_eq!(record["stages"]["transcode"]["status"], "done");
    assert!(record["stages"]["transcode"].get("lease").is_none());
}

/// The playlist addresses its one media file by byte range, from the start to the
/// end, without gap or overlap: `EXT-X-MAP` (the initialisation section) and each
/// segment's `EXT-X-BYTERANGE` (RFC 8216 §4.3.2.2, §4.3.2.5).
fn assert_byte_ranges_cover(playlist: &Path, media: &Path) {
    let text = fs::read_to_string(playlist).unwrap();
    let file = media.file_name().unwrap().to_string_lossy().into_owned();
    assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
    let map = text
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MAP:"))
        .unwrap_or_else(|| panic!("no EXT-X-MAP: {text}"));
    assert!(map.contains(&format!("URI=\"{file}\"")), "{map}");
    let range = |spec: &str| -> (u64, u64) {
        let (len, at) = spec.trim_matches('"').split_once('@').unwrap();
        (len.parse().unwrap(), at.parse().unwrap())
    };
    let mut ranges = vec![range(map.split("BYTERANGE=").nth(1).unwrap())];
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(spec) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            ranges.push(range(spec));
            assert_eq!(lines.next(), Some(file.as_str()), "{text}");
        }
    }
    assert!(ranges.len() > 2, "{text}");
    let mut end = 0;
    for (len, at) in ranges {
        assert_eq!(at, end, "{text}");
        end = at + len;
    }
    assert_eq!(end, fs::metadata(media).unwrap().len(), "{text}");
}
