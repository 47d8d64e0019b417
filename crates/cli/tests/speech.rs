//! `vidpipe process` on a narrated talk: transcript, captions, tags, description,
//! promo plan, and the report's transcript and caption track.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::platforms::*;
use common::*;
use vidpipe_domain::transcript::Transcript;

fn narrated_talk(dir: &Path) -> std::path::PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-sample.sh");
    let video = dir.join("talk.mp4");
    let ok = Command::new("bash")
        .arg(&script)
        .arg(&video)
        .args(["20", "640x360"])
        .status()
        .unwrap()
        .success();
    assert!(ok, "make-sample.sh");
    video
}

/// (start, end, lines) of each SRT cue.
fn srt_cues(text: &str) -> Vec<(f64, f64, Vec<String>)> {
    let secs = |t: &str| {
        let (hms, ms) = t.trim().split_once(',').unwrap();
        let p: Vec<f64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
        p[0] * 3600.0 + p[1] * 60.0 + p[2] + ms.parse::<f64>().unwrap() / 1000.0
    };
    text.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let lines: Vec<&str> = block.lines().collect();
            let (a, b) = lines[1].split_once(" --> ").unwrap();
            (
                secs(a),
                secs(b),
                lines[2..].iter().map(|l| l.to_string()).collect(),
            )
        })
        .collect()
}

#[test]
fn a_narrated_talk_gets_transcript_captions_tags_and_a_promo_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let video = narrated_talk(tmp.path());
    let out = tmp.path().join("out");
    let o = process(&out, &video, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.contains(" words — transcript"), "{stdout}");
    let record = record_of(&out, "talk.mp4");
    let dir = out.join(record["id"].as_str().unwrap());
    let folder = dir.join("transcripts");

    let json = fs::read(folder.join("transcript.json")).unwrap();
    let transcript = Transcript::from_transcribe_json("transcript.json", &json)
        .expect("Amazon Transcribe's shape");
    let doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(doc["status"], "COMPLETED");
    assert!(doc["results"]["items"][0]["alternatives"][0]["content"].is_string());
    let words = transcript.words().count();
    assert!(words >= 25, "{}", transcript.text());
    let txt = fs::read_to_string(folder.join("transcript.txt")).unwrap();
    assert!(
        txt.to_lowercase().contains("metrics") && txt.to_lowercase().contains("questions"),
        "{txt}"
    );

    let cues = srt_cues(&fs::read_to_string(folder.join("captions.srt")).unwrap());
    assert!(cues.len() >= 3, "{cues:?}");
    let mut previous_end = 0.0;
    for (start, end, lines) in &cues {
        assert!(
            *start >= previous_end - 1e-9
                && end > start
                && *end <= 20.0
                && end - start <= 7.0 + 1e-9,
            "{cues:?}"
        );
        assert!(
            (1..=2).contains(&lines.len()) && lines.iter().all(|l| l.chars().count() <= 42),
            "{lines:?}"
        );
        previous_end = *end;
    }
    let vtt = fs::read_to_string(folder.join("captions.vtt")).unwrap();
    assert!(vtt.starts_with("WEBVTT\n\n") && vtt.contains(" --> "));

    assert_eq!(record["stages"]["transcribe-store"]["status"], "done");
    assert_eq!(record["speech"]["word_count"].as_u64(), Some(words as u64));
    let hashtags: Vec<&str> = record["hashtags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(
        &hashtags[..2],
        ["#Metrics", "#Analytics"],
        "the sidecar's tags come first"
    );
    assert!(
        hashtags.len() > 2,
        "and then the transcript's keywords: {hashtags:?}"
    );
    let description = record["description"].as_str().unwrap();
    assert!(
        description.contains("Speakers: Ada Lovelace and Grace Hopper"),
        "{description}"
    );
    let promo = &record["speech"]["promo"]["segments"];
    let total: f64 = promo
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["end_s"].as_f64().unwrap() - s["start_s"].as_f64().unwrap())
        .sum();
    assert!(total > 0.0 && total <= 30.0);
    // The promo clip: the segments joined, at the largest rendition's size.
    let clip = ffprobe(&dir.join("promo.mp4"));
    let v = video_stream(&clip).unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert!(has_audio(&clip));
    let segments = promo.as_array().unwrap().len() as f64;
    assert!(
        (duration_s(&clip) - total).abs() <= 0.1 * segments,
        "promo {} s, plan {total} s",
        duration_s(&clip)
    );
    assert!(stdout.contains("promo.mp4"), "{stdout}");

    let report = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        report.contains("<track kind=\"captions\" src=\"data:text/vtt;base64,"),
        "captions on the player"
    );
    assert!(report.contains("data-t=") && report.contains("Transcript"));
    assert!(report.contains("promo.mp4"));
}

