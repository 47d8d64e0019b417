//! `vidpipe serve` in a real browser: `tests/browser/serve.mjs` (playwright-core
//! driving Debian's Chromium) against a server on a narrated talk, with the Whisper
//! model; the video page plays the HLS ladder as vidpipe lays it out through hls.js.
//! Needs `make browser-packages` (Chromium, and playwright-core from npm).
//! Screenshots of the library and the video page are left in `tests/artefacts/`.

mod common;

use std::path::Path;
use std::process::Command;

use common::server::Server;
use common::*;
use serde_json::Value;

#[test]
fn a_talk_uploaded_in_the_browser_is_published_found_played_and_edited() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("tests/browser/serve.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `make browser-packages`"
    );
    let tmp = tempfile::tempdir().unwrap();
    let video = tmp.path().join("browser-talk.mp4");
    let made = Command::new("bash")
        .arg(root.join("scripts/make-sample.sh"))
        .arg(&video)
        .args(["20", "640x360"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let out = tmp.path().join("out");
    let server = Server::start(&out, &[]);
    let artefacts = root.join("tests/artefacts");
    let o = Command::new("node")
        .arg(&script)
        .arg(&server.url)
        .arg(&video)
        .arg(&artefacts)
        .output()
        .expect("node runs");
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let result: Value = serde_json::from_str(text(&o.stdout).lines().last().unwrap()).unwrap();
    let (word, landed, played) = (
        result["word_s"].as_f64().unwrap(),
        result["landed_s"].as_f64().unwrap(),
        result["played_s"].as_f64().unwrap(),
    );
    assert!((landed - word).abs() <= 1.0, "{result}");
    assert!(played > landed, "{result}");
    // hls.js played the ladder as laid out: fMP4 fragments by byte range, the sound
    // as its own rendition, both decoded.
    let hls = &result["hls"];
    assert_eq!(hls["audio_tracks"], 1, "{result}");
    assert_eq!(hls["byte_ranges"], hls["fragments"], "{result}");
    assert_eq!(hls["media"], "video_360p.mp4", "{result}");
    assert!(hls["audio_bytes"].as_u64() > Some(0), "{result}");
    // The edit reached the record: `vidpipe show` has the new title.
    let id = result["id"].as_str().unwrap();
    let shown = vidpipe(&out, &["show", id]);
    assert!(
        text(&shown.stdout).contains(result["title"].as_str().unwrap()),
        "{}",
        text(&shown.stdout)
    );
    for shot in ["library.png", "video.png"] {
        let size = std::fs::metadata(artefacts.join(shot))
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(size > 10_000, "{shot}: {size} bytes");
    }
}
