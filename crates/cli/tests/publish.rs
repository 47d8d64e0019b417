//! Publishing to YouTube, Vimeo and a Facebook Page from `vidpipe process` and
//! `vidpipe publish`, end to end: real ffmpeg makes the video, and the uploads go to
//! stand-ins of the three platforms (`tests/tus/platforms.mjs`: Vimeo's uploads on a
//! real tus server, @tus/server from npm) that keep every byte they take, with
//! failures injected in the platforms' documented shapes. A real SMTP server takes
//! the speakers' emails.

mod common;

use std::path::{Path, PathBuf};

use common::platforms::*;
use common::*;
use serde_json::{json, Value};

/// A talk of 6 s (7 s for names starting with `week2`: another file) with a sidecar
/// naming `publish`: the video's path.
fn talk(dir: &Path, name: &str, publish: Value) -> PathBuf {
    let video = make_media(
        dir,
        name,
        Media {
            seconds: if name.starts_with("week2") { 7.0 } else { 6.0 },
            size: Some("640x360"),
            ..Media::default()
        },
    );
    let sidecar = json!({"title": format!("Right metrics {name}"),
        "speakers": [{"name": "Ada Lovelace", "email": "ada@example.org"}],
        "publish": publish});
    std::fs::write(video.with_extension("json"), sidecar.to_string()).unwrap();
    video
}