#[test]
fn no_transcribe_skips_speech_and_a_missing_model_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let video = make_media(
        tmp.path(),
        "clip",
        Media {
            seconds: 3.0,
            size: Some("320x240"),
            ..Media::default()
        },
    );
    let skipped = process(&out, &video, &["--no-transcribe"]);
    assert!(skipped.status.success(), "{}", text(&skipped.stderr));
    let record = record_of(&out, "clip.mp4");
    assert_eq!(
        record["stages"]["transcribe-start"]["detail"],
        "no transcriber configured"
    );
    assert!(!out
        .join(record["id"].as_str().unwrap())
        .join("transcripts")
        .exists());

    let nowhere = tmp.path().join("no-model-here");
    let missing = process(
        &out,
        &video,
        &["--force", "--model-dir", nowhere.to_str().unwrap()],
    );
    assert_eq!(missing.status.code(), Some(1));
    let lines = error_lines(&missing);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(nowhere.to_str().unwrap()) && lines[0].contains("make setup"),
        "{}",
        lines[0]
    );
}

#[test]
fn a_destination_asking_for_the_vertical_cut_gets_a_9_16_promo_and_each_platform_the_captions() {
    let tmp = tempfile::tempdir().unwrap();
    let video = narrated_talk(tmp.path());
    let sidecar = video.with_extension("json");
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&sidecar).unwrap()).unwrap();
    doc["publish"] = serde_json::json!([{"to": "youtube", "vertical": true},
        {"to": "vimeo"}, {"to": "facebook"}]);
    fs::write(&sidecar, doc.to_string()).unwrap();
    let out = tmp.path().join("out");
    let stand_ins = Platforms::start(&tmp.path().join("tus"));
    let creds = credentials(tmp.path(), true);
    let o = run(
        &out,
        &stand_ins,
        &creds,
        NOW,
        None,
        &["process", video.to_str().unwrap()],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let record = record_of(&out, "talk.mp4");
    let dir = out.join(record["id"].as_str().unwrap());
    let clip = ffprobe(&dir.join("promo.mp4"));
    let vertical = ffprobe(&dir.join("promo-vertical.mp4"));
    let v = video_stream(&vertical).unwrap();
    // A 640×360 picture: the full-height 9:16 window, 202×360, never scaled up.
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(202), Some(358))
    );
    assert!(has_audio(&vertical));
    assert!((duration_s(&vertical) - duration_s(&clip)).abs() <= 0.1);
    // Both are recorded as the promo's outputs.
    let promo = record["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "promo")
        .map(|o| o["name"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>();
    assert_eq!(promo, ["", "vertical"]);
    // YouTube gets the talk and, as a second video, the vertical cut; the talk with
    // its cover and captions, the cut with neither (they are the talk's).
    let s = stand_ins.state();
    let videos = s["youtube"]["videos"].as_array().unwrap();
    assert_eq!(videos.len(), 2, "{videos:?}");
    let (_, cut) = sha256_of(&dir.join("promo-vertical.mp4"));
    assert_eq!(videos[1]["sha256"].as_str(), Some(cut.as_str()));
    assert!(videos[1]["meta"]["snippet"]["title"]
        .as_str()
        .unwrap()
        .ends_with("(short)"));
    let extras = |platform: &str| -> Vec<(String, serde_json::Value)> {
        s[platform]["extras"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["extra"].as_str().unwrap().to_string(), e.clone()))
            .collect()
    };
    let yt = extras("youtube");
    assert_eq!(
        yt.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["thumbnail", "captions"]
    );
    assert_eq!(yt[1].1["has_vtt"], true, "WebVTT captions");
    let vimeo = extras("vimeo");
    assert_eq!(
        vimeo.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["thumbnail", "captions"]
    );
    let fb = extras("facebook");
    assert_eq!(fb.len(), 1);
    assert_eq!(fb[0].1["srt_name"], true, "SubRip named by its locale");
    assert!(fb[0].1["bytes"].as_u64().unwrap() > 100);
}