/// The top rendition's MP4 of the only (or the named) video: what the platforms get.
fn uploaded_file(out: &Path, record: &Value) -> PathBuf {
    let key = record["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "rendition")
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let file = key.rsplit('/').next().unwrap();
    out.join(record["id"].as_str().unwrap()).join(file)
}

#[test]
fn three_platforms_get_the_video_once_and_then_the_speaker_gets_the_links() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let platforms = Platforms::start(&dir.path().join("tus"));
    let smtp = SmtpSink::start(&dir.path().join("mail"), free_port());
    let creds = credentials(dir.path(), true);
    let video = talk(
        dir.path(),
        "talk",
        json!([{"to": "youtube", "privacy": "unlisted", "playlist": "PL1"},
               {"to": "vimeo"}, {"to": "facebook", "privacy": "public"}]),
    );
    let path = video.to_str().unwrap();
    let o = run(
        &out,
        &platforms,
        &creds,
        NOW,
        Some(&smtp),
        &["process", path, "--no-transcribe"],
    );
    let stdout = text(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", text(&o.stderr));
    let record = record_of(&out, "talk.mp4");
    assert_eq!(record["status"], "published");
    let (size, digest) = sha256_of(&uploaded_file(&out, &record));
    assert!(size > 262_144, "several chunks: {size} bytes");
    let s = platforms.state();
    // YouTube: one session, every byte once, the file as it is; thumbnail, playlist.
    assert_eq!(s["youtube"]["starts"], 1);
    assert_eq!(s["youtube"]["accepted"], size, "every byte exactly once");
    let yt = &s["youtube"]["videos"][0];
    assert_eq!(
        (yt["bytes"].as_u64(), yt["sha256"].as_str()),
        (Some(size), Some(digest.as_str()))
    );
    assert_eq!(yt["meta"]["status"]["privacyStatus"], "unlisted");
    assert_eq!(yt["meta"]["snippet"]["title"], "Right metrics talk");
    assert!(yt["meta"]["snippet"]["description"]
        .as_str()
        .unwrap()
        .contains("Ada Lovelace"));
    let extras: Vec<&str> = s["youtube"]["extras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["extra"].as_str().unwrap())
        .collect();
    assert_eq!(extras, ["thumbnail", "playlist"]);
    assert_eq!(s["youtube"]["extras"][0]["type"], "image/jpeg");
    // Vimeo: through the real tus server, byte for byte; the cover as its picture.
    let uploads = s["vimeo"]["uploads"].as_object().unwrap();
    assert_eq!(uploads.len(), 1);
    let (_, tus_file) = uploads.iter().next().unwrap();
    assert_eq!(
        (tus_file["bytes"].as_u64(), tus_file["sha256"].as_str()),
        (Some(size), Some(digest.as_str()))
    );
    assert_eq!(s["vimeo"]["extras"][0]["extra"], "thumbnail");
    // Facebook: chunked, each byte once; published on the Page once ready.
    assert_eq!(s["facebook"]["accepted"], size);
    let fb = &s["facebook"]["videos"][0];
    assert_eq!(fb["sha256"].as_str(), Some(digest.as_str()));
    assert_eq!(fb["published"], "true");
    // The record, `show`, the report and the speaker's email name the links.
    let yt_url = format!(
        "https://www.youtube.com/watch?v={}",
        yt["id"].as_str().unwrap()
    );
    let fb_url = format!(
        "https://www.facebook.com/100064123/videos/{}/",
        fb["id"].as_str().unwrap()
    );
    let links: Vec<&str> = record["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(links[0], yt_url);
    assert!(links[1].starts_with("https://vimeo.com/"), "{links:?}");
    assert_eq!(links[2], fb_url);
    assert!(stdout.contains(&format!("done {yt_url}")), "{stdout}");
    let id = record["id"].as_str().unwrap();
    let show = text(&vidpipe(&out, &["show", id]).stdout);
    assert!(
        show.contains(&format!("facebook             done {fb_url}")),
        "{show}"
    );
    let report = std::fs::read_to_string(out.join(id).join("report.html")).unwrap();
    assert!(
        report.contains(&format!("href=\"{yt_url}\"")),
        "the report links to YouTube"
    );
    let mail = smtp.message_to("ada@example.org");
    assert!(mail.contains(&yt_url) && mail.contains(&fb_url), "{mail}");
    // The same file again: nothing goes up twice, nobody is emailed twice.
    let again = run(
        &out,
        &platforms,
        &creds,
        NOW,
        Some(&smtp),
        &["process", path, "--no-transcribe"],
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    let s = platforms.state();
    assert_eq!(
        (
            s["youtube"]["starts"].as_u64(),
            s["vimeo"]["starts"].as_u64(),
            s["facebook"]["starts"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(smtp.recipients(), ["ada@example.org"]);
}

#[test]
fn a_spent_quota_and_a_rate_limit_wait_in_the_record_until_publish_due() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let platforms = Platforms::start(&dir.path().join("tus"));
    let smtp = SmtpSink::start(&dir.path().join("mail"), free_port());
    let creds = credentials(dir.path(), true);
    let video = talk(
        dir.path(),
        "quota",
        json!([{"to": "youtube"}, {"to": "vimeo"}, {"to": "facebook"}]),
    );
    platforms.fail(
        json!({"platform": "youtube", "step": "start", "status": 403,
        "body": fixture("youtube-quota-exceeded.json")}),
    );
    // Facebook limits the rate as the Page video is made: 7 minutes, its header says.
    let usage = json!({"100064123": [{"type": "pages", "call_count": 100, "total_cputime": 10,
        "total_time": 10, "estimated_time_to_regain_access": 7}]});
    platforms.fail(
        json!({"platform": "facebook", "step": "publish", "status": 400,
        "headers": {"X-Business-Use-Case-Usage": usage.to_string()},
        "body": fixture("facebook-rate-limited.json")}),
    );
    let path = video.to_str().unwrap();
    let o = run(
        &out,
        &platforms,
        &creds,
        NOW,
        Some(&smtp),
        &["process", path, "--no-transcribe"],
    );
    let stdout = text(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "not published yet: {stdout}");
    assert!(
        stdout.contains("youtube              deferred until 2026-12-03T08:00:00Z"),
        "{stdout}"
    );
    assert!(
        stdout.contains("facebook             deferred until 2026-12-03T02:37:00Z"),
        "{stdout}"
    );
    assert!(stdout.contains("vidpipe publish --due"), "{stdout}");
    assert!(
        smtp.recipients().is_empty(),
        "no email before the platforms' links exist"
    );
    let record = record_of(&out, "quota.mp4");
    assert_eq!(record["status"], "processing");
    let (size, digest) = sha256_of(&uploaded_file(&out, &record));
    // Before the wait is over, --due asks nothing of the platforms.
    let early = run(
        &out,
        &platforms,
        &creds,
        NOW + 60,
        Some(&smtp),
        &["publish", "--due"],
    );
    assert!(
        text(&early.stdout).contains("nothing due"),
        "{}",
        text(&early.stdout)
    );
    // Seven minutes on: Facebook makes the video from the bytes it has.
    let fb = run(
        &out,
        &platforms,
        &creds,
        NOW + 420,
        Some(&smtp),
        &["publish", "--due"],
    );
    assert_eq!(
        fb.status.code(),
        Some(1),
        "YouTube still waits: {}",
        text(&fb.stdout)
    );
    let s = platforms.state();
    assert_eq!(
        s["facebook"]["accepted"], size,
        "the bytes were not sent again"
    );
    assert_eq!(s["facebook"]["videos"].as_array().unwrap().len(), 1);
    assert_eq!(s["youtube"]["starts"], 0, "the quota has not come back");
    // Midnight Pacific: YouTube's quota is back. The connection drops in the first
    // chunk (half of it kept); 30 s on, the upload goes on from YouTube's offset. The
    // video is published, the speaker emailed.
    platforms.drop_next_chunk("youtube");
    let yt = run(
        &out,
        &platforms,
        &creds,
        PACIFIC_MIDNIGHT,
        Some(&smtp),
        &["publish", "--due"],
    );
    assert!(
        yt.status.success(),
        "{}\n{}",
        text(&yt.stdout),
        text(&yt.stderr)
    );
    let s = platforms.state();
    assert_eq!(
        (
            s["youtube"]["starts"].as_u64(),
            s["youtube"]["accepted"].as_u64()
        ),
        (Some(1), Some(size)),
        "one session, every byte once across the drop"
    );
    assert_eq!(
        s["youtube"]["videos"][0]["sha256"].as_str(),
        Some(digest.as_str())
    );
    assert_eq!(record_of(&out, "quota.mp4")["status"], "published");
    assert_eq!(smtp.recipients(), ["ada@example.org"]);
}

#[test]
fn missing_credentials_need_auth_and_vimeo_replace_sends_the_new_file_to_the_old_video() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let platforms = Platforms::start(&dir.path().join("tus"));
    let no_vimeo = credentials(dir.path(), false);
    let first = talk(dir.path(), "week1", json!([{"to": "vimeo"}]));
    let o = run(
        &out,
        &platforms,
        &no_vimeo,
        NOW,
        None,
        &["process", first.to_str().unwrap(), "--no-transcribe"],
    );
    let stdout = text(&o.stdout);
    assert!(
        o.status.success(),
        "settled, so published: {stdout}\n{}",
        text(&o.stderr)
    );
    assert!(
        stdout.contains("needs-auth: no vimeo credentials: run `vidpipe auth vimeo`"),
        "{stdout}"
    );
    assert_eq!(platforms.state()["vimeo"]["starts"], 0);
    // Credentials given: `publish ID --to vimeo` goes on.
    let creds = credentials(dir.path(), true);
    let week1 = record_of(&out, "week1.mp4");
    let id = week1["id"].as_str().unwrap();
    let o = run(
        &out,
        &platforms,
        &creds,
        NOW,
        None,
        &["publish", id, "--to", "vimeo"],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let week1 = record_of(&out, "week1.mp4");
    let link = week1["links"][0].as_str().unwrap().to_string();
    assert!(link.starts_with("https://vimeo.com/"), "{link}");
    let vimeo_id = link.rsplit('/').next().unwrap().to_string();
    // Next week's rendering replaces the file of the same Vimeo video.
    let second = talk(
        dir.path(),
        "week2",
        json!([{"to": "vimeo", "replace": format!("/videos/{vimeo_id}")}]),
    );
    let o = run(
        &out,
        &platforms,
        &creds,
        NOW,
        None,
        &["process", second.to_str().unwrap(), "--no-transcribe"],
    );
    assert!(
        o.status.success(),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let s = platforms.state();
    let versions = s["vimeo"]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["video"].as_str(), Some(vimeo_id.as_str()));
    let week2 = record_of(&out, "week2.mp4");
    let (size, digest) = sha256_of(&uploaded_file(&out, &week2));
    let upload = versions[0]["upload"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        s["vimeo"]["uploads"][&upload]["sha256"].as_str(),
        Some(digest.as_str())
    );
    assert_eq!(s["vimeo"]["uploads"][&upload]["bytes"].as_u64(), Some(size));
    assert_eq!(
        week2["links"][0].as_str(),
        Some(link.as_str()),
        "the same video's link"
    );
}

#[test]
fn a_bad_destinations_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let file = dir.path().join("destinations.json");
    std::fs::write(&file, r#"[{"to": "youtube"}, {"to": "myspace"}]"#).unwrap();
    let video = make_media(
        dir.path(),
        "clip",
        Media {
            seconds: 2.0,
            size: Some("320x180"),
            ..Media::default()
        },
    );
    let o = vidpipe(
        &out,
        &[
            "process",
            video.to_str().unwrap(),
            "--no-transcribe",
            "--destinations",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("destinations.json: publish[1]: unknown destination \"myspace\""),
        "{err}"
    );
    assert!(
        !out.join("vidpipe.db").exists() || records(&out).is_empty(),
        "nothing processed"
    );
}
